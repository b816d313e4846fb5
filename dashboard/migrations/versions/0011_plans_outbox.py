"""published plans, the message outbox, personal links and confirmations

Revision ID: plans_outbox
Revises: crew_roster
Create Date: 2026-12-05 20:50:00
"""
from alembic import op  # noqa: F401

revision = 'plans_outbox'
down_revision = 'crew_roster'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
