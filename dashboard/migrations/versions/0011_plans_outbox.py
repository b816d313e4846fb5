"""published plans, the message outbox, personal links and confirmations

Revision ID: plans_outbox
Revises: crew_roster
Create Date: 2026-12-05 20:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'plans_outbox'
down_revision = 'crew_roster'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'plan_versions',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('company_id', sa.Integer(), sa.ForeignKey('companies.id'), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('location_ids', sa.JSON(), nullable=True),
        sa.Column('published_at', sa.DateTime(), nullable=False),
        sa.Column('published_by', sa.Integer(), sa.ForeignKey('users.id', ondelete='SET NULL'), nullable=True),
        sa.Column('messages', sa.Integer(), nullable=False),
        sa.Column('unreachable', sa.JSON(), nullable=True),
        sa.Column('base_url', sa.String(length=300), nullable=True),
        sa.UniqueConstraint('company_id', 'day', 'version', name='uq_plan_company_day_version'),
    )
    op.create_table(
        'plan_assignments',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('plan_version_id', sa.Integer(), sa.ForeignKey('plan_versions.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('crew_member_id', sa.Integer(), sa.ForeignKey('crew_members.id'), nullable=False),
        sa.Column('journey_id', sa.Integer(), sa.ForeignKey('truck_journeys.id'), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('snapshot', sa.JSON(), nullable=False),
    )
    op.create_index('ix_plan_assignments_member_journey', 'plan_assignments', ['crew_member_id', 'journey_id'])
    op.create_index('ix_plan_assignments_version', 'plan_assignments', ['plan_version_id'])
    op.create_table(
        'crew_links',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('company_id', sa.Integer(), sa.ForeignKey('companies.id'), nullable=False),
        sa.Column('crew_member_id', sa.Integer(), sa.ForeignKey('crew_members.id'), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('plan_version_id', sa.Integer(), sa.ForeignKey('plan_versions.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
    )
    op.create_index('ix_crew_links_member_day', 'crew_links', ['crew_member_id', 'day'])
    op.create_table(
        'outbox_messages',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('company_id', sa.Integer(), sa.ForeignKey('companies.id'), nullable=False),
        sa.Column('plan_version_id', sa.Integer(), sa.ForeignKey('plan_versions.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('crew_member_id', sa.Integer(), sa.ForeignKey('crew_members.id'), nullable=False),
        sa.Column('crew_link_id', sa.Integer(), sa.ForeignKey('crew_links.id', ondelete='SET NULL'),
                  nullable=True),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=8), nullable=False),
        sa.Column('recipient', sa.String(length=254), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('body_text', sa.Text(), nullable=False),
        sa.Column('body_html', sa.Text(), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('claimed_by', sa.String(length=120), nullable=True),
        sa.Column('claimed_at', sa.DateTime(), nullable=True),
        sa.UniqueConstraint('crew_member_id', 'day', 'version', 'channel', name='uq_outbox_member_day_version'),
    )
    op.create_index('ix_outbox_status_due', 'outbox_messages', ['status', 'next_attempt_at'])
    op.create_index('ix_outbox_company_day', 'outbox_messages', ['company_id', 'day'])
    op.create_index('ix_outbox_version', 'outbox_messages', ['plan_version_id'])
    op.create_table(
        'plan_confirmations',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('company_id', sa.Integer(), sa.ForeignKey('companies.id'), nullable=False),
        sa.Column('crew_member_id', sa.Integer(), sa.ForeignKey('crew_members.id'), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('plan_version_id', sa.Integer(), sa.ForeignKey('plan_versions.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('crew_link_id', sa.Integer(), sa.ForeignKey('crew_links.id', ondelete='SET NULL'),
                  nullable=True),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('reason', sa.String(length=300), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('remote_addr', sa.String(length=64), nullable=True),
    )
    op.create_index('ix_plan_confirmations_member_day', 'plan_confirmations', ['crew_member_id', 'day'])
    op.create_index('ix_plan_confirmations_company_day', 'plan_confirmations', ['company_id', 'day'])


def downgrade():
    for table in ('plan_confirmations', 'outbox_messages', 'crew_links', 'plan_assignments', 'plan_versions'):
        op.drop_table(table)
