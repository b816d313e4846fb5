"""The changes JSON API: GET /api/smartmoving/changes?date=…, POST /api/smartmoving/changes/<id>/ack.

Authentication, CSRF for cookie callers and the error shape are the API's own
(dashboard/api/views.py, dashboard/errors.py). Scope is the changes page's: a dispatcher
sees their locations' raised changes; money changes only financial roles.
"""
from flask import Blueprint
from flask import request
from flask_login import current_user

from dashboard.api.views import protect_cookie_writes
from dashboard.changes import service
from dashboard.db import db
from dashboard.errors import json_error
from dashboard.extensions import csrf
from dashboard.permissions import Perm
from dashboard.permissions import require
from dashboard.timeutil import parse_iso_date

bp = Blueprint("changes_api", __name__)

# Bearer callers need no CSRF token; cookie callers are checked by the API's own hook.
csrf.exempt(bp)
bp.before_request(protect_cookie_writes)

FLAGS = {"true": True, "false": False}


def _listed(rows):
    """The API shapes of (change, job number, customer) rows."""
    names = service.acknowledger_names([change for change, _, _ in rows])
    return [service.as_dict(change, job_number, names) for change, job_number, _ in rows]


@bp.get("/changes")
@require(Perm.VIEW_JOBS)
def changes():
    """{"changes": [...]} of a day (matching the job's day before or after), optionally by acknowledgement."""
    day = parse_iso_date(request.args.get("date", ""))
    if day is None:
        return json_error(422, "date must be a day as YYYY-MM-DD.")
    raw = request.args.get("acknowledged")
    if raw not in (None, "") and raw.strip().lower() not in FLAGS:
        return json_error(422, "acknowledged must be true or false.")
    acknowledged = FLAGS[raw.strip().lower()] if raw not in (None, "") else None
    rows = service.visible_changes(current_user, day=day, acknowledged=acknowledged)
    return {"changes": _listed(rows)}


@bp.post("/changes/<int:change_id>/ack")
@require(Perm.EDIT_JOBS)
def acknowledge(change_id):
    """200 with the change, acknowledged (again: unchanged); 404 when it is not in the caller's scope."""
    if service.find_visible(change_id, current_user) is None:
        return json_error(404, "No such change.")
    service.acknowledge([change_id], current_user)
    db.session.commit()
    return _listed([service.find_visible(change_id, current_user)])[0]
