"""Sync history for the pages, the API and the CLI: the running run, recent runs, staleness, quota use."""
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from dashboard.db import db
from dashboard.models import RunStatus
from dashboard.models import SyncRun
from dashboard.models import utcnow
from dashboard.sync.lease import lease_holder
from dashboard.sync.lease import lease_name_for
from dashboard.sync.usage import month_used


def current_run(company_id):
    """The RUNNING run of company_id whose runner still holds the lease, or None."""
    if lease_holder(lease_name_for(company_id)) is None:
        return None
    return db.session.scalar(
        sa.select(SyncRun).where(SyncRun.company_id == company_id, SyncRun.status == RunStatus.RUNNING.value)
        .order_by(SyncRun.id.desc()).limit(1))


# Demo start-up's back-fill of weeks that "happened" before the install: the reports read
# those runs' jobs, but they are no part of the sync history an admin watches.
DEMO_HISTORY_TRIGGER = "demo-history"


def recent_runs(company_id, limit=20):
    """The newest runs first (demo history left out)."""
    return list(db.session.scalars(
        sa.select(SyncRun).where(SyncRun.company_id == company_id, SyncRun.trigger != DEMO_HISTORY_TRIGGER)
        .order_by(SyncRun.id.desc()).limit(limit)))


def last_finished_run(company_id, successful_only=False):
    """The newest finished run (optionally only SUCCESS/PARTIAL), or None."""
    stmt = sa.select(SyncRun).where(SyncRun.company_id == company_id, SyncRun.finished_at.is_not(None))
    if successful_only:
        stmt = stmt.where(SyncRun.status.in_([RunStatus.SUCCESS.value, RunStatus.PARTIAL.value]))
    return db.session.scalar(stmt.order_by(SyncRun.finished_at.desc()).limit(1))


def is_stale(finished_at, now=None):
    """True when the last successful sync finished longer ago than SYNC_STALE_MINUTES (or never)."""
    if finished_at is None:
        return True
    return (now or utcnow()) - finished_at > timedelta(minutes=current_app.config["SYNC_STALE_MINUTES"])


def monthly_call_usage(company_id, quota, now=None):
    """SmartMoving calls this calendar month (UTC) and a straight-line projection to its end."""
    import calendar
    now = now or utcnow()
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    used = month_used(company_id, now)
    days_in_month = calendar.monthrange(now.year, now.month)[1]
    elapsed = max((now - month_start).total_seconds() / 86400, 1 / 24)
    projected = int(round(used / elapsed * days_in_month))
    return {"used": used, "quota": quota, "projected": projected, "days_elapsed": round(elapsed, 2),
            "days_in_month": days_in_month, "over_quota": projected > quota if quota else False}


def summarize(run):
    """One line for the CLI and logs."""
    duration = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0
    line = (f"sync {run.status.lower()}: {run.window_start}..{run.window_end}, {run.jobs_seen} jobs "
            f"({run.created} new, {run.updated} updated, {run.unchanged} unchanged, {run.removed} removed), "
            f"{run.opportunities_enriched}/{run.opportunities_to_enrich} opportunities enriched, "
            f"{run.api_calls} API calls ({run.rate_limited} rate-limited), {duration:.1f}s")
    if run.error:
        line += f"; error: {run.error}"
    return line
