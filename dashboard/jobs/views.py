"""Views of the jobs area: the day boards, job detail and dispatch edit, My jobs, print and CSV."""
import hashlib
import math
import re
from datetime import datetime
from datetime import timedelta

from flask import Blueprint
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
from dashboard.auth.loaders import safe_next
from dashboard.db import db
from dashboard.guards import coerce_id
from dashboard.guards import parse_id
from dashboard.jobs import board as dayboard
from dashboard.jobs import conflicts as clash_rules
from dashboard.jobs import crew_roster
from dashboard.jobs import day_snapshot
from dashboard.jobs import dispatch
from dashboard.jobs import manual
from dashboard.jobs import my_day
from dashboard.jobs import render_cache
from dashboard.jobs.board import day_conflicts_for
from dashboard.jobs.board import lanes_trucks
from dashboard.jobs.board_cut import board_cut
from dashboard.jobs.board_frame import board_frame
from dashboard.jobs.export import jobs_csv
from dashboard.jobs.forms import ConfirmDeleteForm
from dashboard.jobs.forms import JobEditForm
from dashboard.jobs.forms import ManualJobEditForm
from dashboard.jobs.forms import ManualJobForm
from dashboard.jobs.queries import board_version
from dashboard.jobs.queries import get_job_for
from dashboard.jobs.queries import jobs_for_day
from dashboard.jobs.queries import locations_for
from dashboard.jobs.spans import board_day
from dashboard.models import CrewMember
from dashboard.models import SyncStatus
from dashboard.permissions import Perm
from dashboard.permissions import Scope
from dashboard.permissions import can
from dashboard.permissions import chosen_company_id
from dashboard.permissions import company_in_view
from dashboard.permissions import crew_name_of
from dashboard.permissions import is_assigned_to
from dashboard.permissions import require
from dashboard.permissions import require_login
from dashboard.permissions import scope_of
from dashboard.permissions import visible_location_ids
from dashboard.sync import history
from dashboard.timeutil import parse_iso_date

bp = Blueprint("jobs", __name__)

def forget_rendered_rows():
    """A new app (another database, e.g. in tests) must never be served rows drawn from the last one."""
    render_cache.partials.clear()
    day_snapshot.forget()
    dayboard.row_cache.clear()

_STATUS_RE = re.compile(r"^[A-Z_]{1,30}$")


def _board_filters(locations):
    """The board's GET filters, validated: unknown locations and odd statuses are ignored."""
    location_id = parse_id(request.args.get("location"))
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


def _board_context(day, view_name, version=None):
    """Everything the board page and its live fragment show for day (version: the board_version just read)."""
    today = web.user_today()
    if version is None and day_snapshot.serves(current_user):
        version = board_version(current_user, day)   # once, for the frame and the cut
    company_id = company_in_view(current_user)   # a super admin's pick (issue 21)
    frame = board_frame(current_user, company_id, day, version)
    locations = frame.locations
    filters = _board_filters(locations)
    many = len(locations) > 1 and not filters["location"]
    params = dayboard.BoardParams.parse(request.args, many)
    cut = board_cut(current_user, day, filters, params, version)
    can_edit = can(current_user, Perm.EDIT_JOBS)
    day_start, day_end = _lane_hours(day)
    # The location column says nothing inside a group that is one location.
    show_location = many and params.group != "location"
    the_board = dayboard.build(
        cut, params=params, show_money=can(current_user, Perm.VIEW_FINANCIAL), can_edit=can_edit,
        show_location=show_location, visible_location_ids=visible_location_ids(current_user),
        conflicts=cut.conflicts, detail_url=_url_pattern("jobs.detail"), assign_url=_url_pattern("jobs.assign"),
        day_start=day_start, day_end=day_end,
        limit=None if request.args.get("all") == "1" else dayboard.PAGE_ROWS,
        trucks=lanes_trucks(current_user, [loc.id for loc in locations if filters["location"] in (None, loc.id)])
        if params.view == "lanes" else ())
    # The ?member= filter's chip names the person (another company's id names no one: the chip says its number).
    member = db.session.get(CrewMember, params.member) if params.member is not None else None
    member_name = member.name if member is not None and member.company_id == company_id else None
    last_synced = frame.last_synced
    filter_query = {k: v for k, v in filters.items() if v}
    query = dict(filter_query, **params.query(many))
    # The day sheet and CSV take the filters and ?member= (not the view, grouping or sort: they have their own).
    sheet_query = dict(filter_query, **({"member": params.member} if params.member is not None else {}))
    return dict(
        day=day, today=today, tomorrow=today + timedelta(days=1), view_name=view_name,
        board=the_board, counts=cut.counts, total=cut.total, filters=filters, query=query,
        filter_query=filter_query, sheet_query=sheet_query, locations=locations, params=params,
        show_location=show_location,
        show_money=can(current_user, Perm.VIEW_FINANCIAL), can_edit=can_edit,
        can_sync=can(current_user, Perm.SYNC_DATA), synced=frame.synced,
        last_synced=last_synced, stale=history.is_stale(last_synced),
        stale_minutes=current_app.config["SYNC_STALE_MINUTES"],
        refresh_seconds=current_app.config["BOARD_REFRESH_SECONDS"],
        prev_day=day - timedelta(days=1), next_day=day + timedelta(days=1),
        board_url=_board_url(view_name, day), member_name=member_name,
    )


def _lane_hours(day):
    """The lanes' working day in whole hours around BOARD_DAY_START/END (quarter-hour grid columns)."""
    start, end = board_day(day)
    midnight = datetime.combine(day, datetime.min.time())
    first, last = int((start - midnight) / timedelta(hours=1)), math.ceil((end - midnight) / timedelta(hours=1))
    return (first, last) if 0 <= first < last <= 24 else (6, 20)


def _board_url(view_name, day):
    """A function making this board's URL with changed query arguments (filters kept)."""
    def make(query, **changes):
        args = dict(query, **changes)
        if view_name == "jobs.board":
            args["date"] = day.isoformat()
        return url_for(view_name, **{k: v for k, v in args.items() if v not in (None, "")})
    return make


def _url_pattern(endpoint):
    """'/jobs/{}' for an endpoint taking job_id: url_for once per board, not once per row."""
    return url_for(endpoint, job_id=987654321).replace("987654321", "{}")


def _render_board(day, view_name):
    if not web.wants_fragment():
        return web.render_page_or_fragment("jobs/board.html", "jobs/_board.html", **_board_context(day, view_name))
    # The live partial is polled by every open board: when nothing it shows has
    # changed, answer 304 from a few aggregates instead of rendering every row.
    etag, scope_key, version = _board_etag(day)
    response = web.not_modified(etag)
    if response is None:
        # Viewers with the same role, locations and URL see the same partial (it
        # holds no per-session token), so one render serves them all until the data moves.
        body = render_cache.partials.get_or_build(
            scope_key, lambda: render_template("jobs/_board.html", **_board_context(day, view_name, version)))
        response = current_app.response_class(body)
        response.set_etag(etag)
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Vary"] = "HX-Request, Cookie"
    return response


def _board_etag(day):
    """(the partial's ETag, its render-cache key, the data's version): who asks, what they filter, the version."""
    version = board_version(current_user, day)
    stale = history.is_stale(version[-1])   # version[-1]: the last successful sync
    # Only location-bound roles need their locations in the key (and the query that loads them).
    locations = (sorted(loc.id for loc in current_user.locations)
                 if scope_of(current_user) is Scope.ASSIGNED_LOCATIONS else None)
    scope = (current_user.role, current_user.company_id, chosen_company_id(), locations,
             request.full_path, day, web.user_today(), version, stale, current_app.config["BOARD_REFRESH_SECONDS"])
    return web.etag_of((current_user.id, scope)), hashlib.sha256(repr(scope).encode()).hexdigest(), version


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
    """Jobs of the print sheet and CSV: the board's ?date=, location, status, search and member filters."""
    day = _requested_day(web.user_today())
    locations = locations_for(current_user)
    filters = _board_filters(locations)
    jobs = jobs_for_day(current_user, day, location_id=filters["location"], search=filters["q"] or None)
    if filters["status"]:
        jobs = dayboard.filter_jobs(jobs, filters["status"], day_conflicts_for(jobs, day))
    member = dayboard.BoardParams.parse(request.args, len(locations) > 1).member
    if member is not None:   # by id, as the board's ?member= (a namesake's jobs never print)
        jobs = [job for job in jobs if member in crew_roster.effective_ids(job)]
    return day, locations, filters, jobs


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
    """Today's and tomorrow's jobs whose crew names the signed-in user; the open page polls it.

    A poll of an unchanged page is a 304 from the two days' versions, as the board's is:
    a crew member sees a job dispatch gives them without reloading.
    """
    today_ = web.user_today()
    shown = (today_, today_ + timedelta(days=1))
    me = my_day.me_of(current_user)
    etag = None
    if web.wants_fragment():
        etag = web.etag_of((current_user.id, current_user.role, crew_name_of(current_user),
                            current_user.crew_member_id, me, shown,
                            [board_version(current_user, day) for day in shown],
                            current_app.config["BOARD_REFRESH_SECONDS"]))
        unchanged = web.not_modified(etag)
        if unchanged is not None:
            return unchanged
    days = []
    for day in shown:
        if can(current_user, Perm.VIEW_JOBS):
            # A board role's day is every job in scope: narrow it in SQL to jobs that may hold their
            # crew member (none without a link), then check by id.
            member_id = current_user.crew_member_id
            jobs = jobs_for_day(current_user, day, crew_member_id=member_id) if member_id else []
            jobs = [job for job in jobs if is_assigned_to(current_user, job)]
        else:
            jobs = jobs_for_day(current_user, day)
        days.append((day, my_day.my_day(current_user, jobs, clash_rules.own_overlaps(current_user, jobs, day))))
    response = web.render_page_or_fragment("jobs/my_jobs.html", "jobs/_my_jobs.html", days=days, today=today_,
                                           me=me,
                                           refresh_seconds=current_app.config["BOARD_REFRESH_SECONDS"])
    if etag:
        response.set_etag(etag)
    return response


@bp.route("/jobs/new", methods=["GET", "POST"])
@require(Perm.EDIT_JOBS)
def new_job():
    """Add a job that is not in SmartMoving, at one of the user's locations."""
    locations = locations_for(current_user)
    form = ManualJobForm()
    form.set_locations(locations)
    if request.method == "GET":
        form.scheduled_date.data = _requested_day(web.user_today())
        form.location_id.data = parse_id(request.args.get("location"))
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
    """Each clash with another job once, in words; jobs the viewer may not see stay anonymous."""
    return _describe(job, clash_rules.preview_conflicts(job, truck_id, crew))


def _describe(job, clashes):
    return [clash_rules.describe(c, clash_rules.visible_to(current_user, c, job.company_id)) for c in clashes]


def _crew_from_form(job, form):
    """The submitted crew: the ticked people (by id, see crew_pick) and the typed names; SmartMoving's crew,
    pre-ticked and left as it was, stays SmartMoving's (not copied)."""
    crew = dispatch.picker_entries(form.crew.data) + dispatch.normalise_crew(
        dispatch.split_free_text(form.crew_other.data))
    return [] if dispatch.same_as_smartmoving(job, crew) else crew


def _edit_form(job, formdata_from_job):
    form = JobEditForm(obj=_form_data(job) if formdata_from_job else None)
    form.set_choices(dispatch.truck_options(job.company_id, include_id=job.truck_id), dispatch.crew_options(job))
    return form


def _accepted_conflicts(form):
    """What the form accepted: None (any conflict, "Save anyway" or no shown list) or the clash keys it showed."""
    if request.form.get("allow_conflicts") == "1" or form.shown_conflicts.data is None:
        return None
    return form.shown_conflicts.data.split()[:200]


def _save_dispatch(job, form):
    """Validate and apply an edit form; (status code, changes or None, message, clashes it did not show)."""
    submitted_version = request.form.get("version")
    if submitted_version is not None and submitted_version != dispatch.dispatch_version(job):
        # Someone saved this job after the form was drawn: show their save, keep
        # this user's input, and let a second click overwrite knowingly.
        form.version.data = dispatch.dispatch_version(job)
        form.validate()
        return 409, None, dispatch.concurrent_edit_message(job), []
    if not form.validate_on_submit():
        return 422, None, "Please fix the fields marked below.", []
    try:
        changes = dispatch.update_dispatch(job, current_user, form.truck_id.data or None, _crew_from_form(job, form),
                                           form.dispatch_status.data, form.notes.data,
                                           accepted=_accepted_conflicts(form))
    except dispatch.DispatchError as exc:
        form.crew_other.errors = list(form.crew_other.errors) + [str(exc)]
        return 422, None, str(exc), []
    except dispatch.UnacceptedConflicts as exc:
        return 409, None, None, exc.clashes
    return 200, changes, f"Saved {job.job_number or 'the job'}." if changes else "Nothing changed.", []


@bp.route("/jobs/<int:job_id>/edit", methods=["GET", "POST"])
@require(Perm.EDIT_JOBS)
def edit(job_id):
    """Assign truck and crew, set the dispatch status and notes."""
    job = _job_or_404(job_id)
    form = _edit_form(job, request.method == "GET")
    status = 200
    if request.method == "POST":
        status, changes, message, _ = _save_dispatch(job, form)
        if status == 200:
            db.session.commit()
            # The job page lists the conflicts: no flash for them, or they show twice.
            flash(message, "success")
            return redirect(url_for("jobs.detail", job_id=job.id))
        if status == 409:
            flash(message, "warning")
    return render_template(
        "jobs/edit.html", job=job, form=form,
        conflicts=_conflict_messages(job, job.truck_id, job.effective_crew),
    ), status


def _manual_job_or_409(job_id):
    """The manual job for its edit or delete page: 404 outside the viewer's scope, 409 for a SmartMoving job."""
    job = _job_or_404(job_id)
    if not manual.is_manual(job):
        abort(409, description=str(manual.NotManual()))
    return job


@bp.route("/jobs/<int:job_id>/details", methods=["GET", "POST"])
@require(Perm.EDIT_JOBS)
def edit_manual(job_id):
    """A manual job's customer, phone, date, arrival window, addresses and location (audited)."""
    job = _manual_job_or_409(job_id)
    locations = [loc for loc in locations_for(current_user) if loc.company_id == job.company_id]
    form = ManualJobEditForm(obj=job if request.method == "GET" else None)
    form.set_locations(locations)
    if form.validate_on_submit():
        try:
            changes = manual.update_manual_job(job, current_user, form.values(), locations)
        except manual.ManualJobError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(f"Saved {job.customer_name}." if changes else "Nothing changed.", "success")
            return redirect(url_for("jobs.detail", job_id=job.id))
    return render_template("jobs/manual_edit.html", job=job, form=form), 422 if request.method == "POST" else 200


@bp.route("/jobs/<int:job_id>/delete", methods=["GET", "POST"])
@require(Perm.EDIT_JOBS)
def delete_manual(job_id):
    """Confirm (GET), then soft-delete (POST) a manual job: gone from boards and the API, kept for the audit."""
    job = _manual_job_or_409(job_id)
    form = ConfirmDeleteForm()
    if form.validate_on_submit():
        day = job.scheduled_date
        manual.delete_manual_job(job, current_user)
        db.session.commit()
        flash(f"Deleted the job for {job.customer_name}.", "success")
        return redirect(url_for("jobs.board", date=day.isoformat()))
    return render_template("jobs/manual_delete.html", job=job, form=form), 422 if request.method == "POST" else 200


def _assign_context(job, form, message=None, saved=False, unshown=()):
    """The panel's template context; unshown: clashes a save found that the panel had not shown (asked about)."""
    truck = form.truck_id.data or None
    crew = list(form.crew.data or [])
    typed = dispatch.split_free_text(form.crew_other.data)
    names, ids = dispatch.picker_crew(job, dispatch.picker_entries(crew) + typed)
    clashes = clash_rules.preview_conflicts(job, truck, names, ids)
    return dict(job=job, form=form, message=message, saved=saved,
                # Free before busy (stable sorts: the location's trucks and the job's crew still lead).
                trucks=sorted(dispatch.truck_choices(job), key=lambda t: (not t.same_location, t.busy is not None)),
                crew=sorted(dispatch.crew_choices(job), key=lambda c: (not c.on_job, c.busy is not None)),
                ticked=set(crew),
                truck_id=truck, conflicts=_describe(job, clashes),
                conflict_keys=clash_rules.clash_keys(clashes),
                unshown=_describe(job, unshown),
                back=_safe_back(request.values.get("back")))


def _safe_back(url):
    """A same-site path to return to (the board with its filters), else the board."""
    return safe_next(url) or url_for("jobs.today")


@bp.route("/jobs/<int:job_id>/assign", methods=["GET", "POST"])
@require(Perm.EDIT_JOBS)
def assign(job_id):
    """The inline assign form (truck, crew, status, notes) opened from a board row, lane or card."""
    job = _job_or_404(job_id)
    form = _edit_form(job, request.method == "GET")
    if request.method == "GET":
        form.crew.data = dispatch.picker_values(job)
        return web.render_page_or_fragment("jobs/assign.html", "jobs/_assign.html", **_assign_context(job, form))
    status, changes, message, unshown = _save_dispatch(job, form)
    if status == 200:
        db.session.commit()
        if not web.wants_fragment():
            flash(message, "success")
            return redirect(_safe_back(request.form.get("back")))
        response = current_app.make_response(render_template(
            "jobs/_assign_saved.html", job=job, message=message,
            conflicts=_conflict_messages(job, job.truck_id, job.effective_crew)))
        # The board refreshes itself at once (morphed, so focus and scroll stay).
        response.headers["HX-Trigger"] = f'{{"board-changed": {{"jobId": {job.id}}}}}'
        return response
    # htmx swaps only 2xx answers: the form comes back with its message either way.
    context = _assign_context(job, form, message=message, unshown=unshown)
    if web.wants_fragment():
        return render_template("jobs/_assign.html", **context)
    return render_template("jobs/assign.html", **context), status


@bp.get("/jobs/<int:job_id>/assign/preview")
@require(Perm.EDIT_JOBS)
def assign_preview(job_id):
    """Conflicts the choices in the assign form would cause, before saving."""
    job = _job_or_404(job_id)
    try:
        truck_id = coerce_id(request.args.get("truck_id")) or None
    except ValueError:
        abort(422, description="truck_id must be a truck id.")
    entries = (dispatch.picker_entries(request.args.getlist("crew")[:50])
               + dispatch.unique_names(dispatch.split_free_text(request.args.get("crew_other"))))
    names, ids = dispatch.picker_crew(job, entries[:50])
    clashes = clash_rules.preview_conflicts(job, truck_id, names, ids)
    return render_template("jobs/_assign_conflicts.html", conflicts=_describe(job, clashes),
                           conflict_keys=clash_rules.clash_keys(clashes))


@bp.post("/board/accept-crew")
@require(Perm.EDIT_JOBS)
def accept_crew():
    """Bulk action: the selected jobs take SmartMoving's crew as their own."""
    ids = [parse_id(value) for value in request.form.getlist("job")[:500]]
    if None in ids:
        abort(422, description="Select jobs from the board (each one a job id).")
    jobs = [job for job in (get_job_for(current_user, job_id) for job_id in ids) if job is not None]
    count = dispatch.accept_smartmoving_crew(jobs, current_user) if jobs else 0
    db.session.commit()
    message = (f"Accepted SmartMoving's crew on {count} job{'' if count == 1 else 's'}." if count
               else "No selected job had a SmartMoving crew to accept.")
    if web.wants_fragment():
        response = current_app.make_response(render_template("jobs/_toast.html", message=message))
        response.headers["HX-Trigger"] = '{"board-changed": {}}'
        return response
    flash(message, "success" if count else "info")
    return redirect(_safe_back(request.form.get("back")))


class _FormData:
    """Current dispatch values in the shape JobEditForm reads with obj=."""

    def __init__(self, job):
        self.truck_id = job.truck_id or 0
        # SmartMoving's crew is pre-ticked while we assigned nobody: adding one
        # person must not silently replace the three SmartMoving sent.
        self.crew = dispatch.picker_values(job)
        self.crew_other = ""
        self.dispatch_status = job.dispatch_status
        self.notes = job.notes or ""
        self.version = dispatch.dispatch_version(job)


def _form_data(job):
    return _FormData(job)
