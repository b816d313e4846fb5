"""Pages of the sync area: live progress, history, API quota, and the "Sync now" button."""
import logging

from flask import Blueprint
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from dashboard import web
from dashboard.audit.trail import record
from dashboard.db import db
from dashboard.errors import json_error
from dashboard.errors import wants_json
from dashboard.extensions import htmx
from dashboard.models import Company
from dashboard.models import RunStatus
from dashboard.permissions import Perm
from dashboard.permissions import can
from dashboard.permissions import company_in_view
from dashboard.permissions import require
from dashboard.sync import history
from dashboard.sync import removals
from dashboard.sync import service
from dashboard.sync import usage
from dashboard.sync.service import CompanyDisabled
from dashboard.sync.service import refuse_if_disabled
from dashboard.timeutil import parse_iso_date
from dashboard.webhooks import senders as webhook_senders
from dashboard.webhooks.drains import drain_holds_lease
from dashboard.webhooks.events import card as webhook_card

bp = Blueprint("sync", __name__)

log = logging.getLogger(__name__)

HISTORY_LENGTH = 20


def _service():
    """The runner that starts syncs (a seam the tests replace)."""
    return service


def _panel_context(company_id, just_started=None):
    current = history.current_run(company_id) or just_started
    quota = current_app.config["SMARTMOVING_MONTHLY_QUOTA"]
    usage = history.monthly_call_usage(company_id, quota)
    return dict(
        current=current, running=current is not None and current.status == RunStatus.RUNNING.value,
        runs=history.recent_runs(company_id, limit=HISTORY_LENGTH), usage=usage,
        can_sync=can(current_user, Perm.SYNC_DATA), over_quota=usage["projected"] > usage["quota"],
    )


@bp.post("/removals/confirm")
@require(Perm.SYNC_DATA)
def confirm_removals():
    """Carry out the removals a sync held back (SmartMoving no longer lists these jobs)."""
    count = removals.confirm(company_in_view(current_user), current_user)
    db.session.commit()
    flash(f"{count} held removal{'' if count == 1 else 's'} confirmed: those jobs left the boards."
          if count else "No removals were waiting.", "success" if count else "info")
    return redirect(url_for("sync.index"))


@bp.post("/removals/keep")
@require(Perm.SYNC_DATA)
def keep_removals():
    """Keep the jobs a sync wanted to remove; a later sync that confirms them again holds them again."""
    count = removals.keep(company_in_view(current_user), current_user)
    db.session.commit()
    flash(f"{count} job{'' if count == 1 else 's'} kept on the boards." if count else "No removals were waiting.",
          "success" if count else "info")
    return redirect(url_for("sync.index"))


@bp.get("/")
@require(Perm.VIEW_JOBS)
def index():
    """The sync page: current run, history, monthly API usage."""
    company_id = company_in_view(current_user)
    held = removals.pending(company_id, limit=50, user=current_user)
    held_count = removals.pending_count(company_id, user=current_user) if len(held) == 50 else len(held)
    return web.render_page_or_fragment("sync/index.html", "sync/_status_panel.html", held_removals=held,
                                       held_count=held_count, webhooks=webhook_card(company_id, current_app.config),
                                       **_plan_context(company_id),
                                       **_panel_context(company_id))


def _plan_context(company_id):
    """What the quota plan include shows: the plan now and the 75 % / 90 % warning."""
    config = current_app.config
    quota, tier = usage.quota_and_tier(company=db.session.get(Company, company_id))
    return dict(plan=usage.plan_now(company_id), plan_quota=quota, plan_tier=tier,
                plan_warning=usage.warn_if_high(company_id, quota, usage.month_used(company_id)),
                plan_hours=config["SYNC_BUSINESS_HOURS"].replace("-", "–"),
                opportunity_ttl=config["OPPORTUNITY_REFRESH_MINUTES"],
                webhooks_on=webhook_senders.configured_for(db.session.get(Company, company_id), config))


@bp.get("/status-panel")
@require(Perm.VIEW_JOBS)
def status_panel():
    """The self-polling panel: polls every 2 s while a run is going, and renders without the poll once done."""
    response = current_app.make_response(render_template("sync/_status_panel.html",
                                                          **_panel_context(company_in_view(current_user))))
    response.headers["Cache-Control"] = "no-store"
    return response


def _refused(message):
    """A "Sync now" that cannot start: 409 with message (JSON, htmx toast), else a flash on the sync page."""
    if wants_json():
        return json_error(409, message)
    if htmx:
        return render_template("sync/_conflict.html", message=message), 409
    flash(message, "warning")
    return redirect(url_for("sync.index"))


@bp.post("/run")
@require(Perm.SYNC_DATA)
def run_now():
    """Start a background sync; 409 (htmx, JSON) or a flash (plain form) when one is already running
    or the company is disabled."""
    service = _service()
    company_id = company_in_view(current_user)
    try:
        refuse_if_disabled(company_id)
    except CompanyDisabled as disabled:
        return _refused(str(disabled))
    # "Sync this day" on a board outside the synced window sends its date (that day and the next).
    day = parse_iso_date(request.form.get("date")) if request.form.get("date") else None
    # Release this request's write transaction first: the run writes from its own thread.
    db.session.commit()
    try:
        run = service.start_sync_in_background(current_app._get_current_object(), company_id,
                                               trigger="manual", user_id=current_user.id,
                                               **({"day": day} if day else {}))
    except service.SyncAlreadyRunning as exc:
        db.session.rollback()
        running = getattr(exc, "run", None) or history.current_run(company_id)
        since = f" (started {web.format_clock(running.started_at)})" if running else ""
        message = f"A sync is already running{since}."
        if running is None and drain_holds_lease(company_id):
            message = "SmartMoving's webhook updates are being applied; try again in a few seconds."
        return _refused(message)
    record(company_id, current_user.id, "sync.start", f"run:{getattr(run, 'id', '?')}", via="page")
    db.session.commit()
    log.info("manual sync %s started by %s", getattr(run, "id", "?"), current_user.email)
    if wants_json():
        return {"id": run.id, "status": run.status}, 202
    if htmx:
        return render_template("sync/_status_panel.html", **_panel_context(company_id, just_started=run))
    flash("Sync started.", "success")
    return redirect(url_for("sync.index"))
