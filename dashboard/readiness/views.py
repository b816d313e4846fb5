"""The readiness panel on the board header: "Tomorrow: 4 blockers" or "Ready", and the list behind it."""
from datetime import timedelta

from flask import Blueprint
from flask import abort
from flask import render_template
from flask import request
from flask_login import current_user

from dashboard import web
from dashboard.permissions import Perm
from dashboard.permissions import can
from dashboard.permissions import company_in_view
from dashboard.permissions import require
from dashboard.readiness import blockers
from dashboard.readiness import summary
from dashboard.timeutil import parse_iso_date

bp = Blueprint("readiness", __name__)


def day_name(day, today):
    """ "Today", "Tomorrow" or "Fri 11 Dec"."""
    if day == today:
        return "Today"
    if day == today + timedelta(days=1):
        return "Tomorrow"
    return f"{day:%a} {day.day} {day:%b}"


@bp.get("/readiness/panel")
@require(Perm.VIEW_JOBS)
def panel():
    """The panel's summary and grouped list for ?date=YYYY-MM-DD (htmx fragment; the board polls it)."""
    day = parse_iso_date(request.args.get("date", ""))
    if day is None:
        abort(422, description="date must be a day as YYYY-MM-DD.")
    view = blockers.day_view(company_in_view(current_user), day, current_user)   # a super admin's pick
    found = blockers.day_blockers(view.company_id, day, current_user, view)
    today = web.user_today()   # the company in view's today, like the board the panel sits on
    return render_template("readiness/_panel.html", day=day, day_label=day_name(day, today), blockers=found,
                           groups=blockers.grouped(found), can_edit=can(current_user, Perm.EDIT_JOBS),
                           not_synced=summary.not_synced(view))
