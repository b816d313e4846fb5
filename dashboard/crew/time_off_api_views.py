"""The time-off JSON API: add a crew member's time off, remove an entry (README, "JSON API").

Authentication, CSRF for cookie callers and the error shape are the API's own
(dashboard/api/views.py, dashboard/errors.py): this blueprint adds the same cookie-write
check to its own routes. Edit-jobs roles may edit anyone in their locations; a user linked
to a crew member may edit that person's time off alone.
"""
from flask import Blueprint
from flask_login import current_user

from dashboard.api.views import protect_cookie_writes
from dashboard.crew import time_off
from dashboard.db import db
from dashboard.errors import json_error
from dashboard.extensions import csrf
from dashboard.guards import json_body
from dashboard.permissions import Perm
from dashboard.permissions import require

bp = Blueprint("time_off_api", __name__)

# Bearer callers need no CSRF token; cookie callers are checked by the API's own hook below.
csrf.exempt(bp)
bp.before_request(protect_cookie_writes)

_KEYS = {"from", "to", "reason"}


def _refused(error):
    """The JSON error of a refused entry (422 bad input, 403 not allowed, 404 unknown)."""
    db.session.rollback()
    return json_error(error.status, str(error))


@bp.post("/crew/<int:member_id>/time-off")
@require(Perm.VIEW_OWN_JOBS)  # every role; who may edit whom is time_off's rule
def add_time_off(member_id):
    """201 with the new entry {"id", "crewMemberId", "from", "to", "reason", "weekday"}."""
    body = json_body()
    if not isinstance(body, dict):
        return json_error(422, 'Send a JSON object such as {"from": "2025-01-31", "to": "2025-01-31", '
                               '"reason": "dentist"}.')
    unknown = sorted(set(body) - _KEYS)
    if unknown:
        return json_error(422, f"Unknown keys: {', '.join(unknown)[:200]}; give from, to and reason.")
    if body.get("from") in (None, ""):
        return json_error(422, "from is required (YYYY-MM-DD or YYYY-MM-DDTHH:MM, company time).")
    try:
        entry = time_off.add_for_person(current_user, member_id, body.get("from"), body.get("to"),
                                        body.get("reason"))
    except time_off.TimeOffError as error:
        return _refused(error)
    db.session.commit()
    return time_off.entry_to_dict(entry), 201


@bp.delete("/time-off/<int:entry_id>")
@require(Perm.VIEW_OWN_JOBS)
def delete_time_off(entry_id):
    """204 once the entry (a person's time off or a truck's out-of-service period) is gone."""
    try:
        time_off.remove(current_user, entry_id)
    except time_off.TimeOffError as error:
        return _refused(error)
    db.session.commit()
    return "", 204
