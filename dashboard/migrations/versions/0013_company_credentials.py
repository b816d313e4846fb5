"""per-company SmartMoving credentials (encrypted), plan, client id and an active flag

Revision ID: company_credentials
Revises: upstream_changes
Create Date: 2026-12-05 21:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'company_credentials'
down_revision = 'upstream_changes'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN, not batch mode: on SQLite a batch rebuild of companies would
    # drop a table other rows point at (foreign keys are enforced).
    op.add_column('companies', sa.Column('api_key_encrypted', sa.Text(), nullable=True))
    op.add_column('companies', sa.Column('api_key_last4', sa.String(length=4), nullable=True))
    op.add_column('companies', sa.Column('key_set_at', sa.DateTime(), nullable=True))
    op.add_column('companies', sa.Column('smartmoving_client_id', sa.String(length=120), nullable=True))
    op.add_column('companies', sa.Column('smartmoving_plan', sa.String(length=16), nullable=True))
    op.add_column('companies', sa.Column('webhook_secret_encrypted', sa.Text(), nullable=True))
    op.add_column('companies', sa.Column('is_active', sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade():
    with op.batch_alter_table('companies') as batch:
        for column in ('is_active', 'webhook_secret_encrypted', 'smartmoving_plan', 'smartmoving_client_id',
                       'key_set_at', 'api_key_last4', 'api_key_encrypted'):
            batch.drop_column(column)
