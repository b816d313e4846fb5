"""demo marks, per-device sign-in counters, token expiry

Revision ID: demo_devices_expiry
Revises: poll_indexes
Create Date: 2026-12-05 18:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'demo_devices_expiry'
down_revision = 'poll_indexes'
branch_labels = None
depends_on = None

# The accounts demo mode seeded before users were marked (dashboard/demo.py's DEMO_ROLES).
DEMO_EMAILS = ('superadmin@demo.test', 'admin@demo.test', 'dispatcher@demo.test', 'manager@demo.test',
               'auditor@demo.test', 'driver@demo.test', 'mover@demo.test')


def upgrade():
    # Plain ADD COLUMN, not batch mode: on SQLite a batch rebuild of companies or users
    # would drop a table other rows point at (foreign keys are enforced).
    op.add_column('users', sa.Column('is_demo', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('companies', sa.Column('is_demo', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('login_attempts', sa.Column('device', sa.String(length=64), nullable=True))
    op.add_column('api_tokens', sa.Column('expires_at', sa.DateTime(), nullable=True))
    # A database demo mode seeded earlier: its demo users and their company are demo data.
    users = sa.table('users', sa.column('email', sa.String), sa.column('company_id', sa.Integer),
                     sa.column('is_demo', sa.Boolean))
    companies = sa.table('companies', sa.column('id', sa.Integer), sa.column('is_demo', sa.Boolean))
    op.execute(users.update().where(users.c.email.in_(DEMO_EMAILS)).values(is_demo=True))
    op.execute(companies.update().where(companies.c.id.in_(
        sa.select(users.c.company_id).where(users.c.is_demo.is_(True)))).values(is_demo=True))


def downgrade():
    with op.batch_alter_table('api_tokens') as batch:
        batch.drop_column('expires_at')
    with op.batch_alter_table('login_attempts') as batch:
        batch.drop_column('device')
    with op.batch_alter_table('companies') as batch:
        batch.drop_column('is_demo')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('is_demo')
