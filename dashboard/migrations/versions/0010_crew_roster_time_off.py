"""crew roster fields, user links to crew members, crew ids on jobs, time off

Revision ID: crew_roster
Revises: demo_devices_expiry
Create Date: 2026-12-05 20:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'crew_roster'
down_revision = 'demo_devices_expiry'
branch_labels = None
depends_on = None


def add_reference(table, column, target):
    """A nullable integer column that references target(id) (rows there are never deleted).

    Plain ADD COLUMN (see 0009): a batch rebuild on SQLite would drop rows other tables
    point at, and Alembic cannot add a foreign key to an SQLite table, but SQLite's own
    ADD COLUMN accepts an inline REFERENCES clause.
    """
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(f'ALTER TABLE {table} ADD COLUMN {column} INTEGER REFERENCES {target} (id)')
    else:
        op.add_column(table, sa.Column(column, sa.Integer(), sa.ForeignKey(f'{target}.id'),
                                       nullable=True))


def upgrade():
    add_reference('crew_members', 'location_id', 'locations')
    op.add_column('crew_members', sa.Column('role', sa.String(length=20), nullable=True))
    op.add_column('crew_members', sa.Column('phone', sa.String(length=64), nullable=True))
    op.add_column('crew_members', sa.Column('email', sa.String(length=254), nullable=True))
    op.add_column('crew_members', sa.Column('notes', sa.Text(), nullable=True))
    add_reference('users', 'crew_member_id', 'crew_members')
    op.create_index('ix_users_crew_member_id', 'users', ['crew_member_id'])
    op.add_column('truck_journeys', sa.Column('smartmoving_crew_ids', sa.JSON(), nullable=True))
    op.add_column('truck_journeys', sa.Column('crew_required', sa.Integer(), nullable=True))
    op.add_column('truck_journeys', sa.Column('details_as_of', sa.DateTime(), nullable=True))
    op.add_column('truck_journeys', sa.Column('crew_member_ids', sa.JSON(), nullable=True))
    op.create_table(
        'time_off',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('company_id', sa.Integer(), sa.ForeignKey('companies.id'), nullable=False),
        sa.Column('crew_member_id', sa.Integer(), sa.ForeignKey('crew_members.id', ondelete='CASCADE'),
                  nullable=True),
        sa.Column('truck_id', sa.Integer(), sa.ForeignKey('trucks.id', ondelete='CASCADE'), nullable=True),
        sa.Column('starts_at', sa.DateTime(), nullable=True),
        sa.Column('ends_at', sa.DateTime(), nullable=True),
        sa.Column('weekday', sa.Integer(), nullable=True),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('created_by', sa.Integer(), sa.ForeignKey('users.id', ondelete='SET NULL'), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('(crew_member_id IS NULL) <> (truck_id IS NULL)', name='ck_time_off_one_subject'),
    )
    op.create_index('ix_time_off_company_ends', 'time_off', ['company_id', 'ends_at'])
    op.create_index('ix_time_off_crew_member_id', 'time_off', ['crew_member_id'])
    op.create_index('ix_time_off_truck_id', 'time_off', ['truck_id'])


def downgrade():
    op.drop_table('time_off')
    with op.batch_alter_table('truck_journeys') as batch:
        for column in ('crew_member_ids', 'details_as_of', 'crew_required', 'smartmoving_crew_ids'):
            batch.drop_column(column)
    op.drop_index('ix_users_crew_member_id', 'users')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('crew_member_id')
    with op.batch_alter_table('crew_members') as batch:
        for column in ('notes', 'email', 'phone', 'role', 'location_id'):
            batch.drop_column(column)
