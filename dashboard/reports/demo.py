"""Demo history for the reports: eight weeks synced from the sandbox, and the dispatching of those days.

Runs once, from demo start-up (init-db), and only in demo mode. The sandbox knows
nothing of trucks (SmartMoving has none), so past days get trucks here, the way a
dispatcher would have given them: most the day before, some on the morning itself,
and a few never; each assignment leaves the AuditEvent a real one would.
"""
from datetime import UTC
from datetime import datetime
from datetime import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import ApiCall
from dashboard.models import AuditEvent
from dashboard.models import DispatchStatus
from dashboard.models import SyncRun
from dashboard.models import SyncStatus
from dashboard.models import Truck
from dashboard.models import TruckJourney
from dashboard.models import User
from dashboard.reports.summary import CANCELLED_STATUSES
from dashboard.sync.backfill import backfill
from dashboard.sync.history import DEMO_HISTORY_TRIGGER
from dashboard.timeutil import company_today


def history_done(company_id):
    """True once a demo start-up has filled the history (later start-ups skip it)."""
    return db.session.scalar(sa.select(sa.func.count(SyncRun.id)).where(
        SyncRun.company_id == company_id, SyncRun.trigger == DEMO_HISTORY_TRIGGER)) > 0


def fill_history(app, company, days):
    """Back-fill the days before today from the sandbox, then dispatch them; yields lines to print."""
    today = company_today(company.timezone)
    start, end = today - timedelta(days=days), today - timedelta(days=1)
    db.session.commit()
    yield f"Demo mode: filling {days} days of history for the reports ({start}..{end}), once..."
    runs = list(backfill(company.id, start, end, trigger=DEMO_HISTORY_TRIGGER))
    jobs = sum(run.jobs_seen for run in runs)
    failed = sum(run.status == "FAILED" for run in runs)
    with db.write_transaction() as session:
        # The history stands in for weeks before the dashboard was installed: its calls are not
        # this month's quota use, and the quota plan must not read them as the company's daily cost.
        session.execute(sa.delete(ApiCall).where(ApiCall.sync_run_id.in_([run.id for run in runs])))
        assigned = _dispatch_past_days(session, company, start, end, app.config)
    yield f"History: {len(runs)} syncs, {jobs} jobs, {failed} failed; {assigned} past jobs given trucks."


def _dispatch_past_days(session, company, start, end, config):
    """Give past jobs a free truck of their location, timed like real dispatching; returns how many."""
    zone = ZoneInfo(company.timezone)
    dispatcher = session.scalar(sa.select(User).where(User.company_id == company.id, User.role == "DISPATCHER"))
    trucks = {}
    for truck in session.scalars(sa.select(Truck).where(Truck.company_id == company.id, Truck.is_active.is_(True))
                                 .order_by(Truck.name)):
        trucks.setdefault(truck.location_id, []).append(truck)
    jobs = session.scalars(sa.select(TruckJourney).where(
        TruckJourney.company_id == company.id, TruckJourney.scheduled_date.between(start, end),
        TruckJourney.truck_id.is_(None), TruckJourney.sync_status != SyncStatus.REMOVED.value,
        TruckJourney.status.not_in(CANCELLED_STATUSES)).order_by(
        TruckJourney.scheduled_date, TruckJourney.location_id, TruckJourney.arrival_start_hour, TruckJourney.id)).all()
    busy_until, assigned = {}, 0
    day_start = config["BOARD_DAY_HOURS"][0]
    for job in jobs:
        begins, ends = _span(job, config["DEFAULT_JOB_HOURS"], day_start)
        free = [t for t in trucks.get(job.location_id, ())
                if busy_until.get((t.id, job.scheduled_date), begins) <= begins]
        if not free or job.id % 23 == 0:   # a few stay without a truck, as on a real board
            continue
        truck = free[0]
        busy_until[(truck.id, job.scheduled_date)] = ends
        # Most are dispatched the afternoon before; one in eight only on the morning itself.
        late = job.id % 8 == 0
        local = (datetime.combine(job.scheduled_date, time(7, 10)) if late
                 else datetime.combine(job.scheduled_date - timedelta(days=1), time(15, job.id % 60)))
        at = local.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
        job.truck_id = truck.id
        job.dispatch_status = DispatchStatus.ASSIGNED.value
        job.dispatch_updated_at = at
        job.dispatch_updated_by = dispatcher.id if dispatcher else None
        session.add(AuditEvent(company_id=company.id, user_id=job.dispatch_updated_by, action="job.dispatch",
                               target=f"job:{job.id}", at=at,
                               detail={"truck": [None, truck.name],
                                       "dispatch_status": [DispatchStatus.UNASSIGNED.value, job.dispatch_status]}))
        assigned += 1
    session.flush()
    return assigned


def _span(job, default_hours, day_start):
    if job.span_start is not None and job.span_end is not None:
        return job.span_start, job.span_end
    begins = datetime.combine(job.scheduled_date, time()) + timedelta(
        hours=job.arrival_start_hour if job.arrival_start_hour is not None else day_start)
    return begins, begins + timedelta(hours=default_hours)
