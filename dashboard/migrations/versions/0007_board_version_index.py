"""board version: a covering index for the polled board's fingerprint

Revision ID: board_version
Revises: reports
Create Date: 2026-11-29 04:20:00
"""
from alembic import op

revision = 'board_version'
down_revision = 'reports'
branch_labels = None
depends_on = None

COLUMNS = ['company_id', 'scheduled_date', 'last_sync_at', 'dispatch_updated_at']


def upgrade():
    # Every open board polls the day's count and newest sync/edit times: read from this
    # index alone, a poll never touches the wide job rows (whose raw JSON spills over pages).
    op.create_index('ix_journey_version', 'truck_journeys', COLUMNS)


def downgrade():
    op.drop_index('ix_journey_version', table_name='truck_journeys')
