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
from dashboard.readiness import summary
from dashboard.timeutil import parse_iso_date

bp = Blueprint("readiness_api", __name__)


@bp.get("/readiness")
@require(Perm.VIEW_JOBS)
def readiness():
    """{"date", "ready", "synced", "blockers": [{"kind", "jobId", "jobNumber", "message"}]} of the user's locations.

    A day without jobs that no sync run covered is not ready (its jobs were never fetched), as the panel's
    "Not synced" says: "synced" is false then and "blockers" empty.
    """
    day = parse_iso_date(request.args.get("date", ""))
    if day is None:
        return json_error(422, "date must be a day as YYYY-MM-DD.")
    view = blockers.day_view(company_in_view(current_user), day, current_user)   # a super admin's pick
    found = blockers.day_blockers(view.company_id, day, current_user, view)
    synced = not summary.not_synced(view)
    return {"date": day.isoformat(), "ready": synced and not found, "synced": synced, "blockers": found}
