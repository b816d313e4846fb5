"""changes SmartMoving made to jobs, and their acknowledgement

Revision ID: upstream_changes
Revises: plans_outbox
Create Date: 2026-12-05 20:55:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'upstream_changes'
down_revision = 'plans_outbox'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'upstream_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('company_id', sa.Integer(), nullable=False),
        sa.Column('journey_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('before', sa.String(length=300), nullable=False),
        sa.Column('after', sa.String(length=300), nullable=False),
        sa.Column('day_before', sa.Date(), nullable=True),
        sa.Column('day_after', sa.Date(), nullable=True),
        sa.Column('dispatched', sa.Boolean(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('source', sa.String(length=40), nullable=False),
        sa.Column('sync_run_id', sa.Integer(), nullable=True),
        sa.Column('webhook_event_id', sa.Integer(), nullable=True),
        sa.Column('acknowledged_by', sa.Integer(), nullable=True),
        sa.Column('acknowledged_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['company_id'], ['companies.id']),
        sa.ForeignKeyConstraint(['journey_id'], ['truck_journeys.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['sync_run_id'], ['sync_runs.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['webhook_event_id'], ['webhook_events.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['acknowledged_by'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_upstream_changes_company_ack', 'upstream_changes', ['company_id', 'acknowledged_at'])
    op.create_index('ix_upstream_changes_company_day_after', 'upstream_changes', ['company_id', 'day_after'])
    op.create_index('ix_upstream_changes_company_day_before', 'upstream_changes', ['company_id', 'day_before'])
    op.create_index('ix_upstream_changes_journey_id', 'upstream_changes', ['journey_id'])


def downgrade():
    op.drop_index('ix_upstream_changes_journey_id', table_name='upstream_changes')
    op.drop_index('ix_upstream_changes_company_day_before', table_name='upstream_changes')
    op.drop_index('ix_upstream_changes_company_day_after', table_name='upstream_changes')
    op.drop_index('ix_upstream_changes_company_ack', table_name='upstream_changes')
    op.drop_table('upstream_changes')
