"""The plan's pages: the board's "Send plan" panel (publish / send changes) and the admins' outbox.

Publishing needs EDIT_JOBS and stays in the user's locations (a location outside them is
a 404); it is a POST with CSRF. Both act on the company in view: the user's own, or the one a
super admin picked (?company=ID or the header's switcher), like the boards. The outbox page
needs MANAGE_USERS and shows the admin's company (a super admin: the picked one, else every
company) with each message as it would be delivered.
"""
from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from dashboard.db import db
from dashboard.guards import parse_id
from dashboard.jobs.queries import locations_for
from dashboard.models import Company
from dashboard.permissions import Perm
from dashboard.permissions import Scope
from dashboard.permissions import chosen_company_id
from dashboard.permissions import company_in_view
from dashboard.permissions import require
from dashboard.permissions import scope_of
from dashboard.plans import publish
from dashboard.plans import queries
from dashboard.plans.delivery import filled
from dashboard.readiness import blockers as readiness_blockers
from dashboard.readiness import summary as readiness_summary
from dashboard.timeutil import parse_iso_date

bp = Blueprint("plans", __name__)

OUTBOX_PAGE = 100


def _day_or_404(day_text):
    day = parse_iso_date(day_text)
    if day is None:
        abort(404)
    return day


def _location_or_404(raw):
    """The location id of a form or query field ('' or absent: all my locations); 404 when malformed."""
    if raw in (None, ""):
        return None
    location_id = parse_id(raw)
    if location_id is None:
        abort(404)
    return location_id


def _panel(day, location_id, result=None, status=200):
    """The publish panel (htmx) or a page holding it (no JavaScript)."""
    company = db.session.get(Company, company_in_view(current_user))   # a super admin's pick
    try:
        preview = publish.preview(company, day, current_user, location_id)
    except publish.OutOfScope:
        abort(404)
    # What still blocks the day, said before the Send button so nobody sends blind (it does not stop sending).
    blocking = readiness_blockers.day_blockers(company.id, day, current_user)
    context = dict(day=day, location_id=location_id, preview=preview, result=result,
                   blockers=blocking, blockers_text=readiness_summary.sentence(blocking),
                   blocker_groups=readiness_blockers.grouped(blocking),
                   result_text=publish.describe(result) if result is not None else None,
                   locations=locations_for(current_user),
                   # A super admin's ?company=ID rides along on the panel's own requests.
                   company_arg=company.id if request.args.get("company") else None,
                   # A super admin reaches every company: say whose crews hear about it.
                   company_name=company.name if scope_of(current_user) is Scope.ALL_COMPANIES else None)
    template = "plans/_publish.html" if request.headers.get("HX-Request") else "plans/publish.html"
    return render_template(template, **context), status


@bp.get("/plans/<day_text>/publish")
@require(Perm.EDIT_JOBS)
def publish_panel(day_text):
    """Who would get the day's plan now: people, changes since the last version, who is not reachable."""
    return _panel(_day_or_404(day_text), _location_or_404(request.args.get("location")))


@bp.post("/plans/<day_text>/publish")
@require(Perm.EDIT_JOBS)
def publish_plan(day_text):
    """Send the plan (or only its changes) to the crews of the day in the chosen scope."""
    day = _day_or_404(day_text)
    location_id = _location_or_404(request.form.get("location"))
    company = db.session.get(Company, company_in_view(current_user))   # a super admin's pick
    try:
        result = publish.publish_day(company, day, user=current_user, location_id=location_id,
                                     changes_only=request.form.get("changes") == "1",
                                     request_origin=request.host_url)
    except publish.OutOfScope:
        db.session.rollback()
        abort(404)
    if request.headers.get("HX-Request"):
        body, status = _panel(day, location_id, result=result)
        return body, status, {"HX-Trigger": "board-changed"}
    flash(publish.describe(result), "success")
    return redirect(url_for("jobs.board", date=day.isoformat(), company=request.args.get("company") or None))


def _company_scope():
    """The company ids the outbox shows: a super admin's pick, else None (every company); others: their own."""
    if scope_of(current_user) is not Scope.ALL_COMPANIES:
        return [current_user.company_id]
    chosen = chosen_company_id()
    return None if chosen is None else [chosen]


@bp.get("/outbox")
@require(Perm.MANAGE_USERS)
def outbox():
    """Every plan message of the company, newest first, as it would be delivered, with its status."""
    status = request.args.get("status") or None
    if status not in (None, *queries.OUTBOX_STATUSES):
        status = None
    raw_day = request.args.get("day") or ""
    day = parse_iso_date(raw_day) if raw_day else None
    before = parse_id(request.args.get("before")) if request.args.get("before") else None
    scope = _company_scope()
    rows = queries.outbox_page(scope, status=status, day=day, limit=OUTBOX_PAGE, before_id=before)
    messages = [(message, name, *filled(message, base_url)) for message, name, base_url in rows]
    return render_template("plans/outbox.html", messages=messages, status=status, day=day,
                           bad_day=bool(raw_day) and day is None, counts=queries.outbox_counts(scope, day),
                           statuses=queries.OUTBOX_STATUSES,
                           next_before=rows[-1][0].id if len(rows) == OUTBOX_PAGE else None)
