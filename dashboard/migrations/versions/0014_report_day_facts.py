"""the reports' rollup: per (company, day) data version and per location operational facts and tallies

Revision ID: report_day_facts
Revises: company_credentials
Create Date: 2026-12-05 23:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'report_day_facts'
down_revision = 'company_credentials'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'report_days',
        sa.Column('company_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('job_count', sa.Integer(), nullable=False),
        sa.Column('last_sync_at', sa.DateTime(), nullable=True),
        sa.Column('dispatch_updated_at', sa.DateTime(), nullable=True),
        sa.Column('settings', sa.String(length=32), nullable=False),
        sa.Column('valid_until', sa.DateTime(), nullable=True),
        sa.Column('computed_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['company_id'], ['companies.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('company_id', 'day'),
    )
    op.create_table(
        'report_day_facts',
        sa.Column('company_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('location_key', sa.Integer(), nullable=False),
        sa.Column('jobs', sa.Integer(), nullable=False),
        sa.Column('eve_due', sa.Integer(), nullable=False),
        sa.Column('assigned_by_eve', sa.Integer(), nullable=False),
        sa.Column('morning_due', sa.Integer(), nullable=False),
        sa.Column('unassigned_at_morning', sa.Integer(), nullable=False),
        sa.Column('conflicts', sa.Integer(), nullable=False),
        sa.Column('truck_hours', sa.Float(), nullable=False),
        sa.Column('crew_hours', sa.Float(), nullable=False),
        sa.Column('estimate_jobs', sa.Integer(), nullable=False),
        sa.Column('estimated_cents', sa.BigInteger(), nullable=False),
        sa.Column('actual_cents', sa.BigInteger(), nullable=False),
        sa.Column('tips_cents', sa.BigInteger(), nullable=False),
        sa.Column('tally_jobs', sa.Integer(), nullable=False),
        sa.Column('tally_completed', sa.Integer(), nullable=False),
        sa.Column('tally_cancelled', sa.Integer(), nullable=False),
        sa.Column('tally_removed', sa.Integer(), nullable=False),
        sa.Column('tally_estimated_cents', sa.BigInteger(), nullable=True),
        sa.Column('tally_actual_cents', sa.BigInteger(), nullable=True),
        sa.Column('tally_tips_cents', sa.BigInteger(), nullable=True),
        sa.Column('tally_actual_jobs', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['company_id'], ['companies.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('company_id', 'day', 'location_key'),
    )


def downgrade():
    op.drop_table('report_day_facts')
    op.drop_table('report_days')
