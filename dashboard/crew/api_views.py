"""The crew JSON API: GET /api/smartmoving/crew?date=YYYY-MM-DD[&location=ID] (README, "JSON API").

Authentication (bearer token or session cookie) and the error shape are the API's own
(dashboard/api/views.py, dashboard/errors.py); this blueprint is read-only, so it needs
no CSRF check. Scope is the roster's: a dispatcher sees the people of their locations.
"""
from datetime import timedelta

from flask import Blueprint
from flask import request
from flask_login import current_user

from dashboard.crew import roster
from dashboard.errors import json_error
from dashboard.guards import parse_id
from dashboard.permissions import Perm
from dashboard.permissions import require
from dashboard.timeutil import parse_iso_date

bp = Blueprint("crew_api", __name__)


def _bound(moment, is_end, whole_day):
    """A period bound as the API writes it: a date for whole days (the end day included), else YYYY-MM-DDTHH:MM."""
    if whole_day:
        return (moment.date() - timedelta(days=1) if is_end else moment.date()).isoformat()
    return moment.strftime("%Y-%m-%dT%H:%M")


def off_to_dict(period):
    """{"id", "from", "to", "reason", "weekly"} of one availability.OffPeriod touching the day."""
    return {"id": period.id, "from": _bound(period.start, False, period.whole_day),
            "to": _bound(period.end, True, period.whole_day), "reason": period.reason, "weekly": period.weekly}


def day_crew_to_dict(person):
    """One roster.DayCrew as the crew API answers it."""
    member = person.member
    location = member.location
    return {
        "id": member.id, "externalId": member.external_id, "name": member.name, "role": member.role,
        "location": {"id": location.id, "name": location.name} if location is not None else None,
        "available": person.available, "timeOff": [off_to_dict(period) for period in person.off],
        "jobIds": person.job_ids,
    }


@bp.get("/crew")
@require(Perm.VIEW_JOBS)
def crew():
    """The active people in scope on a day: role, location, whether they are free, their time off and jobs."""
    day = parse_iso_date(request.args.get("date", ""))
    if day is None:
        return json_error(422, "date must be a day as YYYY-MM-DD.")
    location_id = None
    raw = request.args.get("location")
    if raw not in (None, ""):
        location_id = parse_id(raw)
        if location_id is None:
            return json_error(422, "location must be a location id (a number).")
        if roster.location_in_scope(current_user, location_id) is None:
            return json_error(404, "No such location.")
    people = roster.crew_for_day(current_user, day, location_id)
    return {"date": day.isoformat(), "crew": [day_crew_to_dict(person) for person in people]}
