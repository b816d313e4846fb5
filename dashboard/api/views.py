"""The JSON API (README, "JSON API"): session cookie or `Authorization: Bearer TOKEN`."""
import functools
import json
import logging
import os
from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint
from flask import current_app
from flask import request
from flask_login import current_user

from dashboard.auth.loaders import token_user
from dashboard.db import db
from dashboard.errors import json_error
from dashboard.extensions import csrf
from dashboard.guards import json_body
from dashboard.guards import parse_id
from dashboard.guards import read_body
from dashboard.jobs import dispatch
from dashboard.jobs import manual
from dashboard.jobs.dispatch import job_etag
from dashboard.jobs.queries import day_is_synced
from dashboard.jobs.queries import get_job_for
from dashboard.jobs.queries import jobs_for_day
from dashboard.jobs.queries import locations_for
from dashboard.jobs.serialize import conflict_dicts
from dashboard.jobs.serialize import job_to_dict
from dashboard.jobs.serialize import jobs_to_dicts
from dashboard.models import AuditEvent
from dashboard.models import Company
from dashboard.models import Location
from dashboard.models import utcnow
from dashboard.permissions import Perm
from dashboard.permissions import can
from dashboard.permissions import can_see_journey
from dashboard.permissions import company_in_view
from dashboard.permissions import public
from dashboard.permissions import require
from dashboard.reports.params import RangeError
from dashboard.reports.params import parse_range
from dashboard.reports.summary import summary_json
from dashboard.sync import service  # called through the module: the tests replace its functions
from dashboard.sync import usage
from dashboard.sync.history import current_run
from dashboard.sync.history import is_stale
from dashboard.sync.history import last_finished_run
from dashboard.sync.history import monthly_call_usage
from dashboard.sync.history import recent_runs
from dashboard.timeutil import as_utc_iso
from dashboard.timeutil import company_today
from dashboard.timeutil import parse_iso_date

bp = Blueprint("api", __name__)

log = logging.getLogger(__name__)

# Bearer callers carry no ambient credentials, so they need no CSRF token; a
# session-cookie caller must send X-CSRFToken like any browser form.
csrf.exempt(bp)


@bp.before_request   # the blueprint's own hook: it runs for the API's paths only
def protect_cookie_writes():
    """Every write by a session cookie needs the CSRF token (POST, PATCH, PUT, DELETE).

    Bearer-token writes need none; anonymous writes get the route's own 401 (there is
    no session to ride on, and the caller learns what is really missing).
    """
    if request.method in ("GET", "HEAD", "OPTIONS") or token_user() is not None:
        return
    if not current_user.is_authenticated:
        return
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
    """Today in the zone of the company in view (a super admin's ?company=ID, else the caller's own)."""
    return company_today(db.session.get(Company, company_in_view(current_user)).timezone)


def _filter_location_ids(user):
    """The location ids user may filter a job list by: their locations; a driver or mover, their company's
    (their list holds only their own jobs, which may be at any of its locations)."""
    if can(user, Perm.VIEW_JOBS):
        return {loc.id for loc in locations_for(user)}
    return set(db.session.scalars(sa.select(Location.id).where(Location.company_id == user.company_id)))


def _jobs_answer(day):
    location = request.args.get("location")
    location_id = None
    if location not in (None, ""):
        location_id = parse_id(location)
        if location_id is None:
            return json_error(422, "location must be a location id (a number).")
        # Unknown and out-of-scope ids get the same answer (summary's), so other tenants' ids stay unknowable.
        if location_id not in _filter_location_ids(current_user):
            return json_error(422, "location must be the id of a location you can see.")
    jobs = jobs_for_day(current_user, day, location_id=location_id, status=request.args.get("status") or None,
                        search=request.args.get("q") or None)
    # synced: a successful or partial sync run covered the day (false: the list may miss SmartMoving's jobs).
    return {"date": day.isoformat(), "synced": day_is_synced(company_in_view(current_user), day),
            "count": len(jobs), "jobs": jobs_to_dicts(jobs, current_user)}


# A sweep may start a scheduler tick late and take a few minutes: the health check
# allows this much beyond the quota plan's interval before calling a sync late.
PLAN_SLACK_MINUTES = 15


def _stale_limit_minutes(company_id):
    """Minutes after which the last sync is late: SYNC_STALE_MINUTES, or longer while the quota plan
    sweeps less often (its interval now plus PLAN_SLACK_MINUTES; Basic at night sweeps every 4 h)."""
    floor = current_app.config["SYNC_STALE_MINUTES"]
    try:
        cadence = usage.plan_now(company_id).cadence_now
    except Exception:  # the plan is advice here: a failed read leaves the configured limit
        log.warning("health: the quota plan could not be read; using SYNC_STALE_MINUTES", exc_info=False)
        db.session.rollback()
        return floor
    return max(floor, cadence + PLAN_SLACK_MINUTES)


def _smartmoving(status):
    """The health answer's "smartmoving" object (the same shape whatever the status)."""
    return {"status": status, "mode": "demo" if current_app.config["DEMO_MODE"] else "live"}


@bp.get("/health")
@public
def health():
    """Anyone: is the database up, and how did the last sync go (late by the quota plan's cadence)."""
    try:
        db.session.execute(sa.text("SELECT 1"))
        database = "ok"
    except Exception:  # any driver error: report, never raise
        db.session.rollback()
        return {"status": "degraded", "database": "down", "smartmoving": _smartmoving("unknown"),
                "lastSync": None}, 503
    company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
    run = last_finished_run(company.id) if company else None
    smartmoving = "unknown" if run is None else ("ok" if run.status in ("SUCCESS", "PARTIAL") else "error")
    # The quota plan (several queries) is read only once SYNC_STALE_MINUTES has passed: health is polled.
    stale = run is None or (is_stale(run.finished_at) and utcnow() - run.finished_at
                            > timedelta(minutes=_stale_limit_minutes(company.id)))
    last_sync = None if run is None else {"status": run.status, "finishedAt": as_utc_iso(run.finished_at),
                                          "stale": stale}
    status = "ok" if smartmoving == "ok" and not stale else "degraded"
    return {"status": status, "database": database, "smartmoving": _smartmoving(smartmoving), "lastSync": last_sync}


@functools.cache
def _openapi_text():
    with open(os.path.join(os.path.dirname(__file__), "openapi.json"), encoding="utf-8") as handle:
        return handle.read()


@bp.get("/openapi.json")
@public
def openapi_document():
    """Anyone: the OpenAPI 3.1 description of this API (dashboard/api/openapi.json, checked by the tests)."""
    return current_app.response_class(_openapi_text(), mimetype="application/json")


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


def _job_answer(job, status=200):
    """One JOB with its ETag."""
    return job_to_dict(job, current_user), status, {"ETag": job_etag(job)}


@bp.get("/jobs/<int:job_id>")
@require(Perm.VIEW_OWN_JOBS)
def job_detail(job_id):
    """One job in the user's scope (drivers and movers: their own), with an ETag for PATCH's If-Match."""
    job = get_job_for(current_user, job_id)
    if job is None:
        return json_error(404, "No such job in your locations.")
    return _job_answer(job)


def _job_to_write(job_id, verb):
    """(job locked for update, None) when the caller may write it, else (None, the JSON refusal).

    404 when the job is out of scope or deleted, 403 for a role that may only view ("… not {verb} them").
    """
    # Drivers and movers write nothing: for them no job is in scope (404, as for other tenants' ids).
    job = dispatch.job_for_update(job_id) if can(current_user, Perm.VIEW_JOBS) else None
    if job is None or not can_see_journey(current_user, job) or manual.is_deleted(job):
        return None, json_error(404, "No such job in your locations.")
    if not can(current_user, Perm.EDIT_JOBS):
        return None, json_error(403, f"Your role may view jobs but not {verb} them.")
    return job, None


@bp.patch("/jobs/<int:job_id>")
@require(Perm.VIEW_OWN_JOBS)
def job_patch(job_id):
    """Edit truck, crew, dispatch status or notes like the form does; If-Match is required."""
    job, refusal = _job_to_write(job_id, "edit")
    if refusal:
        return refusal
    if_match = request.headers.get("If-Match")
    etag = dispatch.job_etag(job)
    if not if_match:
        return json_error(428, "Send If-Match with the ETag from GET /api/smartmoving/jobs/<id>.")
    if not dispatch.etag_matches(if_match, etag):
        body, status = json_error(412, "The job changed since you read it; GET it again and retry.")
        return body, status, {"ETag": etag}
    body = json_body()
    # A manual job's own fields (customer, date, window, addresses, location) go to jobs.manual;
    # on a SmartMoving job they are refused (422): SmartMoving owns them.
    own = {key: value for key, value in body.items() if key in manual.API_KEYS} if isinstance(body, dict) else {}
    try:
        if own:
            manual.patch_manual_job(job, current_user, own, locations_for(current_user))
        rest = {key: value for key, value in body.items() if key not in own} if isinstance(body, dict) else body
        if rest or not own:
            dispatch.patch_dispatch(job, current_user, rest)
    except (dispatch.DispatchError, manual.ManualJobError) as exc:
        db.session.rollback()
        return json_error(422, str(exc))
    except dispatch.UnacceptedConflicts as exc:
        db.session.rollback()
        return json_error(409, f"{exc} Nothing was saved; send \"allowConflicts\": true to save anyway.",
                          conflicts=conflict_dicts(exc.clashes, current_user, job.company_id))
    db.session.commit()
    return _job_answer(job)


@bp.delete("/jobs/<int:job_id>")
@require(Perm.VIEW_OWN_JOBS)
def job_delete(job_id):
    """Soft-delete a manual job (204; audited); a SmartMoving job is 409. If-Match, when sent, must match."""
    job, refusal = _job_to_write(job_id, "delete")
    if refusal:
        return refusal
    if_match = request.headers.get("If-Match")
    if if_match and not dispatch.etag_matches(if_match, dispatch.job_etag(job)):
        return json_error(412, "The job changed since you read it; GET it again and retry.")
    if not manual.is_manual(job):
        return json_error(409, str(manual.NotManual()))
    manual.delete_manual_job(job, current_user)
    db.session.commit()
    return "", 204


@bp.post("/jobs/sync")
@require(Perm.SYNC_DATA)
def sync_now():
    """Start a sync of the user's company: 202 with the run, 409 while one runs."""
    # An empty body (with or without a Content-Length) is "sync the usual window".
    body = json_body() if read_body() else {}
    if not isinstance(body, dict):
        return json_error(422, 'The body must be empty or a JSON object such as {"date": "2025-01-31"}.')
    unknown = sorted(set(body) - {"date"})
    if unknown:
        return json_error(422, f"Unknown keys: {', '.join(unknown)[:200]}; only \"date\" may be given.")
    day = None
    if body.get("date") is not None:
        day = parse_iso_date(body["date"]) if isinstance(body["date"], str) else None
        if day is None:
            return json_error(422, "date must be given as YYYY-MM-DD, between 2000 and 2099.")
    try:
        service.refuse_if_disabled(company_in_view(current_user))
    except service.CompanyDisabled as disabled:
        return json_error(409, str(disabled))
    db.session.rollback()  # the sync takes its own transactions
    try:
        run = service.start_sync_in_background(current_app._get_current_object(), company_in_view(current_user),
                                       trigger="api", user_id=current_user.id, day=day)
    except service.SyncAlreadyRunning as running:
        extra = {"run": run_to_dict(running.run)} if running.run is not None else {}
        return json_error(409, str(running), **extra)
    with db.write_transaction() as session:
        session.add(AuditEvent(company_id=company_in_view(current_user), user_id=current_user.id, action="sync.start",
                               target=f"run:{run.id}", detail={"via": "api"}))
    return {"run": run_to_dict(run)}, 202


@bp.get("/sync/status")
@require(Perm.VIEW_JOBS)
def sync_status():
    """The running sync (if any), the last runs with their statistics, and quota use (?company=ID: super admin)."""
    company_id = company_in_view(current_user)
    running = current_run(company_id)
    return {
        "running": run_to_dict(running) if running else None,
        "runs": [run_to_dict(run) for run in recent_runs(company_id, limit=20)],
        "apiCalls": _camel_usage(monthly_call_usage(company_id, current_app.config["SMARTMOVING_MONTHLY_QUOTA"])),
    }


# sync/status's apiCalls: the camelCase keys, and the snake_case ones they replace (deprecated, kept one release).
_USAGE_KEYS = {"days_elapsed": "daysElapsed", "days_in_month": "daysInMonth", "over_quota": "overQuota"}


def _camel_usage(usage):
    """The quota use with camelCase keys like the rest of the API, the old snake_case names alongside."""
    camel = dict(usage)
    for old, new in _USAGE_KEYS.items():
        if old in usage:
            camel[new] = usage[old]
    return camel


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
