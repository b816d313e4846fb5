"""Removal safety: the one rule every path obeys before a synced job leaves the board.

A job leaves the board only on SmartMoving's word: a complete sweep without it and a
detail read confirming it gone (sync.service.remove_missing), a detail read of its
opportunity without it (a webhook's refresh), or the application's 404 after a
deletion webhook. Even then, many jobs of one service day vanishing within a short
while looks more like a fault upstream than a wave of cancellations. So every path
goes through `apply`: removals of one company and service day over the last
RECENT_WINDOW, counted with those it would add, beyond the hold thresholds are held:
the jobs stay on the board flagged "removal pending" until a later good sweep or a
SmartMoving read confirms them gone again, or an admin does from the sync page.
A removed or held job that SmartMoving shows again is revived (`revive`), audited.
Services here flush nothing themselves beyond their writes and never commit.
"""
import logging
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from dashboard.changes.describe import DISPATCH_COLUMNS
from dashboard.changes.describe import is_dispatched
from dashboard.changes.service import ChangeSource
from dashboard.changes.service import record_presence
from dashboard.db import db
from dashboard.models import AuditEvent
from dashboard.models import DataSource
from dashboard.models import SyncStatus
from dashboard.models import TruckJourney
from dashboard.permissions import scope_query
from dashboard.stamps import ordered_stamp
from dashboard.sync import upsert

log = logging.getLogger(__name__)

# Removals of one company and service day within this sliding window count together
# against the hold thresholds, whichever path (sweep, webhook, refresh) made them.
RECENT_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Decision:
    """Ids to remove now and ids to hold as "removal pending"."""
    remove: list
    hold: list


def too_many(count, day_jobs, min_jobs, percent):
    """True when count removals are more than min_jobs AND more than percent % of the day's jobs."""
    return count > min_jobs and count * 100 > percent * day_jobs


def decide(confirmed_rows, recent_by_day, jobs_by_day, min_jobs, percent):
    """Split confirmed removals: jobs already held once are removed; a day's mass of new ones is held.

    confirmed_rows carry `id`, `scheduled_date` and `removal_pending_at`. A job held
    earlier and confirmed gone again now is the second opinion the hold waited for.
    Each service day is judged alone: its removals of the recent window plus the new
    ones, against its own job count (recent_by_day / jobs_by_day: {day: count}).
    """
    again = [row.id for row in confirmed_rows if row.removal_pending_at is not None]
    new_by_day = {}
    for row in confirmed_rows:
        if row.removal_pending_at is None:
            new_by_day.setdefault(row.scheduled_date, []).append(row.id)
    remove, held = list(again), []
    for day, ids in sorted(new_by_day.items()):
        count = recent_by_day.get(day, 0) + len(ids)
        (held if too_many(count, jobs_by_day.get(day, 0), min_jobs, percent) else remove).extend(ids)
    return Decision(remove=remove, hold=held)


def day_counts(company_id, days, since):
    """({day: jobs removed since `since`}, {day: jobs, live or removed since}) for company_id's synced days.

    The removed ones stay in the day's count, so a day's share is of the jobs it had
    before this wave of removals began, not of what the wave left.
    """
    if not days:
        return {}, {}
    recently_removed = sa.and_(TruckJourney.sync_status == SyncStatus.REMOVED.value,
                               TruckJourney.removed_at >= since)
    rows = db.session.execute(
        sa.select(TruckJourney.scheduled_date, sa.func.count(),
                  sa.func.sum(sa.case((recently_removed, 1), else_=0)))
        .where(TruckJourney.company_id == company_id, TruckJourney.data_source == DataSource.SMARTMOVING.value,
               TruckJourney.scheduled_date.in_(sorted(set(days))),
               sa.or_(TruckJourney.sync_status != SyncStatus.REMOVED.value, recently_removed))
        .group_by(TruckJourney.scheduled_date)).all()
    return ({day: int(recent or 0) for day, _, recent in rows}, {day: int(total) for day, total, _ in rows})


def apply(company_id, confirmed_rows, now, config, reason, held_reason, source="sync", change_source=None):
    """Remove or hold confirmed_rows by the one removal rule; the Decision carried out.

    Call inside the write transaction, with now = ordered_stamp(company_id). Held jobs
    whose removal this confirms (source: "sync" or "webhook") leave an AuditEvent.
    Each removal is recorded as an upstream change (change_source: the run or webhook).
    """
    recent, jobs = day_counts(company_id, [row.scheduled_date for row in confirmed_rows], now - RECENT_WINDOW)
    decision = decide(confirmed_rows, recent, jobs, config["REMOVAL_HOLD_MIN_JOBS"], config["REMOVAL_HOLD_PERCENT"])
    hold(decision.hold, now, held_reason)
    record_presence(company_id, decision.remove, "removed", change_source or ChangeSource("removal"))
    upsert.remove_journeys(decision.remove, now, reason)
    confirmed_held = [row.id for row in confirmed_rows if row.removal_pending_at is not None]
    if confirmed_held:
        db.session.add(AuditEvent(company_id=company_id, user_id=None, action="sync.removals_confirmed",
                                  target=f"company:{company_id}",
                                  detail={"jobs": confirmed_held[:200], "count": len(confirmed_held),
                                          "source": source}))
    if decision.hold:
        log.warning("%s removal(s) held: too many of one day within %s minutes", len(decision.hold),
                    int(RECENT_WINDOW.total_seconds() // 60), extra={"company_id": company_id})
    return decision


def removable_rows(company_id, opportunity_ids=None, start=None, end=None):
    """Rows (id, external_id, opportunity_external_id, scheduled_date, removal_pending_at) of live synced jobs.

    Optionally only those of opportunity_ids, or dated within [start, end].
    """
    stmt = sa.select(TruckJourney.id, TruckJourney.external_id, TruckJourney.opportunity_external_id,
                     TruckJourney.scheduled_date, TruckJourney.removal_pending_at).where(
        TruckJourney.company_id == company_id, TruckJourney.data_source == DataSource.SMARTMOVING.value,
        TruckJourney.sync_status != SyncStatus.REMOVED.value)
    if opportunity_ids is not None:
        stmt = stmt.where(TruckJourney.opportunity_external_id.in_(sorted(opportunity_ids)))
    if start is not None:
        stmt = stmt.where(TruckJourney.scheduled_date >= start, TruckJourney.scheduled_date <= end)
    return db.session.execute(stmt.order_by(TruckJourney.id)).all()


def revive(company_id, external_ids, now, source, change_source=None):
    """Clear the removal marks of jobs SmartMoving shows again, and audit it; returns the revived ids.

    Jobs that were removed (not merely held) are recorded as upstream changes ("revived").

    The caller's upsert writes them SYNCED (or what detail allows); their local dispatch
    (truck, crew, notes, dispatch status) was never touched by the removal.
    """
    if not external_ids:
        return []
    found = []
    for chunk in upsert.chunks(sorted(set(external_ids))):
        found += db.session.execute(sa.select(TruckJourney.id, TruckJourney.sync_status).where(
            TruckJourney.company_id == company_id, TruckJourney.data_source == DataSource.SMARTMOVING.value,
            TruckJourney.external_id.in_(chunk),
            sa.or_(TruckJourney.sync_status == SyncStatus.REMOVED.value,
                   TruckJourney.removal_pending_at.is_not(None)))).all()
    if not found:
        return []
    ids = [row.id for row in found]
    for chunk in upsert.chunks(ids):
        db.session.execute(sa.update(TruckJourney).where(TruckJourney.id.in_(chunk)).values(
            removed_at=None, removal_pending_at=None, removal_reason=None, last_sync_at=now))
    was_removed = [row.id for row in found if row.sync_status == SyncStatus.REMOVED.value]
    record_presence(company_id, was_removed, "revived", change_source or ChangeSource("revival"))
    db.session.add(AuditEvent(company_id=company_id, user_id=None, action="sync.jobs_revived",
                              target=f"company:{company_id}",
                              detail={"jobs": ids[:200], "count": len(ids), "were_removed": len(was_removed),
                                      "source": source}))
    log.info("%s job(s) revived: SmartMoving shows them again (%s)", len(ids), source,
             extra={"company_id": company_id})
    return ids


# Both flag changes move last_sync_at: open boards notice a job changed only by its
# stamps (jobs.queries.board_version), and a held removal changes what the board shows.
def hold(journey_ids, now, reason):
    """Flag journeys "removal pending" (they stay on the board as they were)."""
    for chunk in upsert.chunks(list(journey_ids)):
        db.session.execute(sa.update(TruckJourney).where(TruckJourney.id.in_(chunk))
                           .values(removal_pending_at=now, removal_reason=reason[:200], last_sync_at=now))
    return len(journey_ids)


def clear_pending(journey_ids, now):
    """Drop the "removal pending" flag of journeys SmartMoving lists again (or an admin keeps)."""
    for chunk in upsert.chunks(list(journey_ids)):
        db.session.execute(sa.update(TruckJourney).where(TruckJourney.id.in_(chunk))
                           .values(removal_pending_at=None, removal_reason=None, last_sync_at=now))
    return len(journey_ids)


def _pending_query(company_id):
    return sa.select(TruckJourney).where(
        TruckJourney.company_id == company_id, TruckJourney.data_source == DataSource.SMARTMOVING.value,
        TruckJourney.removal_pending_at.is_not(None), TruckJourney.sync_status != SyncStatus.REMOVED.value)


def _visible_to(stmt, user):
    return stmt if user is None else scope_query(stmt, user, TruckJourney.company_id, TruckJourney.location_id)


def pending(company_id, limit=None, user=None):
    """The company's jobs whose removal is held (those user may see), oldest service date first."""
    stmt = _visible_to(_pending_query(company_id), user).order_by(TruckJourney.scheduled_date, TruckJourney.id)
    if limit:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt))


def pending_count(company_id, user=None):
    """How many of the company's jobs (that user may see) have a held removal."""
    stmt = _visible_to(_pending_query(company_id), user)
    return db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0


def _pending_ids(company_id, job_ids=None, opportunity_ids=None, external_ids=None):
    stmt = _pending_query(company_id).with_only_columns(TruckJourney.id)
    if job_ids is not None:
        stmt = stmt.where(TruckJourney.id.in_(list(job_ids)))
    if opportunity_ids is not None:
        stmt = stmt.where(TruckJourney.opportunity_external_id.in_(list(opportunity_ids)))
    if external_ids is not None:
        stmt = stmt.where(TruckJourney.external_id.in_(list(external_ids)))
    return list(db.session.scalars(stmt))


def confirm(company_id, actor=None, job_ids=None, opportunity_ids=None, external_ids=None, source="admin"):
    """Carry out held removals (all of the company's, or those named); returns how many.

    source says who confirmed ("admin", from the sync page; the sync and webhook paths
    confirm through apply). Leaves an AuditEvent.
    """
    ids = _pending_ids(company_id, job_ids, opportunity_ids, external_ids)
    if not ids:
        return 0
    reason = ("Removal confirmed by an admin." if source == "admin"
              else "Deleted in SmartMoving (announced by webhook).")
    record_presence(company_id, ids, "removed", ChangeSource("removal" if source == "admin" else source))
    count = upsert.remove_journeys(ids, ordered_stamp(company_id), reason)
    db.session.add(AuditEvent(company_id=company_id, user_id=actor.id if actor else None,
                              action="sync.removals_confirmed", target=f"company:{company_id}",
                              detail={"jobs": ids[:200], "count": count, "source": source}))
    db.session.flush()
    log.info("%s held removal(s) confirmed by %s", count, actor.email if actor else source)
    return count


def keep(company_id, actor, job_ids=None):
    """Cancel held removals: the jobs stay on the board, unflagged; returns how many."""
    ids = _pending_ids(company_id, job_ids)
    if not ids:
        return 0
    clear_pending(ids, ordered_stamp(company_id))
    db.session.add(AuditEvent(company_id=company_id, user_id=actor.id, action="sync.removals_kept",
                              target=f"company:{company_id}", detail={"jobs": ids[:200], "count": len(ids)}))
    db.session.flush()
    log.info("%s held removal(s) kept by %s", len(ids), actor.email)
    return len(ids)


def dispatched_ids(journey_ids):
    """The ids among journey_ids of jobs we had planned (truck, crew, notes or a dispatch status)."""
    columns = [TruckJourney.id] + [getattr(TruckJourney, column) for column in DISPATCH_COLUMNS]
    found = set()
    for chunk in upsert.chunks(sorted(set(journey_ids))):
        found |= {row["id"] for row in db.session.execute(sa.select(*columns).where(TruckJourney.id.in_(chunk)))
                  .mappings() if is_dispatched(row)}
    return found


def hold_unread(rows, now, reason):
    """Hold the removal of rows (dispatched jobs SmartMoving's detail could not speak for); returns how many.

    Those already held stay held as they are: no opinion was had, so this is no second one.
    """
    return hold([row.id for row in rows if row.removal_pending_at is None], now, reason)


def release_moved(company_id, external_ids, now):
    """Drop the "removal pending" flag of jobs SmartMoving moved to another day (a move is no removal)."""
    ids = []
    for chunk in upsert.chunks(sorted(set(external_ids))):
        ids += db.session.scalars(sa.select(TruckJourney.id).where(
            TruckJourney.company_id == company_id, TruckJourney.external_id.in_(chunk),
            TruckJourney.removal_pending_at.is_not(None))).all()
    return clear_pending(ids, now)
