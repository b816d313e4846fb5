"""reports: a covering index for the per day and location sums

Revision ID: reports
Revises: token_revocation
Create Date: 2026-11-28 10:15:00
"""
from alembic import op

revision = 'reports'
down_revision = 'token_revocation'
branch_labels = None
depends_on = None

COLUMNS = ['company_id', 'scheduled_date', 'location_id', 'sync_status', 'status', 'estimated_value_cents',
           'actual_charges_cents', 'tips_cents']


def upgrade():
    # Everything the summary sums is in the index, so a range is read from the index
    # alone, already in (date, location) order: no table lookups, no sort.
    op.create_index('ix_journey_reports', 'truck_journeys', COLUMNS)


def downgrade():
    op.drop_index('ix_journey_reports', table_name='truck_journeys')
