"""Upstream changes as the day board shows them (issue 19 §2): the Changed badge and the greyed jobs.

A board reads the open changes of its jobs once per render (renders are cached per data
version, and board_version moves when a change is recorded or acknowledged). The query
goes by company and day through the change table's day indexes, not by a list of
thousands of job ids.
"""
from collections import namedtuple

import sqlalchemy as sa

from dashboard.changes.describe import day_text
from dashboard.changes.models import FINANCIAL_KINDS
from dashboard.changes.models import UpstreamChange
from dashboard.db import db
from dashboard.jobs.queries import MOVED_AWAY
from dashboard.models import SyncStatus

# What a badge shows of one change (plain values: drawn rows are cached, ORM objects are not).
OpenChange = namedtuple("OpenChange", "id kind before after at")


def open_changes(jobs, financial=False):
    """{job id: (OpenChange, ...) oldest first} of the unacknowledged raised changes of jobs (one query).

    Money changes only when financial (the viewer may see money).
    """
    ids = {job.id for job in jobs}
    if not ids:
        return {}
    companies = sorted({job.company_id for job in jobs})
    days = sorted({job.scheduled_date for job in jobs})
    stmt = sa.select(UpstreamChange.journey_id, UpstreamChange.id, UpstreamChange.kind, UpstreamChange.before,
                     UpstreamChange.after, UpstreamChange.at).where(
        UpstreamChange.company_id.in_(companies),
        sa.or_(UpstreamChange.day_after.in_(days), UpstreamChange.day_before.in_(days)),
        UpstreamChange.acknowledged_at.is_(None), UpstreamChange.dispatched.is_(True))
    if not financial:
        stmt = stmt.where(UpstreamChange.kind.not_in(sorted(FINANCIAL_KINDS)))
    found = {}
    for journey_id, *change in db.session.execute(stmt.order_by(UpstreamChange.at, UpstreamChange.id)):
        if journey_id in ids:
            found.setdefault(journey_id, []).append(OpenChange(*change))
    return {journey_id: tuple(changes) for journey_id, changes in found.items()}


def is_gone(job):
    """True for a job a board shows greyed: removed in SmartMoving, or moved to another day, not yet acknowledged."""
    return job.sync_status in (SyncStatus.REMOVED.value, MOVED_AWAY)


def gone_text(job):
    """"Removed in SmartMoving", "Moved to Tue 8 Dec", or "" for a job still on its day."""
    if job.sync_status == SyncStatus.REMOVED.value:
        return "Removed in SmartMoving"
    if job.sync_status == MOVED_AWAY:
        return f"Moved to {day_text(job.scheduled_date)}"
    return ""
