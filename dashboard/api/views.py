"""The JSON API of CONTRACT.md: session cookie or `Authorization: Bearer TOKEN`."""
import json
from datetime import timedelta

from flask import current_app
from flask import request
from flask_login import current_user

from dashboard.api import bp
from dashboard.db import db
from dashboard.errors import json_error
from dashboard.extensions import csrf
from dashboard.jobs.queries import jobs_for_day
from dashboard.jobs.queries import locations_for
from dashboard.jobs.serialize import job_to_dict
from dashboard.models import AuditEvent
from dashboard.permissions import Perm
from dashboard.permissions import can
from dashboard.permissions import public
from dashboard.permissions import require
from dashboard.timeutil import as_utc_iso
from dashboard.timeutil import company_today
from dashboard.timeutil import parse_iso_date

# Bearer callers carry no ambient credentials, so they need no CSRF token; a
# session-cookie caller must send X-CSRFToken like any browser form.
csrf.exempt(bp)


@bp.before_request
def protect_cookie_posts():
    if request.method not in ("GET", "HEAD", "OPTIONS") and not request.headers.get("Authorization", "").startswith("Bearer "):
        csrf.protect()


def run_to_dict(run):
    """A sync run with its statistics."""
    return {
        "id": run.id, "status": run.status, "trigger": run.trigger, "phase": run.phase,
        "windowStart": run.window_start.isoformat(), "windowEnd": run.window_end.isoformat(),
        "startedAt": as_utc_iso(run.started_at), "finishedAt": as_utc_iso(run.finished_at),
        "heartbeatAt": as_utc_iso(run.heartbeat_at),
        "pagesFetched": run.pages_fetched, "jobsSeen": run.jobs_seen, "opportunitiesSeen": run.opportunities_seen,
        "opportunitiesToEnrich": run.opportunities_to_enrich, "opportunitiesEnriched": run.opportunities_enriched,
        "opportunitiesFailed": run.opportunities_failed, "created": run.created, "updated": run.updated,
        "unchanged": run.unchanged, "removed": run.removed, "apiCalls": run.api_calls,
        "rateLimited": run.rate_limited, "error": run.error,
    }


def _today():
    return company_today(current_user.company.timezone)


def _jobs_answer(day):
    location = request.args.get("location")
    location_id = None
    if location not in (None, ""):
        if not location.isdigit():
            return json_error(422, "location must be a location id (a number).")
        location_id = int(location)
    jobs = jobs_for_day(current_user, day, location_id=location_id, status=request.args.get("status") or None,
                        search=request.args.get("q") or None)
    return {"date": day.isoformat(), "count": len(jobs), "jobs": [job_to_dict(job, current_user) for job in jobs]}


@bp.get("/health")
@public
def health():
    """Anyone: is the database up, and how did the last sync go."""
    import sqlalchemy as sa
    from dashboard.models import Company
    from dashboard.sync.service import is_stale
    from dashboard.sync.service import last_finished_run

    try:
        db.session.execute(sa.text("SELECT 1"))
        database = "ok"
    except Exception:  # any driver error: report, never raise
        db.session.rollback()
        return {"status": "degraded", "database": "down", "smartmoving": "unknown", "lastSync": None}, 503
    company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
    run = last_finished_run(company.id) if company else None
    smartmoving = "unknown" if run is None else ("ok" if run.status in ("SUCCESS", "PARTIAL") else "error")
    stale = is_stale(run.finished_at if run else None)
    last_sync = None if run is None else {"status": run.status, "finishedAt": as_utc_iso(run.finished_at), "stale": stale}
    status = "ok" if smartmoving == "ok" and not stale else "degraded"
    return {"status": status, "database": database,
            "smartmoving": {"status": smartmoving, "mode": "demo" if current_app.config["DEMO_MODE"] else "live"},
            "lastSync": last_sync}


@bp.get("/jobs/today")
@require(Perm.VIEW_OWN_JOBS)
def jobs_today():
    """Today's jobs in the user's scope (drivers and movers: their own)."""
    return _jobs_answer(_today())


@bp.get("/jobs/tomorrow")
@require(Perm.VIEW_OWN_JOBS)
def jobs_tomorrow():
    """Tomorrow's jobs in the user's scope."""
    return _jobs_answer(_today() + timedelta(days=1))


@bp.get("/jobs")
@require(Perm.VIEW_OWN_JOBS)
def jobs_on_date():
    """Jobs on ?date=YYYY-MM-DD."""
    day = parse_iso_date(request.args.get("date", ""))
    if day is None:
        return json_error(422, "date must be given as YYYY-MM-DD.")
    return _jobs_answer(day)


@bp.post("/jobs/sync")
@require(Perm.SYNC_DATA)
def sync_now():
    """Start a sync of the user's company: 202 with the run, 409 while one runs."""
    from dashboard.sync.service import SyncAlreadyRunning
    from dashboard.sync.service import start_sync_in_background

    body = request.get_json(silent=True) or {}
    day = None
    if body.get("date") is not None:
        day = parse_iso_date(body.get("date"))
        if day is None:
            return json_error(422, "date must be given as YYYY-MM-DD.")
    db.session.rollback()  # the sync takes its own transactions
    try:
        run = start_sync_in_background(current_app._get_current_object(), current_user.company_id,
                                       trigger="api", user_id=current_user.id, day=day)
    except SyncAlreadyRunning as running:
        extra = {"run": run_to_dict(running.run)} if running.run is not None else {}
        return json_error(409, str(running), **extra)
    with db.write_transaction() as session:
        session.add(AuditEvent(company_id=current_user.company_id, user_id=current_user.id, action="sync.start",
                               target=f"run:{run.id}", detail={"via": "api"}))
    return {"run": run_to_dict(run)}, 202


@bp.get("/sync/status")
@require(Perm.VIEW_JOBS)
def sync_status():
    """The running sync (if any), the last runs with their statistics, and quota use."""
    from dashboard.sync.service import current_run
    from dashboard.sync.service import monthly_call_usage
    from dashboard.sync.service import recent_runs

    company_id = current_user.company_id
    running = current_run(company_id)
    return {
        "running": run_to_dict(running) if running else None,
        "runs": [run_to_dict(run) for run in recent_runs(company_id, limit=20)],
        "apiCalls": monthly_call_usage(company_id, current_app.config["SMARTMOVING_MONTHLY_QUOTA"]),
    }


@bp.get("/locations")
@require(Perm.VIEW_JOBS)
def locations():
    """Locations in the user's scope."""
    return {"locations": [
        {"id": loc.id, "name": loc.name, "externalId": loc.external_id, "dataSource": loc.data_source,
         "lastSyncAt": as_utc_iso(loc.last_sync_at), "syncStatus": loc.sync_status, "phone": loc.phone,
         "companyId": loc.company_id}
        for loc in locations_for(current_user)
    ]}


@bp.get("/summary")
@require(Perm.VIEW_REPORTS)
def summary():
    """Jobs, completed, cancelled (and estimated value for financial roles) per day and location."""
    from dashboard.reports.params import RangeError
    from dashboard.reports.params import parse_range
    from dashboard.reports.summary import summary_json

    try:
        report_range = parse_range(request.args.get("from"), request.args.get("to"), request.args.get("location"),
                                   {loc.id for loc in locations_for(current_user)}, _today(), required=True)
    except RangeError as error:
        return json_error(422, str(error))
    body = summary_json(current_user, report_range, can(current_user, Perm.VIEW_FINANCIAL))
    # A year of a large company is tens of thousands of rows: skip jsonify's key sorting.
    response = current_app.response_class(json.dumps(body, separators=(",", ":")), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"   # company figures: never kept by a shared cache
    return response
