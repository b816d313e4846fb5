"""poll indexes: a board poll, a board and the sync page read the newest rows, not a whole history

Revision ID: poll_indexes
Revises: board_version
Create Date: 2026-11-29 09:30:00
"""
from alembic import op

revision = 'poll_indexes'
down_revision = 'board_version'
branch_labels = None
depends_on = None

INDEXES = {
    # board_version (every poll): the day's newest dispatch edit in one seek, as ix_journey_version
    # gives the newest sync.
    ('truck_journeys', 'ix_journey_dispatch_version'): ['company_id', 'scheduled_date', 'dispatch_updated_at'],
    # Sync runs are kept (thousands a month). The newest finished run: board_version and the sync page.
    ('sync_runs', 'ix_sync_runs_company_finished'): ['company_id', 'finished_at'],
    # "Was this day synced?" and "when was it last swept?": only runs whose window reaches the day.
    ('sync_runs', 'ix_sync_runs_company_window'): ['company_id', 'window_end'],
    # /readyz: the newest finished run of any company.
    ('sync_runs', 'ix_sync_runs_finished'): ['finished_at'],
}


def upgrade():
    for (table, name), columns in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade():
    for table, name in INDEXES:
        op.drop_index(name, table_name=table)
