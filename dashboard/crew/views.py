"""The roster pages: /crew (people by location) and /crew/<id> (one person; edit our fields).

Dispatchers and up view (VIEW_JOBS), in their scope; editing needs EDIT_JOBS. The rules
and the reads are dashboard.crew.roster's: these views read the form, call it, draw the page.
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
from dashboard.crew import roster
from dashboard.crew.member_forms import CrewMemberForm
from dashboard.db import db
from dashboard.guards import parse_id
from dashboard.jobs.queries import locations_for
from dashboard.permissions import Perm
from dashboard.permissions import can
from dashboard.permissions import require

bp = Blueprint("crew", __name__)


@bp.get("/crew")
@require(Perm.VIEW_JOBS)
def index():
    """The roster by location: role, status, today's and tomorrow's jobs, hours this week, time off."""
    location_id = None
    raw = request.args.get("location")
    if raw not in (None, ""):
        location_id = parse_id(raw)
        if location_id is None or roster.location_in_scope(current_user, location_id) is None:
            abort(404)
    today = web.user_today()
    groups = roster.roster_groups(current_user, today, location_id)
    monday, _ = roster.week_of(today)
    return render_template("crew/roster.html", groups=groups, today=today, tomorrow=today + timedelta(days=1),
                           monday=monday, locations=locations_for(current_user), location_id=location_id,
                           people=sum(len(entries) for _, entries in groups))


@bp.route("/crew/<int:member_id>", methods=["GET", "POST"])
@require(Perm.VIEW_JOBS)
def member(member_id):
    """One crew member: SmartMoving's facts, our fields (editable with EDIT_JOBS), their time off."""
    person = roster.member_for(current_user, member_id)
    if person is None:
        abort(404)
    may_edit = can(current_user, Perm.EDIT_JOBS)
    if request.method == "POST" and not may_edit:
        abort(403)
    form = CrewMemberForm(obj=None if request.method == "POST" else person)
    if request.method == "GET":
        form.role.data = person.role or ""
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                changes = roster.update_member(current_user, person, form.role.data, form.phone.data,
                                               form.email.data, form.notes.data)
            except roster.RosterError as error:
                db.session.rollback()
                target = getattr(form, error.field or "notes")
                target.errors = list(target.errors) + [str(error)]
                status = 422
            else:
                db.session.commit()
                flash(f"Saved {person.name}." if changes else "Nothing changed.", "success")
                return redirect(url_for("crew.member", member_id=person.id))
        else:
            status = 422
    today = web.user_today()
    entry = roster.roster_entries([person], today)[0]
    return render_template("crew/member.html", member=person, entry=entry, form=form, may_edit=may_edit,
                           today=today, tomorrow=today + timedelta(days=1)), status
