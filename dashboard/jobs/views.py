"""Views of the jobs area: the day boards, job detail and dispatch edit, My jobs, print and CSV."""
import re
from collections import Counter
from datetime import timedelta

from flask import Response
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from dashboard import web
from dashboard.db import db
from dashboard.jobs import bp
from dashboard.jobs import dispatch
from dashboard.jobs.export import jobs_csv
from dashboard.jobs.forms import JobEditForm
from dashboard.jobs.forms import ManualJobForm
from dashboard.jobs.queries import board_version
from dashboard.jobs.queries import get_job_for
from dashboard.jobs.queries import jobs_for_day
from dashboard.jobs.queries import locations_for
from dashboard.models import SyncStatus
from dashboard.permissions import Perm
from dashboard.permissions import can
from dashboard.permissions import can_see_journey
from dashboard.permissions import is_assigned_to
from dashboard.permissions import require
from dashboard.permissions import require_login
from dashboard.timeutil import parse_iso_date

bp.record_once(lambda state: web.init_app(state.app))

NEEDS_ASSIGNMENT = "NEEDS_ASSIGNMENT"
_STATUS_RE = re.compile(r"^[A-Z_]{1,30}$")


def needs_assignment(job):
    """A job still missing its truck or its crew."""
    return job.truck_id is None or not job.effective_crew


def _board_filters(locations):
    """The board's GET filters, validated: unknown locations and odd statuses are ignored."""
    location_id = request.args.get("location", type=int)
    if location_id not in {loc.id for loc in locations}:
        location_id = None
    status = (request.args.get("status") or "").strip().upper()
    if not _STATUS_RE.match(status):
        status = ""
    search = (request.args.get("q") or "").strip()[:80]
    return {"location": location_id, "status": status, "q": search}


def _requested_day(default):
    """The ?date= of the request, the default when absent; a malformed date is a 400."""
    raw = request.args.get("date")
    if not raw:
        return default
    day = parse_iso_date(raw)
    if day is None:
        abort(400, description="Use a date like 2025-01-31, between 2000 and 2099.")
    return day


def _board_context(day, view_name):
    """Everything the board page and its live fragment show for day."""
    today = web.user_today()
    locations = locations_for(current_user)
    filters = _board_filters(locations)
    all_jobs = jobs_for_day(current_user, day, location_id=filters["location"], search=filters["q"] or None)
    counts = Counter(job.status for job in all_jobs)
    dispatch_counts = Counter(job.dispatch_status for job in all_jobs)
    unassigned = sum(1 for job in all_jobs if needs_assignment(job))
    status = filters["status"]
    if status == NEEDS_ASSIGNMENT:
        jobs = [job for job in all_jobs if needs_assignment(job)]
    elif status:
        jobs = [job for job in all_jobs if status in (job.status, job.dispatch_status)]
    else:
        jobs = all_jobs
    company = current_user.company
    last_run = web.sync_service().last_finished_run(company.id, successful_only=True)
    last_synced = last_run.finished_at if last_run else None
    stale_minutes = current_app.config["SYNC_STALE_MINUTES"]
    query = {k: v for k, v in filters.items() if v}
    return dict(
        day=day, today=today, tomorrow=today + timedelta(days=1), view_name=view_name,
        jobs=jobs, total=len(all_jobs), counts=sorted(counts.items()), dispatch_counts=sorted(dispatch_counts.items()),
        unassigned=unassigned, filters=filters, query=query, locations=locations,
        show_money=can(current_user, Perm.VIEW_FINANCIAL), can_edit=can(current_user, Perm.EDIT_JOBS),
        last_synced=last_synced, stale=web.sync_service().is_stale(last_synced), stale_minutes=stale_minutes,
        refresh_seconds=current_app.config["BOARD_REFRESH_SECONDS"], needs_assignment=needs_assignment,
        show_location=len(locations) > 1 and not filters["location"],
        prev_day=day - timedelta(days=1), next_day=day + timedelta(days=1),
    )


def _render_board(day, view_name):
    if not web.wants_fragment():
        return web.render_page_or_fragment("jobs/board.html", "jobs/_board.html", **_board_context(day, view_name))
    # The live partial is polled by every open board: when nothing it shows has
    # changed, answer 304 from a few aggregates instead of rendering every card.
    etag = _board_etag(day)
    if request.if_none_match.contains(etag):
        response = current_app.response_class(status=304)
    else:
        response = web.render_page_or_fragment("jobs/board.html", "jobs/_board.html", **_board_context(day, view_name))
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Vary"] = "HX-Request, Cookie"
    return response


def _board_etag(day):
    """The partial's ETag: who asks, what they filter, and the data's version."""
    import hashlib
    version = board_version(current_user, day)
    stale = web.sync_service().is_stale(version[-1])   # version[-1]: the last successful sync
    parts = (current_user.id, current_user.role, sorted(loc.id for loc in current_user.locations), request.full_path,
             day, web.user_today(), version, stale, current_app.config["BOARD_REFRESH_SECONDS"])
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


@bp.get("/")
@require_login
def today():
    """Today's board (drivers and movers go to My jobs, their only board)."""
    if not can(current_user, Perm.VIEW_JOBS):
        return redirect(url_for("jobs.my_jobs"))
    return _render_board(web.user_today(), "jobs.today")


@bp.get("/board/tomorrow")
@require(Perm.VIEW_JOBS)
def tomorrow():
    """Tomorrow's board."""
    return _render_board(web.user_today() + timedelta(days=1), "jobs.tomorrow")


@bp.get("/board")
@require(Perm.VIEW_JOBS)
def board():
    """The board of ?date=YYYY-MM-DD (today when absent)."""
    return _render_board(_requested_day(web.user_today()), "jobs.board")


def _sheet_jobs():
    """Jobs of the print sheet and CSV: ?date= and ?location= as on the board."""
    day = _requested_day(web.user_today())
    locations = locations_for(current_user)
    filters = _board_filters(locations)
    return day, locations, filters, jobs_for_day(current_user, day, location_id=filters["location"])


@bp.get("/board/print")
@require(Perm.VIEW_JOBS)
def print_sheet():
    """A printable day sheet grouped by location."""
    day, locations, filters, jobs = _sheet_jobs()
    groups = {}
    for job in jobs:
        groups.setdefault(job.location.name if job.location else "No location", []).append(job)
    return render_template("jobs/print.html", day=day, groups=sorted(groups.items()), total=len(jobs),
                           show_money=can(current_user, Perm.VIEW_FINANCIAL), filters=filters, locations=locations)


@bp.get("/board/export.csv")
@require(Perm.VIEW_JOBS)
def export_csv():
    """The day's jobs as CSV (money column for financial roles only)."""
    day, _locations, _filters, jobs = _sheet_jobs()
    body = jobs_csv(jobs, show_money=can(current_user, Perm.VIEW_FINANCIAL))
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="jobs-{day.isoformat()}.csv"',
        "Cache-Control": "no-store",
    })


@bp.get("/my-jobs")
@require(Perm.VIEW_OWN_JOBS)
def my_jobs():
    """Today's and tomorrow's jobs whose crew names the signed-in user."""
    today_ = web.user_today()
    days = []
    for day in (today_, today_ + timedelta(days=1)):
        jobs = jobs_for_day(current_user, day)
        if can(current_user, Perm.VIEW_JOBS):
            jobs = [job for job in jobs if is_assigned_to(current_user, job)]
        days.append((day, jobs))
    return render_template("jobs/my_jobs.html", days=days, today=today_)


@bp.route("/jobs/new", methods=["GET", "POST"])
@require(Perm.EDIT_JOBS)
def new_job():
    """Add a job that is not in SmartMoving, at one of the user's locations."""
    locations = locations_for(current_user)
    form = ManualJobForm()
    form.set_locations(locations)
    if request.method == "GET":
        form.scheduled_date.data = _requested_day(web.user_today())
        form.location_id.data = request.args.get("location", type=int)
    status = 200
    if form.validate_on_submit():
        location = next(loc for loc in locations if loc.id == form.location_id.data)
        job = dispatch.create_manual_job(
            current_user, location, form.scheduled_date.data, form.customer_name.data, notes=form.notes.data,
            customer_phone=form.customer_phone.data, customer_email=form.customer_email.data,
            origin_address=form.origin_address.data, destination_address=form.destination_address.data,
            arrival_window=form.arrival_window.data)
        db.session.commit()
        flash(f"Added the job for {job.customer_name}. Assign a truck and crew next.", "success")
        return redirect(url_for("jobs.edit", job_id=job.id))
    if request.method == "POST":
        status = 422
    return render_template("jobs/new.html", form=form, has_locations=bool(locations)), status


def _job_or_404(job_id):
    job = get_job_for(current_user, job_id)
    if job is None or (job.sync_status == SyncStatus.REMOVED.value and not can(current_user, Perm.VIEW_JOBS)):
        abort(404)
    return job


@bp.get("/jobs/<int:job_id>")
@require(Perm.VIEW_OWN_JOBS)
def detail(job_id):
    """One job; drivers and movers only for their own, and never with money."""
    job = _job_or_404(job_id)
    board_role = can(current_user, Perm.VIEW_JOBS)
    return render_template(
        "jobs/detail.html", job=job, board_role=board_role,
        show_money=can(current_user, Perm.VIEW_FINANCIAL),
        can_edit=can(current_user, Perm.EDIT_JOBS),
        history=dispatch.job_history(job) if board_role else [],
        conflicts=_conflict_messages(job, job.truck_id, job.effective_crew) if board_role else [],
    )


def _conflict_messages(job, truck_id, crew):
    return [c.describe(can_see_journey(current_user, c.other))
            for c in dispatch.find_conflicts(job, truck_id, crew)]


@bp.route("/jobs/<int:job_id>/edit", methods=["GET", "POST"])
@require(Perm.EDIT_JOBS)
def edit(job_id):
    """Assign truck and crew, set the dispatch status and notes."""
    job = _job_or_404(job_id)
    form = JobEditForm(obj=None if request.method == "POST" else _form_data(job))
    form.set_choices(dispatch.truck_options(job.company_id, include_id=job.truck_id),
                     dispatch.crew_options(job.company_id, extra=(job.crew or []) + (job.smartmoving_crew or [])))
    status = 200
    submitted_version = request.form.get("version") if request.method == "POST" else None
    if submitted_version is not None and submitted_version != dispatch.dispatch_version(job):
        # Someone saved this job after the form was drawn: show their save, keep
        # this user's input, and let a second click overwrite knowingly.
        form.version.data = dispatch.dispatch_version(job)
        form.validate()
        flash(dispatch.concurrent_edit_message(job), "warning")
        status = 409
    elif form.validate_on_submit():
        truck_id = form.truck_id.data or None
        try:
            crew = dispatch.normalise_crew(list(form.crew.data or []) + dispatch.split_free_text(form.crew_other.data))
            changes = dispatch.update_dispatch(job, current_user, truck_id, crew,
                                               form.dispatch_status.data, form.notes.data)
        except dispatch.DispatchError as exc:
            form.crew_other.errors = list(form.crew_other.errors) + [str(exc)]
            status = 422
        else:
            warnings = _conflict_messages(job, job.truck_id, job.effective_crew)
            db.session.commit()
            flash(f"Saved {job.job_number or 'the job'}." if changes else "Nothing changed.", "success")
            for message in warnings:
                flash(message, "warning")
            return redirect(url_for("jobs.detail", job_id=job.id))
    elif request.method == "POST":
        status = 422
    return render_template(
        "jobs/edit.html", job=job, form=form,
        conflicts=_conflict_messages(job, job.truck_id, job.effective_crew),
    ), status


class _FormData:
    """Current dispatch values in the shape JobEditForm reads with obj=."""

    def __init__(self, job):
        self.truck_id = job.truck_id or 0
        self.crew = list(job.crew or [])
        self.crew_other = ""
        self.dispatch_status = job.dispatch_status
        self.notes = job.notes or ""
        self.version = dispatch.dispatch_version(job)


def _form_data(job):
    return _FormData(job)
