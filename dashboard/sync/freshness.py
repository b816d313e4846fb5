"""Whose SmartMoving detail a sync run re-reads first (issue 19 §3): the window's dispatch facts for sync.plan.

The quota buys fewer detail re-reads than there are stale copies, so plan.refresh_order
spends them on dispatched jobs first (a job is dispatched once it has a local truck,
crew, notes or a dispatch status beyond UNASSIGNED). This module reads what that
ranking needs from the database: one query over the run's window.
"""
from datetime import UTC
from datetime import datetime
from datetime import time
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from dashboard.changes.describe import is_dispatched
from dashboard.db import db
from dashboard.models import DataSource
from dashboard.models import SyncStatus
from dashboard.models import TruckJourney
from dashboard.models import utcnow
from dashboard.sync import plan

# A dispatched job without an arrival time ranks as if it started at noon.
UNTIMED_START = time(12, 0)


def local_clock(timezone, now=None):
    """(naive company-local now, today's local 00:00 as naive UTC) for timezone at now (naive UTC)."""
    zone = ZoneInfo(timezone)
    local_now = (now or utcnow()).replace(tzinfo=UTC).astimezone(zone)
    midnight = datetime.combine(local_now.date(), time(0), tzinfo=zone)
    return local_now.replace(tzinfo=None), midnight.astimezone(UTC).replace(tzinfo=None)


def candidates(company_id, start, end, kept):
    """plan.RefreshCandidates of kept: [(opportunity id, detail fetched at, stale)] of the window [start, end].

    Each opportunity's fetched time is its oldest job's details_as_of (the state's read
    when a job has none yet); its dispatched starts are its dispatched live jobs' spans.
    """
    if not kept:
        return []
    rows = db.session.execute(sa.select(
        TruckJourney.opportunity_external_id, TruckJourney.scheduled_date, TruckJourney.span_start,
        TruckJourney.details_as_of, TruckJourney.truck_id, TruckJourney.crew, TruckJourney.notes,
        TruckJourney.dispatch_status).where(
        TruckJourney.company_id == company_id, TruckJourney.data_source == DataSource.SMARTMOVING.value,
        TruckJourney.scheduled_date >= start, TruckJourney.scheduled_date <= end,
        TruckJourney.sync_status != SyncStatus.REMOVED.value)).all()
    db.session.commit()
    starts, oldest = {}, {}
    for row in rows:
        opportunity_id = row.opportunity_external_id
        if row.details_as_of is None:
            oldest[opportunity_id] = None
        elif oldest.get(opportunity_id, row.details_as_of) is not None:
            oldest[opportunity_id] = min(oldest.get(opportunity_id, row.details_as_of), row.details_as_of)
        if is_dispatched(row._mapping):
            moment = row.span_start or datetime.combine(row.scheduled_date, UNTIMED_START)
            starts.setdefault(opportunity_id, []).append(moment)
    return [plan.RefreshCandidate(opportunity_id, oldest.get(opportunity_id) or fetched_at, stale,
                                  tuple(starts.get(opportunity_id, ())))
            for opportunity_id, fetched_at, stale in kept]


def refresh_order(company, start, end, kept, now=None):
    """[(tier, opportunity id)] of kept to re-read, most urgent first (plan.refresh_order on the window's facts)."""
    local_now, midnight_utc = local_clock(company.timezone, now)
    return plan.refresh_order(candidates(company.id, start, end, kept), local_now, midnight_utc)
