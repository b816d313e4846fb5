"""changes SmartMoving made to jobs, and their acknowledgement

Revision ID: upstream_changes
Revises: plans_outbox
Create Date: 2026-12-05 20:55:00
"""
from alembic import op  # noqa: F401

revision = 'upstream_changes'
down_revision = 'plans_outbox'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
