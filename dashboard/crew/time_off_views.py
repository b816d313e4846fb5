"""Pages and partials for time off: a person's list and form (crew member page), "My availability"
on the phone, and trucks' out-of-service periods (admin trucks page and /trucks/service).

The rules (who may edit whom, what an entry may be) are dashboard.crew.time_off's; these
views only read forms, call it, and draw the answer: an htmx swap gets its partial back
(with the message, since htmx swaps only 2xx answers), a plain form post is redirected.
"""
from datetime import timedelta

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from dashboard import web
from dashboard.auth.loaders import safe_next
from dashboard.crew import time_off
from dashboard.crew.availability import WEEKDAY_NAMES
from dashboard.crew.availability import midnight
from dashboard.db import db
from dashboard.guards import parse_id
from dashboard.models import CrewMember
from dashboard.permissions import Perm
from dashboard.permissions import require
from dashboard.permissions import require_login

bp = Blueprint("time_off", __name__)

# "My availability" offers the next two weeks as day buttons.
PICK_DAYS = 14


@bp.app_template_global()
def time_off_entries(member):
    """A person's weekly entries and upcoming time off (for crew/_time_off.html)."""
    return time_off.upcoming_for_person(member.id, web.user_today())


@bp.app_template_global()
def may_edit_time_off(member):
    """True when the signed-in user may add or remove member's time off."""
    return time_off.may_edit_person(current_user, member)


@bp.app_template_global()
def truck_off_map(trucks):
    """{truck_id: [TimeOff]}: the trucks' out-of-service periods from today on (one query)."""
    return time_off.upcoming_for_trucks([truck.id for truck in trucks], web.user_today())


@bp.app_template_global()
def time_off_text(entry):
    """How a list shows one entry: "Fri 11 Dec (dentist)", "Every Sunday"."""
    return time_off.entry_text(entry)


def _back(default):
    """The same-site page a plain form post returns to (its `back` field), else default."""
    return safe_next(request.form.get("back")) or default


def _form_bounds():
    """(from, to) texts from the form's from/from_time/to/to_time fields."""
    form = request.form
    return time_off.compose_bounds(form.get("from"), form.get("from_time"), form.get("to"), form.get("to_time"))


def _member_partial(member, error=None, message=None):
    """crew/_time_off.html for member, with a message or an error."""
    return render_template("crew/_time_off.html", member=member, time_off_error=error, time_off_message=message,
                           time_off_back=_back(request.path))


def _answer(partial, error, message, back):
    """htmx: the partial (200, message inside); a plain post: flash and go back (PRG)."""
    if web.wants_fragment():
        return partial()
    flash(error or message, "error" if error else "success")
    return redirect(back)


@bp.post("/crew/<int:member_id>/time-off")
@require_login  # dispatch in scope, or the person themself: time_off decides
def add_for_member(member_id):
    """Add dated or weekly time off for a crew member from their page."""
    error = message = None
    try:
        if request.form.get("weekday", "") != "":
            entry = time_off.add_weekly(current_user, member_id, request.form.get("weekday"),
                                        request.form.get("reason"))
        else:
            entry = time_off.add_for_person(current_user, member_id, *_form_bounds(), request.form.get("reason"))
        db.session.commit()
        message = f"Added: {time_off.entry_text(entry)}."
    except time_off.TimeOffError as refused:
        db.session.rollback()
        if refused.status != 422:
            abort(refused.status)
        error = str(refused)
    member = db.session.get(CrewMember, member_id)
    return _answer(lambda: _member_partial(member, error, message), error, message, _back(url_for("time_off.mine")))


@bp.post("/time-off/<int:entry_id>/remove")
@require_login
def remove(entry_id):
    """Remove an entry; the answer redraws the list it was removed from (person, My availability, trucks)."""
    try:
        entry = time_off.remove(current_user, entry_id)
    except time_off.TimeOffError as refused:
        db.session.rollback()
        abort(refused.status)
    text = time_off.entry_text(entry)
    member_id, view = entry.crew_member_id, request.form.get("view")
    db.session.commit()
    message = f"Removed: {text}."
    if member_id is None:   # a truck's period, wherever the button was
        return _answer(lambda: _trucks_partial(message=message), None, message, _back(url_for("time_off.trucks")))
    if view == "me":
        return _answer(lambda: _mine_partial(message=message), None, message, url_for("time_off.mine"))
    member = db.session.get(CrewMember, member_id)
    return _answer(lambda: _member_partial(member, message=message), None, message, _back(url_for("time_off.mine")))


# ------------------------------------------------------------------ My availability (the phone page)

def _my_member():
    """The crew member the signed-in user is linked to, or None."""
    member_id = getattr(current_user, "crew_member_id", None)
    member = db.session.get(CrewMember, member_id) if member_id else None
    return member if member is not None and member.company_id == current_user.company_id else None


def _mine_context(error=None, message=None):
    """What availability.html and its live part need: the next days, my entries, my weekly days."""
    member = _my_member()
    today = web.user_today()
    entries = time_off.upcoming_for_person(member.id, today) if member else []
    weekly = {entry.weekday: entry for entry in entries if entry.weekday is not None}
    dated = [entry for entry in entries if entry.weekday is None]
    days = []
    for offset in range(PICK_DAYS):
        day = today + timedelta(days=offset)
        start = midnight(day)
        off = day.weekday() in weekly or any(e.starts_at < start + timedelta(days=1) and start < e.ends_at
                                             for e in dated)
        days.append({"day": day, "off": off, "label": "Today" if offset == 0 else (
            "Tomorrow" if offset == 1 else f"{day:%a}")})
    return dict(member=member, days=days, dated=dated, weekly=weekly, weekday_names=WEEKDAY_NAMES,
                error=error, message=message)


def _mine_partial(error=None, message=None):
    """The live part of My availability (day buttons, my list, weekly toggles)."""
    return render_template("crew/_availability.html", **_mine_context(error, message))


@bp.get("/me/availability")
@require_login
def mine():
    """My availability: tap a day of the next two weeks, say why if you like, "Mark off"."""
    return render_template("crew/availability.html", **_mine_context())


def _mine_write(action):
    """Run action(member) for the signed-in user's own crew member and answer like the page's forms."""
    member = _my_member()
    if member is None:
        abort(403)
    error = message = None
    try:
        message = action(member)
        db.session.commit()
    except time_off.TimeOffError as refused:
        db.session.rollback()
        if refused.status != 422:
            abort(refused.status)
        error = str(refused)
    if web.wants_fragment():
        return _mine_partial(error, message)
    if error:
        return render_template("crew/availability.html", **_mine_context(error)), 422
    flash(message, "success")
    return redirect(url_for("time_off.mine"))


@bp.post("/me/availability")
@require_login
def mark_off():
    """Mark the chosen day (or part of it) off for myself."""
    def action(member):
        day = request.form.get("day") or ""
        if not day:
            raise time_off.TimeOffError("Tap a day first.")
        bounds = time_off.compose_bounds(day, request.form.get("from_time"), day, request.form.get("to_time"))
        entry = time_off.add_for_person(current_user, member.id, *bounds, request.form.get("reason"))
        return f"Marked off: {time_off.entry_text(entry)}."
    return _mine_write(action)


@bp.post("/me/availability/weekly/<int:weekday>")
@require_login
def toggle_weekly(weekday):
    """Turn "never on <weekday>" on or off for myself."""
    if weekday > 6:
        abort(404)

    def action(member):
        existing = next((entry for entry in time_off.upcoming_for_person(member.id, web.user_today())
                         if entry.weekday == weekday), None)
        if existing is not None:
            time_off.remove(current_user, existing.id)
            return f"You are available on {WEEKDAY_NAMES[weekday]}s again."
        time_off.add_weekly(current_user, member.id, weekday)
        return f"Marked: never on {WEEKDAY_NAMES[weekday]}s."
    return _mine_write(action)


# ------------------------------------------------------------------ trucks out of service

def _trucks_partial(error=None, message=None):
    """crew/_truck_off.html for the trucks the signed-in user may edit."""
    return render_template("crew/_truck_off.html", trucks=time_off.trucks_in_scope(current_user),
                           truck_off_error=error, truck_off_message=message,
                           truck_off_back=_back(url_for("time_off.trucks")))


@bp.get("/trucks/service")
@require(Perm.EDIT_JOBS)
def trucks():
    """Trucks in my locations and their out-of-service periods (dispatch; admins also see it on Trucks)."""
    return render_template("crew/truck_service.html", trucks=time_off.trucks_in_scope(current_user))


@bp.post("/trucks/service")
@require(Perm.EDIT_JOBS)
def add_truck_period():
    """Add an out-of-service period for the chosen truck."""
    error = message = None
    truck_id = parse_id(request.form.get("truck_id", ""))
    try:
        if truck_id is None:
            raise time_off.TimeOffError("Choose a truck.")
        entry = time_off.add_for_truck(current_user, truck_id, *_form_bounds(), request.form.get("reason"))
        db.session.commit()
        message = f"Out of service: {time_off.entry_text(entry)}."
    except time_off.TimeOffError as refused:
        db.session.rollback()
        if refused.status != 422:
            abort(refused.status)
        error = str(refused)
    return _answer(lambda: _trucks_partial(error, message), error, message, _back(url_for("time_off.trucks")))
