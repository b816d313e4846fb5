"""Removal safety: when a sync may mark jobs REMOVED, and the "removal pending" hold.

A job leaves the board only on SmartMoving's word (see sync.service.remove_missing).
Even then, many jobs vanishing in one run looks more like a fault upstream than a
wave of cancellations, so above a threshold the removals are held: the jobs stay on
the board flagged "removal pending" until a later run confirms them again, a
SmartMoving deletion webhook confirms them, or an admin does from the sync page.
Services here flush nothing themselves beyond their UPDATEs and never commit.
"""
import logging
from dataclasses import dataclass

import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import AuditEvent
from dashboard.models import DataSource
from dashboard.models import SyncStatus
from dashboard.models import TruckJourney
from dashboard.stamps import ordered_stamp
from dashboard.sync import upsert

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    """Ids to remove now and ids to hold as "removal pending"."""
    remove: list
    hold: list


def too_many(count, window_jobs, min_jobs, percent):
    """True when count removals are more than min_jobs AND more than percent % of the window's jobs."""
    return count > min_jobs and count * 100 > percent * window_jobs


def decide(confirmed_rows, window_jobs, min_jobs, percent):
    """Split confirmed removals: jobs already held once are removed; a mass of new ones is held.

    confirmed_rows carry `id` and `removal_pending_at`. A job held by an earlier run
    and confirmed gone again now is the second opinion the hold waited for.
    """
    again = [row.id for row in confirmed_rows if row.removal_pending_at is not None]
    new = [row.id for row in confirmed_rows if row.removal_pending_at is None]
    if too_many(len(new), window_jobs, min_jobs, percent):
        return Decision(remove=again, hold=new)
    return Decision(remove=again + new, hold=[])


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
    from dashboard.permissions import scope_query
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

    source says who confirmed: "admin" (from the sync page) or "webhook" (SmartMoving
    announced the deletion). Leaves an AuditEvent.
    """
    ids = _pending_ids(company_id, job_ids, opportunity_ids, external_ids)
    if not ids:
        return 0
    reason = ("Removal confirmed by an admin." if source == "admin"
              else "Deleted in SmartMoving (announced by webhook).")
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
