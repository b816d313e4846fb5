"""Time off for people and out-of-service periods for trucks (write side): parse, check, add, remove.

Entries are company-local and naive, like job spans. A whole day D is stored as
[D 00:00, D+1 00:00); "from D1 to D2" given as dates covers D1..D2 inclusive; part of a day
is given as YYYY-MM-DDTHH:MM. A weekly entry ("never on Sundays") has a weekday (0 = Monday)
and no dates. Who may edit: edit-jobs roles for any person or truck in their location scope
(people and trucks with no location: company-wide roles only), and a user linked to a crew
member for that person alone. Every change is audited (crew.time_off_added / _removed,
truck.out_of_service_added / _removed). The caller commits.
"""
import re
from datetime import date
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa

from dashboard.audit.trail import record
from dashboard.crew.availability import WEEKDAY_NAMES
from dashboard.crew.availability import midnight
from dashboard.crew.availability import when_text
from dashboard.db import db
from dashboard.models import CrewMember
from dashboard.models import TimeOff
from dashboard.models import Truck
from dashboard.permissions import Perm
from dashboard.permissions import Scope
from dashboard.permissions import can
from dashboard.permissions import scope_of
from dashboard.permissions import visible_location_ids
from dashboard.timeutil import in_day_range
from dashboard.timeutil import parse_iso_date

MAX_REASON = 200
MAX_DAYS = 366
_MOMENT = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class TimeOffError(Exception):
    """A refused entry: status is the HTTP answer it maps to (422 bad input, 404 unknown, 403 not allowed)."""

    def __init__(self, message, status=422):
        super().__init__(message)
        self.status = status


def parse_moment(text, field="from"):
    """(datetime, is_whole_day) from "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM" (company-local); TimeOffError otherwise."""
    if isinstance(text, date) and not isinstance(text, datetime):
        return midnight(text), True
    if isinstance(text, datetime):
        return text.replace(second=0, microsecond=0, tzinfo=None), False
    if not isinstance(text, str) or not text.strip().isascii():
        raise TimeOffError(f"{field} must be a date (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM).")
    text = text.strip()
    day = parse_iso_date(text)
    if day is not None:
        return midnight(day), True
    match = _MOMENT.fullmatch(text)
    day = parse_iso_date(match.group(1)) if match else None
    if day is None or int(match.group(2)) > 23 or int(match.group(3)) > 59:
        raise TimeOffError(f"{field} must be a date (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM), "
                           "between 2000 and 2099.")
    return midnight(day) + timedelta(hours=int(match.group(2)), minutes=int(match.group(3))), False


def parse_range(start_text, end_text=None):
    """[start, end) from the two ends given by a person; TimeOffError when unparseable, reversed or too long.

    Dates are whole days, both included ("from Mon to Fri" is five days); an end left out means
    the start's day alone (a time as the start then needs an end).
    """
    start, _ = parse_moment(start_text, "from")
    if end_text in (None, ""):
        if start.time() != midnight(start.date()).time():
            raise TimeOffError("to is needed when from is a time of day (YYYY-MM-DDTHH:MM).")
        end_text = start.date()
    end, end_is_day = parse_moment(end_text, "to")
    if end_is_day:
        end += timedelta(days=1)  # the end date is included: its whole day counts
    if end <= start:
        raise TimeOffError("to must come after from.")
    if end - start > timedelta(days=MAX_DAYS):
        raise TimeOffError(f"Time off may cover at most {MAX_DAYS} days; split longer absences.")
    if not in_day_range((end - timedelta(minutes=1)).date()):
        raise TimeOffError("to must lie between 2000 and 2099.")
    return start, end


def clean_reason(text):
    """The reason as one trimmed line of at most MAX_REASON characters; TimeOffError otherwise."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise TimeOffError("reason must be text.")
    text = " ".join(text.split())
    if _CONTROL.search(text):
        raise TimeOffError("reason may not contain control characters.")
    if len(text) > MAX_REASON:
        raise TimeOffError(f"reason may be at most {MAX_REASON} characters.")
    return text


def parse_weekday(value):
    """0 (Monday) .. 6 (Sunday) from an int, a digit string or a day name ("sun", "Sunday")."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    text = str(value or "").strip().casefold()
    if text.isdigit() and len(text) == 1 and int(text) <= 6:
        return int(text)
    for index, name in enumerate(WEEKDAY_NAMES):
        if len(text) >= 3 and name.casefold().startswith(text):
            return index
    raise TimeOffError("weekday must be a day of the week (0 = Monday … 6 = Sunday).")


def _in_location_scope(actor, company_id, location_id):
    """True when an edit-jobs actor's scope covers a subject of company_id at location_id."""
    scope = scope_of(actor)
    if scope is Scope.ALL_COMPANIES:
        return True
    if scope is Scope.NONE or company_id != actor.company_id:
        return False
    if scope is Scope.OWN_COMPANY:
        return True
    # Assigned locations: people and trucks without a location belong to company-wide roles only.
    return location_id is not None and location_id in visible_location_ids(actor)


def _sees_company(actor, company_id):
    """True when the actor's scope reaches company_id at all (else the subject is a 404 for them)."""
    return scope_of(actor) is Scope.ALL_COMPANIES or company_id == actor.company_id


def may_edit_person(actor, member):
    """True when actor may add or remove member's time off: edit-jobs in scope, or the member themself."""
    if actor is None or member is None or not getattr(actor, "is_authenticated", False):
        return False
    if getattr(actor, "crew_member_id", None) == member.id and actor.company_id == member.company_id:
        return True
    return can(actor, Perm.EDIT_JOBS) and _in_location_scope(actor, member.company_id, member.location_id)


def may_edit_truck(actor, truck):
    """True when actor may add or remove truck's out-of-service periods: edit-jobs roles in scope."""
    if actor is None or truck is None or not getattr(actor, "is_authenticated", False):
        return False
    return can(actor, Perm.EDIT_JOBS) and _in_location_scope(actor, truck.company_id, truck.location_id)


def person_for_edit(actor, member_id):
    """The CrewMember actor may edit; TimeOffError 404 when unknown to them, 403 when not theirs to edit."""
    member = db.session.get(CrewMember, member_id) if isinstance(member_id, int) else None
    if member is None or not _sees_company(actor, member.company_id):
        raise TimeOffError("No such crew member.", 404)
    if not may_edit_person(actor, member):
        raise TimeOffError("You may not change this person's time off.", 403)
    return member


def truck_for_edit(actor, truck_id):
    """The Truck actor may edit; TimeOffError 404 when unknown to them, 403 when not theirs to edit."""
    truck = db.session.get(Truck, truck_id) if isinstance(truck_id, int) else None
    if truck is None or not _sees_company(actor, truck.company_id):
        raise TimeOffError("No such truck.", 404)
    if not may_edit_truck(actor, truck):
        raise TimeOffError("You may not change this truck's service periods.", 403)
    return truck


def _same_dated(subject_column, subject_id, start, end):
    """An existing entry with exactly these bounds (a double tap adds nothing twice), or None."""
    return db.session.scalar(sa.select(TimeOff).where(
        subject_column == subject_id, TimeOff.starts_at == start, TimeOff.ends_at == end).limit(1))


def _audit(actor, entry, action, target):
    """The audit event of an added or removed entry."""
    record(entry.company_id, getattr(actor, "id", None), action, target, entry=entry.id,
           **{"from": entry.starts_at.isoformat() if entry.starts_at else None,
              "to": entry.ends_at.isoformat() if entry.ends_at else None},
           weekday=entry.weekday, reason=entry.reason or "")


def add_for_person(actor, member_id, start_text, end_text=None, reason=None):
    """Add dated time off for a crew member: the TimeOff row (flushed, audited), or TimeOffError."""
    member = person_for_edit(actor, member_id)
    start, end = parse_range(start_text, end_text)
    reason = clean_reason(reason)
    existing = _same_dated(TimeOff.crew_member_id, member.id, start, end)
    if existing is not None:
        return existing
    entry = TimeOff(company_id=member.company_id, crew_member_id=member.id, starts_at=start, ends_at=end,
                    reason=reason, created_by=getattr(actor, "id", None))
    db.session.add(entry)
    db.session.flush()
    _audit(actor, entry, "crew.time_off_added", f"crew:{member.id}")
    return entry


def add_weekly(actor, member_id, weekday, reason=None):
    """Mark a crew member never available on weekday (every week, all day); an existing one is returned."""
    member = person_for_edit(actor, member_id)
    weekday = parse_weekday(weekday)
    reason = clean_reason(reason)
    existing = db.session.scalar(sa.select(TimeOff).where(
        TimeOff.crew_member_id == member.id, TimeOff.weekday == weekday).limit(1))
    if existing is not None:
        return existing
    entry = TimeOff(company_id=member.company_id, crew_member_id=member.id, weekday=weekday, reason=reason,
                    created_by=getattr(actor, "id", None))
    db.session.add(entry)
    db.session.flush()
    _audit(actor, entry, "crew.time_off_added", f"crew:{member.id}")
    return entry


def add_for_truck(actor, truck_id, start_text, end_text=None, reason=None):
    """Add an out-of-service period for a truck: the TimeOff row (flushed, audited), or TimeOffError."""
    truck = truck_for_edit(actor, truck_id)
    start, end = parse_range(start_text, end_text)
    reason = clean_reason(reason)
    existing = _same_dated(TimeOff.truck_id, truck.id, start, end)
    if existing is not None:
        return existing
    entry = TimeOff(company_id=truck.company_id, truck_id=truck.id, starts_at=start, ends_at=end, reason=reason,
                    created_by=getattr(actor, "id", None))
    db.session.add(entry)
    db.session.flush()
    _audit(actor, entry, "truck.out_of_service_added", f"truck:{truck.id}")
    return entry


def entry_for_edit(actor, entry_id):
    """The TimeOff row actor may remove; TimeOffError 404 when unknown to them, 403 when not theirs."""
    entry = db.session.get(TimeOff, entry_id) if isinstance(entry_id, int) else None
    if entry is None or not _sees_company(actor, entry.company_id):
        raise TimeOffError("No such time off.", 404)
    if entry.truck_id is not None:
        truck_for_edit(actor, entry.truck_id)
    else:
        person_for_edit(actor, entry.crew_member_id)
    return entry


def remove(actor, entry_id):
    """Delete one entry (time off or out of service), audited; returns the removed row, or TimeOffError."""
    entry = entry_for_edit(actor, entry_id)
    if entry.truck_id is not None:
        _audit(actor, entry, "truck.out_of_service_removed", f"truck:{entry.truck_id}")
    else:
        _audit(actor, entry, "crew.time_off_removed", f"crew:{entry.crew_member_id}")
    db.session.delete(entry)
    db.session.flush()
    return entry


def _upcoming(subject_column, subject_ids, today):
    """Entries of these subjects that are weekly or end after today's midnight, in date order."""
    if not subject_ids:
        return []
    return list(db.session.scalars(
        sa.select(TimeOff).where(subject_column.in_(list(subject_ids)))
        .where(sa.or_(TimeOff.weekday.is_not(None), TimeOff.ends_at > midnight(today)))
        .order_by(TimeOff.weekday.is_(None), TimeOff.weekday, TimeOff.starts_at, TimeOff.id)))


def upcoming_for_person(member_id, today):
    """A crew member's weekly entries, then their dated time off from today on."""
    return _upcoming(TimeOff.crew_member_id, [member_id], today)


def upcoming_for_trucks(truck_ids, today):
    """{truck_id: [TimeOff]}: the trucks' out-of-service periods from today on."""
    found = {}
    for entry in _upcoming(TimeOff.truck_id, truck_ids, today):
        found.setdefault(entry.truck_id, []).append(entry)
    return found


def entry_text(entry):
    """ "Fri 11 Dec (dentist)", "Every Sunday", "Fri 11 Dec 08:00–12:00": how lists show one entry."""
    when = f"Every {WEEKDAY_NAMES[entry.weekday]}" if entry.weekday is not None else when_text(
        entry.starts_at, entry.ends_at)
    return f"{when} ({entry.reason})" if entry.reason else when


def _json_moment(moment, is_end):
    """A bound as the API takes it: a date for midnights (the end date included), else YYYY-MM-DDTHH:MM."""
    if moment.hour == 0 and moment.minute == 0:
        return ((moment - timedelta(days=1)) if is_end else moment).date().isoformat()
    return moment.strftime("%Y-%m-%dT%H:%M")


def entry_bounds(entry):
    """(from, to) as the API writes them; whole days as dates (both included), None for weekly entries."""
    if entry.weekday is not None or entry.starts_at is None:
        return None, None
    if entry.starts_at.time() == midnight(entry.starts_at.date()).time() and \
            entry.ends_at.time() == midnight(entry.ends_at.date()).time():
        return _json_moment(entry.starts_at, False), _json_moment(entry.ends_at, True)
    return entry.starts_at.strftime("%Y-%m-%dT%H:%M"), entry.ends_at.strftime("%Y-%m-%dT%H:%M")


def entry_to_dict(entry):
    """The API's entry: {"id", "crewMemberId", "from", "to", "reason", "weekday"} (truckId for a truck's)."""
    start, end = entry_bounds(entry)
    body = {"id": entry.id, "from": start, "to": end, "reason": entry.reason or "", "weekday": entry.weekday}
    if entry.truck_id is not None:
        body["truckId"] = entry.truck_id
    else:
        body["crewMemberId"] = entry.crew_member_id
    return body



def compose_bounds(from_day, from_time=None, to_day=None, to_time=None):
    """(from, to) texts for parse_range from a form's date and optional time fields.

    No times: whole days from_day..to_day (to_day defaults to from_day). A start time alone
    runs to the end of its day; an end time alone starts at midnight.
    """
    from_day, from_time = (from_day or "").strip(), (from_time or "").strip()
    to_day, to_time = (to_day or "").strip() or from_day, (to_time or "").strip()
    if not from_time and not to_time:
        return from_day, to_day
    start = f"{from_day}T{from_time or '00:00'}"
    if to_time:
        return start, f"{to_day}T{to_time}"
    return start, to_day


def trucks_in_scope(actor):
    """The trucks whose service periods actor may edit (edit-jobs roles: their company and locations)."""
    if not can(actor, Perm.EDIT_JOBS):
        return []
    query = sa.select(Truck).order_by(Truck.name)
    scope = scope_of(actor)
    if scope is not Scope.ALL_COMPANIES:
        query = query.where(Truck.company_id == actor.company_id)
    if scope is Scope.ASSIGNED_LOCATIONS:
        ids = visible_location_ids(actor)
        query = query.where(Truck.location_id.in_(ids) if ids else sa.false())
    return list(db.session.scalars(query))
