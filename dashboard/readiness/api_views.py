"""GET /api/smartmoving/readiness?date=YYYY-MM-DD (README, "JSON API"): what still blocks a day.

Authentication (bearer token or session cookie) and the error shape are the API's own
(dashboard/api/views.py, dashboard/errors.py); read-only, so no CSRF check.
"""
from flask import Blueprint
from flask import request
from flask_login import current_user

from dashboard.errors import json_error
from dashboard.permissions import Perm
from dashboard.permissions import company_in_view
from dashboard.permissions import require
from dashboard.readiness import blockers
from dashboard.timeutil import parse_iso_date

bp = Blueprint("readiness_api", __name__)


@bp.get("/readiness")
@require(Perm.VIEW_JOBS)
def readiness():
    """{"date", "ready", "blockers": [{"kind", "jobId", "jobNumber", "message"}]} of the user's locations."""
    day = parse_iso_date(request.args.get("date", ""))
    if day is None:
        return json_error(422, "date must be a day as YYYY-MM-DD.")
    found = blockers.day_blockers(company_in_view(current_user), day, current_user)   # a super admin's pick
    return {"date": day.isoformat(), "ready": not found, "blockers": found}
