"""job spans, job money, held removals, 404 backoff

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 10:05:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('truck_journeys') as batch:
        batch.add_column(sa.Column('span_start', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('span_end', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('actual_charges_cents', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('tips_cents', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('removal_pending_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('removal_reason', sa.String(length=200), nullable=True))
    with op.batch_alter_table('opportunity_sync_states') as batch:
        batch.add_column(sa.Column('not_found_count', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('next_check_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('sync_runs') as batch:
        batch.add_column(sa.Column('removals_held', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('malformed_records', sa.Integer(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('sync_runs') as batch:
        batch.drop_column('malformed_records')
        batch.drop_column('removals_held')
    with op.batch_alter_table('opportunity_sync_states') as batch:
        batch.drop_column('next_check_at')
        batch.drop_column('not_found_count')
    with op.batch_alter_table('truck_journeys') as batch:
        for name in ('removal_reason', 'removal_pending_at', 'tips_cents', 'actual_charges_cents',
                     'span_end', 'span_start'):
            batch.drop_column(name)
