"""token names and revocation, audit index by company and time

Revision ID: token_revocation
Revises: webhook_events
Create Date: 2026-11-28 10:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'token_revocation'
down_revision = 'webhook_events'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_tokens') as batch:
        batch.add_column(sa.Column('name', sa.String(length=80), nullable=False, server_default=''))
        batch.add_column(sa.Column('revoked_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('audit_events') as batch:
        batch.create_index('ix_audit_events_company_at', ['company_id', 'at'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_events') as batch:
        batch.drop_index('ix_audit_events_company_at')
    with op.batch_alter_table('api_tokens') as batch:
        batch.drop_column('revoked_at')
        batch.drop_column('name')
