"""Upstream changes: recorded by the sync, webhook and removal paths; listed, counted and acknowledged.

Recording happens inside the caller's write transaction (it commits or rolls back with
the rows it describes), one executemany per batch, and only for jobs that changed: the
upsert hands over the stored rows it read anyway, so an unchanged job costs nothing.
"""
from dataclasses import dataclass

import sqlalchemy as sa

from dashboard.audit import trail
from dashboard.changes.describe import DISPATCH_COLUMNS
from dashboard.changes.describe import IDENTITY_COLUMNS
from dashboard.changes.describe import WATCHED_COLUMNS
from dashboard.changes.describe import change_words
from dashboard.changes.describe import field_changes
from dashboard.changes.describe import is_dispatched
from dashboard.changes.describe import removal_texts
from dashboard.changes.models import FINANCIAL_KINDS
from dashboard.changes.models import KINDS
from dashboard.changes.models import UpstreamChange
from dashboard.db import db
from dashboard.jobs.board import compact_window
from dashboard.models import TruckJourney
from dashboard.models import User
from dashboard.models import utcnow
from dashboard.permissions import Perm
from dashboard.permissions import can
from dashboard.permissions import scope_query
from dashboard.timeutil import as_utc_iso

# The stored columns the upsert reads besides the record's own, to compare and to judge "dispatched".
STORED_COLUMNS = tuple(sorted(set(WATCHED_COLUMNS) | set(DISPATCH_COLUMNS) | set(IDENTITY_COLUMNS)))
LIST_LIMIT = 500
OPPOSITE = {"removed": "revived", "revived": "removed"}


@dataclass(frozen=True)
class ChangeSource:
    """Who saw the change: a sync run, a webhook event, or a removal path."""
    label: str
    run_id: int | None = None
    webhook_id: int | None = None

    @classmethod
    def for_run(cls, run_id):
        """The source of a sync run's writes ("sync run 812")."""
        return cls(f"sync run {run_id}", run_id=run_id)

    @classmethod
    def for_webhook(cls, event_id=None):
        """The source of a webhook's refresh ("webhook 77")."""
        return cls(f"webhook {event_id}" if event_id else "webhook", webhook_id=event_id)


class Watch:
    """What upsert_records needs to record changes: the extra columns to read, and where to send pairs."""
    columns = STORED_COLUMNS

    def __init__(self, company_id, source):
        self.company_id = company_id
        self.source = source

    def updated(self, pairs):
        """pairs: [(stored row mapping with id, new record)] of rows about to be (or just) updated."""
        record_updates(self.company_id, pairs, self.source)


def _change_rows(company_id, journey_id, stored, record, source, at):
    """The upstream_changes rows for one job's update (empty when nothing watched changed)."""
    found = field_changes(stored, record)
    if not found:
        return []
    day_before = stored["scheduled_date"]
    day_after = record.get("scheduled_date", day_before)
    dispatched = is_dispatched(stored)
    return [{"company_id": company_id, "journey_id": journey_id, "kind": kind, "before": before, "after": after,
             "day_before": day_before, "day_after": day_after, "dispatched": dispatched, "at": at,
             "source": source.label[:40], "sync_run_id": source.run_id, "webhook_event_id": source.webhook_id}
            for kind, before, after in found]


def record_updates(company_id, pairs, source, at=None):
    """Record the watched changes of [(stored row, new record)]; returns how many rows were written."""
    at = at or utcnow()
    rows = [row for stored, record in pairs for row in _change_rows(company_id, stored["id"], stored, record,
                                                                     source, at)]
    return _save(rows, source)


def record_job_changes(journey, old_values, new_values, source, run_id=None, webhook_id=None):
    """Record one job's changes (old_values/new_values: column -> value); source a label or a ChangeSource."""
    if not isinstance(source, ChangeSource):
        source = ChangeSource(str(source), run_id=run_id, webhook_id=webhook_id)
    stored = {column: getattr(journey, column) for column in STORED_COLUMNS}
    stored.update(old_values)
    return _save(_change_rows(journey.company_id, journey.id, stored, new_values, source, utcnow()), source)


def record_presence(company_id, journey_ids, kind, source, at=None):
    """Record kind "removed" or "revived" for journey_ids (one query for their day and dispatch columns)."""
    if not journey_ids:
        return 0
    at = at or utcnow()
    columns = [TruckJourney.id, TruckJourney.scheduled_date] + [getattr(TruckJourney, c) for c in DISPATCH_COLUMNS]
    rows = []
    for start in range(0, len(journey_ids), LIST_LIMIT):
        chunk = list(journey_ids)[start:start + LIST_LIMIT]
        for job in db.session.execute(sa.select(*columns).where(TruckJourney.id.in_(chunk))).mappings():
            before, after = removal_texts(kind, job["scheduled_date"])
            rows.append({"company_id": company_id, "journey_id": job["id"], "kind": kind, "before": before,
                         "after": after, "day_before": job["scheduled_date"], "day_after": job["scheduled_date"],
                         "dispatched": is_dispatched(job), "at": at, "source": source.label[:40],
                         "sync_run_id": source.run_id, "webhook_event_id": source.webhook_id})
    return _save(rows, source)


def _merge_key(row):
    """Changes that one run may write twice to the same thing share a key (removed/revived share one)."""
    kind = row["kind"]
    if kind in OPPOSITE:
        return row["journey_id"], "presence", ""
    side = row["before"].partition(":")[0] if kind == "address" else ""
    return row["journey_id"], kind, side


def _save(rows, source):
    """Insert rows, folded into this run's earlier unacknowledged changes of the same thing.

    Within one run (or webhook event) only the value before it and the value after it
    count: a change then its reversal leaves nothing, two steps leave one change.
    """
    if not rows:
        return 0
    if source.run_id is not None or source.webhook_id is not None:
        rows = _fold_into_earlier(rows, source)
    if rows:
        db.session.execute(sa.insert(UpstreamChange), rows)
    return len(rows)


def _fold_into_earlier(rows, source):
    """Merge rows into this source's earlier changes of the same jobs; returns the rows still to insert."""
    same_source = (UpstreamChange.sync_run_id == source.run_id if source.run_id is not None
                   else UpstreamChange.webhook_event_id == source.webhook_id)
    earlier = db.session.scalars(sa.select(UpstreamChange).where(
        same_source, UpstreamChange.acknowledged_at.is_(None),
        UpstreamChange.journey_id.in_(sorted({row["journey_id"] for row in rows})))).all()
    by_key = {_merge_key({"journey_id": c.journey_id, "kind": c.kind, "before": c.before}): c for c in earlier}
    left = []
    for row in rows:
        first = by_key.pop(_merge_key(row), None)
        if first is None:
            left.append(row)
        elif OPPOSITE.get(first.kind) == row["kind"] or first.before == row["after"]:
            db.session.delete(first)                       # back where the run found it
        else:
            first.after, first.day_after, first.at = row["after"], row["day_after"], row["at"]
            by_key[_merge_key(row)] = first
    db.session.flush()
    return left


# ---------------------------------------------------------------- reading

def _raised_for(user):
    """Conditions every listing shares: raised changes, money ones only for financial roles."""
    conditions = [UpstreamChange.dispatched.is_(True)]
    if not can(user, Perm.VIEW_FINANCIAL):
        conditions.append(UpstreamChange.kind.not_in(sorted(FINANCIAL_KINDS)))
    return conditions


def visible_changes(user, day=None, kind=None, acknowledged=None, limit=LIST_LIMIT):
    """[(UpstreamChange, job number, customer name)] user may see: unacknowledged first, newest first."""
    stmt = (sa.select(UpstreamChange, TruckJourney.job_number, TruckJourney.customer_name)
            .join(TruckJourney, TruckJourney.id == UpstreamChange.journey_id)
            .where(*_raised_for(user)))
    stmt = scope_query(stmt, user, UpstreamChange.company_id, TruckJourney.location_id)
    if day is not None:
        stmt = stmt.where(sa.or_(UpstreamChange.day_before == day, UpstreamChange.day_after == day))
    if kind:
        stmt = stmt.where(UpstreamChange.kind == kind)
    if acknowledged is not None:
        stmt = stmt.where(UpstreamChange.acknowledged_at.is_not(None) if acknowledged
                          else UpstreamChange.acknowledged_at.is_(None))
    stmt = stmt.order_by(UpstreamChange.acknowledged_at.is_not(None), UpstreamChange.at.desc(),
                         UpstreamChange.id.desc()).limit(limit)
    return [tuple(row) for row in db.session.execute(stmt)]


def open_count(user):
    """How many unacknowledged raised changes user may see (the nav badge): one indexed count."""
    if not can(user, Perm.VIEW_JOBS):
        return 0
    stmt = (sa.select(sa.func.count(UpstreamChange.id))
            .join(TruckJourney, TruckJourney.id == UpstreamChange.journey_id)
            .where(UpstreamChange.acknowledged_at.is_(None), *_raised_for(user)))
    return db.session.scalar(scope_query(stmt, user, UpstreamChange.company_id, TruckJourney.location_id)) or 0


def unacknowledged_counts(company_id, journey_ids, financial=False):
    """{journey_id: unacknowledged raised changes} for journey_ids, in one query (value kind only if financial)."""
    ids = sorted(set(journey_ids))
    if not ids:
        return {}
    stmt = (sa.select(UpstreamChange.journey_id, sa.func.count(UpstreamChange.id))
            .where(UpstreamChange.company_id == company_id, UpstreamChange.journey_id.in_(ids),
                   UpstreamChange.acknowledged_at.is_(None), UpstreamChange.dispatched.is_(True))
            .group_by(UpstreamChange.journey_id))
    if not financial:
        stmt = stmt.where(UpstreamChange.kind.not_in(sorted(FINANCIAL_KINDS)))
    return {journey_id: count for journey_id, count in db.session.execute(stmt)}


def changes_for_jobs(journey_ids, financial=False, unacknowledged=True):
    """{journey_id: [UpstreamChange, oldest first]} of raised changes of journey_ids, in one query."""
    ids = sorted(set(journey_ids))
    if not ids:
        return {}
    stmt = sa.select(UpstreamChange).where(UpstreamChange.journey_id.in_(ids), UpstreamChange.dispatched.is_(True))
    if unacknowledged:
        stmt = stmt.where(UpstreamChange.acknowledged_at.is_(None))
    if not financial:
        stmt = stmt.where(UpstreamChange.kind.not_in(sorted(FINANCIAL_KINDS)))
    found = {}
    for change in db.session.scalars(stmt.order_by(UpstreamChange.at, UpstreamChange.id)):
        found.setdefault(change.journey_id, []).append(change)
    return found


def find_visible(change_id, user):
    """(UpstreamChange, job number, customer name) of change_id when user may see it, else None."""
    stmt = (sa.select(UpstreamChange, TruckJourney.job_number, TruckJourney.customer_name)
            .join(TruckJourney, TruckJourney.id == UpstreamChange.journey_id)
            .where(UpstreamChange.id == change_id, *_raised_for(user)))
    row = db.session.execute(scope_query(stmt, user, UpstreamChange.company_id, TruckJourney.location_id)).first()
    return tuple(row) if row is not None else None


# ---------------------------------------------------------------- acknowledging

def acknowledge(change_ids, user, now=None):
    """Mark the unacknowledged changes among change_ids that user may see as seen by user; audited.

    Returns the ids acknowledged (others: already acknowledged, or out of user's sight).
    The caller commits.
    """
    ids = sorted({int(change_id) for change_id in change_ids})
    if not ids:
        return []
    now = now or utcnow()
    stmt = (sa.select(UpstreamChange.id, UpstreamChange.company_id)
            .join(TruckJourney, TruckJourney.id == UpstreamChange.journey_id)
            .where(UpstreamChange.id.in_(ids), UpstreamChange.acknowledged_at.is_(None), *_raised_for(user)))
    found = db.session.execute(scope_query(stmt, user, UpstreamChange.company_id, TruckJourney.location_id)).all()
    by_company = {}
    for change_id, company_id in found:
        by_company.setdefault(company_id, []).append(change_id)
    for company_id, company_ids in by_company.items():
        db.session.execute(sa.update(UpstreamChange).where(UpstreamChange.id.in_(company_ids))
                           .values(acknowledged_by=user.id, acknowledged_at=now))
        trail.record(company_id, user.id, "changes.acknowledged", f"company:{company_id}",
                     ids=company_ids[:200], count=len(company_ids), by=user.email, at=as_utc_iso(now))
    return sorted(change_id for company_ids in by_company.values() for change_id in company_ids)


# ---------------------------------------------------------------- readiness and shapes

def readiness_blockers(company_id, day, jobs):
    """[{"kind": "upstream-change", jobId, jobNumber, message}] for day's dispatched jobs with open changes.

    jobs: the day's TruckJourney rows (the caller has them). Money changes never block.
    """
    by_job = {job.id: job for job in jobs}
    if not by_job:
        return []
    stmt = (sa.select(UpstreamChange).where(
        UpstreamChange.company_id == company_id, UpstreamChange.journey_id.in_(sorted(by_job)),
        UpstreamChange.acknowledged_at.is_(None), UpstreamChange.dispatched.is_(True),
        UpstreamChange.kind.not_in(sorted(FINANCIAL_KINDS)),
        sa.or_(UpstreamChange.day_before == day, UpstreamChange.day_after == day))
        .order_by(UpstreamChange.journey_id, UpstreamChange.at, UpstreamChange.id))
    grouped = {}
    for change in db.session.scalars(stmt):
        grouped.setdefault(change.journey_id, []).append(change)
    blockers = []
    for journey_id, changes in grouped.items():
        job = by_job[journey_id]
        said = "; ".join(_said(c) for c in changes[:2])
        more = f" and {len(changes) - 2} more" if len(changes) > 2 else ""
        number = job.job_number or f"#{job.id}"
        blockers.append({"kind": "upstream-change", "jobId": job.id, "jobNumber": job.job_number,
                         "message": f"{number}: {said}{more}. Acknowledge it on the changes page."})
    return blockers


def _said(change):
    """One change as a readiness line says it; arrival windows as the board writes them ("8–10 AM")."""
    before, after = change.before, change.after
    if change.kind == "window":
        before, after = compact_window(before), compact_window(after)
    return change_words(change.kind, before, after)


def acknowledger_names(changes):
    """{user id: name or e-mail} of the users who acknowledged changes (one query)."""
    ids = sorted({c.acknowledged_by for c in changes if c.acknowledged_by})
    if not ids:
        return {}
    return {user_id: (name or email) for user_id, name, email in db.session.execute(
        sa.select(User.id, User.full_name, User.email).where(User.id.in_(ids)))}


def as_dict(change, job_number, names):
    """The API's change shape; names: acknowledger_names of the listed changes."""
    return {"id": change.id, "jobId": change.journey_id, "jobNumber": job_number, "kind": change.kind,
            "before": change.before, "after": change.after, "at": as_utc_iso(change.at), "source": change.source,
            "acknowledgedBy": names.get(change.acknowledged_by) if change.acknowledged_by else None,
            "acknowledgedAt": as_utc_iso(change.acknowledged_at)}


def parse_kind(text):
    """A change kind from a filter (None for empty or unknown)."""
    text = (text or "").strip().lower()
    return text if text in KINDS else None
