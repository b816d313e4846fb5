"""A lease row in the database: whoever holds an unexpired lease is the only sync runner.

Taken with one conditional UPDATE (rowcount 1 means ours), so it works the same on
SQLite and PostgreSQL, across processes and hosts. A holder that dies simply stops
renewing, and its lease expires. Each call commits at once on its own connection,
so a lease is never hidden inside a caller's open transaction.

Time comes from the database server on PostgreSQL (hosts may disagree about the
time; the database is the one clock they share) and from this host on SQLite, which
is a local file and so only ever shared by processes of one host.

The same table also holds "slot claims" (`claim_slot`): a row per scheduled job whose
acquired_at remembers the last interval slot a scheduler claimed, so that however
many processes run a scheduler, each slot is claimed by exactly one of them.
"""
import logging
import os
import socket
import threading
import uuid
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import SyncLease
from dashboard.models import database_now

log = logging.getLogger(__name__)

# Owner ids this process holds right now: a lease naming our own pid but not listed
# here was left by an earlier process that had the same pid (a restarted container).
_live_owners = set()


def new_owner_id():
    """A unique name for one runner: host, process, thread, and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"


def lease_name_for(company_id):
    """The lease every sync of company_id takes (scheduler, "sync now" and CLI alike)."""
    return f"sync:{company_id}"


def _insert_if_missing(name):
    """The row for name, created with no owner when it does not exist yet (a race is harmless)."""
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database {dialect}")
    return insert(SyncLease).values(name=name, owner=None, expires_at=None, epoch=0).on_conflict_do_nothing(
        index_elements=[SyncLease.name])


def _write(build):
    """Run build(now) -> statement in one short write transaction; its rowcount.

    On SQLite the transaction is BEGIN IMMEDIATE, so a busy database makes us wait
    (busy_timeout) instead of failing; it commits before returning.
    """
    with db.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection = connection.execution_options(sqlite_immediate=True)
        with connection.begin():
            return connection.execute(build(database_now(connection))).rowcount


def _ensure_row(name):
    _write(lambda now: _insert_if_missing(name))


def acquire_lease(name, owner, ttl_seconds):
    """Take the lease if it is free, expired, or already ours; True when we hold it now.

    One conditional UPDATE decides; the database serialises it (row lock on
    PostgreSQL, the write lock on SQLite), so of any number of contenders exactly
    one sees rowcount 1. Each take bumps epoch, a fencing number.
    """
    def take(now):
        return (
            sa.update(SyncLease)
            .where(SyncLease.name == name,
                   sa.or_(SyncLease.owner.is_(None), SyncLease.expires_at.is_(None), SyncLease.expires_at < now,
                          SyncLease.owner == owner))
            .values(owner=owner, expires_at=now + timedelta(seconds=ttl_seconds), acquired_at=now,
                    epoch=SyncLease.epoch + 1)
        )

    if _write(take) != 1:
        # First use of this name: create the free row (concurrent creators are fine:
        # ON CONFLICT DO NOTHING), then let the conditional UPDATE decide again.
        _ensure_row(name)
        if _write(take) != 1:
            return False
    _live_owners.add(owner)
    return True


def renew_lease(name, owner, ttl_seconds):
    """Extend our lease; False when it is no longer ours (it expired, or someone took it).

    Only an unexpired lease is renewed: once it has expired another runner may have
    judged us dead (and, say, marked our run interrupted), so we must stop.
    """
    return _write(
        lambda now: sa.update(SyncLease)
        .where(SyncLease.name == name, SyncLease.owner == owner, SyncLease.expires_at >= now)
        .values(expires_at=now + timedelta(seconds=ttl_seconds))
    ) == 1


def release_lease(name, owner):
    """Give the lease up if we still hold it; True when we did."""
    _live_owners.discard(owner)
    return _write(
        lambda now: sa.update(SyncLease).where(SyncLease.name == name, SyncLease.owner == owner)
        .values(owner=None, expires_at=None)
    ) == 1


def owner_process(owner):
    """(host, pid) that an owner id from new_owner_id names, or None for any other form.

    An owner id may carry a prefix saying who holds it (the webhook drainer's
    "webhook:host:pid:thread:random"), so the id is read from its end: the last four parts.
    """
    parts = str(owner or "").split(":")
    if len(parts) < 4:
        return None
    host, pid, thread, random_part = parts[-4:]
    if not host or not pid.isdigit() or not thread.isdigit() or not random_part:
        return None
    return host, int(pid)


def process_gone(host, pid, owner=None):
    """True only when the process is provably gone: it ran on this host and no longer exists.

    Another host's process cannot be checked from here (its lease simply expires);
    a zombie is gone; our own pid is gone when owner is not one this process holds.
    """
    if not host or not pid or host != socket.gethostname():
        return False
    if pid == os.getpid():
        return owner is not None and owner not in _live_owners
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False   # alive, but someone else's
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def release_if_holder_dead(name):
    """Free the lease when its holder's process is provably gone from this host; the dead owner or None."""
    with db.engine.connect() as connection:
        owner = connection.execute(sa.select(SyncLease.owner).where(SyncLease.name == name)).scalar()
    where = owner_process(owner)
    if where is None or not process_gone(*where, owner=owner):
        return None
    if release_lease(name, owner):
        log.warning("released lease %s: its holder %s is no longer running on this host", name, owner)
        return owner
    return None


class LeaseKeeper:
    """Renews a lease from its own thread while a run is alive, so no call or wait can outlast it.

    Renewing every quarter of the lease leaves three missed renewals of slack (a busy
    database). When a renewal finds the lease gone, `lost` is set and the run must stop
    writing; stop() ends the thread (call it in a finally).
    """

    def __init__(self, app, name, owner, ttl_seconds):
        self.app, self.name, self.owner, self.ttl = app, name, owner, ttl_seconds
        self.every = max(ttl_seconds / 4, 0.05)
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{name}", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.every + 15)

    def _run(self):
        with self.app.app_context():
            while not self._stop.wait(self.every):
                try:
                    renewed = renew_lease(self.name, self.owner, self.ttl)
                except Exception:  # a database hiccup: the lease still has time, try again
                    log.warning("could not renew lease %s; retrying", self.name, exc_info=True)
                    continue
                if not renewed:
                    self.lost.set()
                    return


def lease_holder(name):
    """(owner, expires_at) of an unexpired lease, or None when it is free."""
    with db.engine.connect() as connection:
        now = database_now(connection)
        row = connection.execute(
            sa.select(SyncLease.owner, SyncLease.expires_at).where(SyncLease.name == name)).first()
    if row is None or row.owner is None or row.expires_at is None or row.expires_at < now:
        return None
    return row.owner, row.expires_at


def claim_slot(name, slot_start, owner):
    """Claim the interval slot that starts at slot_start (naive UTC) for name; True for the one winner.

    The row remembers the start of the last claimed slot in acquired_at; the UPDATE
    only moves it forward, so each slot is claimed once however many schedulers try.
    A later slot is always claimable, also after the interval setting changed.
    """
    if not isinstance(slot_start, datetime):
        raise TypeError("slot_start must be a datetime")

    def claim(now):
        return (
            sa.update(SyncLease)
            .where(SyncLease.name == name,
                   sa.or_(SyncLease.acquired_at.is_(None), SyncLease.acquired_at < slot_start))
            .values(acquired_at=slot_start, owner=owner, expires_at=None, epoch=SyncLease.epoch + 1)
        )

    if _write(claim) == 1:
        return True
    _ensure_row(name)
    return _write(claim) == 1
