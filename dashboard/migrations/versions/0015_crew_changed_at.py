"""crew roster stamp: when a write last touched a crew member, and an index for the company's newest

Revision ID: crew_changed_at
Revises: report_day_facts
Create Date: 2026-12-06 02:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'crew_changed_at'
down_revision = 'report_day_facts'
branch_labels = None
depends_on = None


def upgrade():
    # Boards re-read a company's roster when its newest id or change moves: two seeks per poll, where
    # summing every person's role per read of the day took 5 ms at 6,000 people. Existing rows start
    # empty: the first write to each sets it, and the newest id still tells rosters apart until then.
    op.add_column('crew_members', sa.Column('changed_at', sa.DateTime(), nullable=True))
    op.create_index('ix_crew_members_changed', 'crew_members', ['company_id', 'changed_at'])


def downgrade():
    op.drop_index('ix_crew_members_changed', table_name='crew_members')
    op.drop_column('crew_members', 'changed_at')
