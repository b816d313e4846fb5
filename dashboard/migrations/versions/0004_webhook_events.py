"""webhook events

Revision ID: webhook_events
Revises: sync_run_runner
Create Date: 2026-11-28 10:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'webhook_events'
down_revision = 'sync_run_runner'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'webhook_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('company_id', sa.Integer(), nullable=False),
        sa.Column('event_type', sa.String(length=60), nullable=False),
        sa.Column('opportunity_id', sa.String(length=64), nullable=True),
        sa.Column('job_id', sa.String(length=64), nullable=True),
        sa.Column('customer_id', sa.String(length=64), nullable=True),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('content_hash', sa.String(length=64), nullable=False),
        sa.Column('dedupe_key', sa.String(length=80), nullable=False),
        sa.Column('deliveries', sa.Integer(), nullable=False),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.Column('processed_at', sa.DateTime(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('result', sa.String(length=300), nullable=True),
        sa.Column('error', sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(['company_id'], ['companies.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('company_id', 'dedupe_key', name='uq_webhook_company_dedupe'),
    )
    op.create_index('ix_webhook_company_status', 'webhook_events', ['company_id', 'status'])
    op.create_index('ix_webhook_company_received', 'webhook_events', ['company_id', 'received_at'])


def downgrade():
    op.drop_index('ix_webhook_company_received', table_name='webhook_events')
    op.drop_index('ix_webhook_company_status', table_name='webhook_events')
    op.drop_table('webhook_events')
