"""The stamps open boards compare, taken in the order their writes commit.

A board notices a change when the day's newest `last_sync_at` or `dispatch_updated_at`
moves (jobs.queries.board_version). A write stamped t1 that commits after one stamped
t2 > t1 would stay unseen until the next change. So every writer of those stamps takes
its stamp inside its write transaction, from ordered_stamp: SQLite's writer lock
(BEGIN IMMEDIATE) already orders the writers; on PostgreSQL a per-company lock, held
until commit, does, and the stamp comes from the database's clock, so app servers whose
clocks are apart cannot stamp out of order either.

One lock order everywhere: the company's stamp lock first, then rows. A writer that
locks a job row (SELECT ... FOR UPDATE) before the stamp lock deadlocks with a sync
batch that holds the stamp lock and updates that row; lock_company_stamps lets such a
writer take the stamp lock before its first row lock.
"""
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import database_now

# pg_advisory_xact_lock(namespace, company id): a namespace of our own, so no other lock of the database collides.
_STAMP_LOCK = 8_260_001
_LOCK_STAMPS = sa.text("SELECT pg_advisory_xact_lock(CAST(:namespace AS integer), CAST(:company_id AS integer))")


def lock_company_stamps(company_id):
    """Take company_id's stamp lock until this transaction ends (PostgreSQL; SQLite's writer lock does it).

    Re-entrant: ordered_stamp taking it again later in the same transaction does not wait.
    """
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_LOCK_STAMPS, {"namespace": _STAMP_LOCK, "company_id": company_id})
    return connection


def ordered_stamp(company_id):
    """utcnow for a write to company_id's jobs, later than every stamp committed before it.

    Call it inside the write transaction, before the write's first row lock (the lock
    is taken first by every writer, so none waits for another's rows while holding it).
    """
    return database_now(lock_company_stamps(company_id))
