"""sync runs record the host and process that run them

Revision ID: sync_run_runner
Revises: 0002
Create Date: 2026-11-28 10:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'sync_run_runner'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sync_runs') as batch:
        batch.add_column(sa.Column('runner_host', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('runner_pid', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('sync_runs') as batch:
        batch.drop_column('runner_pid')
        batch.drop_column('runner_host')
