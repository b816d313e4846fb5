"""POST /api/smartmoving/plans/<date>/publish[?location=ID][&changes=1] (README, "JSON API").

Authentication, CSRF for cookie callers and the error shape are the API's own
(dashboard/api/views.py, dashboard/errors.py). Edit-jobs roles publish their locations; a super
admin publishes the company in view (?company=ID or the switcher), else their own.
"""
from flask import Blueprint
from flask import request
from flask_login import current_user

from dashboard.api.views import protect_cookie_writes
from dashboard.db import db
from dashboard.errors import json_error
from dashboard.extensions import csrf
from dashboard.guards import parse_id
from dashboard.models import Company
from dashboard.permissions import Perm
from dashboard.permissions import company_in_view
from dashboard.permissions import require
from dashboard.plans import publish
from dashboard.timeutil import parse_iso_date

bp = Blueprint("plans_api", __name__)

# Bearer callers need no CSRF token; cookie callers are checked by the API's own hook below.
csrf.exempt(bp)
bp.before_request(protect_cookie_writes)

_TRUE = ("1", "true", "yes")


@bp.post("/plans/<date>/publish")
@require(Perm.EDIT_JOBS)
def publish_plan(date):
    """202 {"date", "version", "messages", "unreachable"}: plan version N of the day, its messages queued."""
    day = parse_iso_date(date)
    if day is None:
        return json_error(422, "The date must be a day as YYYY-MM-DD, between 2000 and 2099.")
    location_id = None
    raw_location = request.args.get("location")
    if raw_location not in (None, ""):
        location_id = parse_id(raw_location)
        if location_id is None:
            return json_error(422, "location must be a location id (a number).")
    changes = (request.args.get("changes") or "").strip().lower()
    if changes not in _TRUE + ("", "0", "false", "no"):
        return json_error(422, "changes must be 1 or 0.")
    company = db.session.get(Company, company_in_view(current_user))   # ?company=ID: a super admin's pick
    try:
        result = publish.publish_day(company, day, user=current_user, location_id=location_id,
                                     changes_only=changes in _TRUE, request_origin=request.host_url)
    except publish.OutOfScope:
        db.session.rollback()
        return json_error(404, "No such location in your scope.")
    return result.as_json(), 202
