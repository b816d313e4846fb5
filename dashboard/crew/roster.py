"""The roster: who is on the crew, where, with their jobs, hours and time off (read side), and edits of our fields.

Scope follows the board's: company-wide roles see every crew member of their company
(people without a location too); dispatchers and managers see the people of their
locations only. A whole roster costs three queries whatever its size: the people, their
jobs over today, tomorrow and this week (one query; counts and hours in Python), and their
time off.
"""
import re
from dataclasses import dataclass
from dataclasses import field
from datetime import timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from dashboard.audit.trail import record
from dashboard.auth.users import UserError
from dashboard.auth.users import normalise_email
from dashboard.crew.availability import midnight
from dashboard.crew.availability import off_for_people
from dashboard.crew.availability import overlaps
from dashboard.db import db
from dashboard.models import CrewMember
from dashboard.models import CrewRole
from dashboard.models import Location
from dashboard.models import SyncStatus
from dashboard.models import TimeOff
from dashboard.models import TruckJourney
from dashboard.permissions import Perm
from dashboard.permissions import can
from dashboard.permissions import scope_query
from dashboard.stamps import ordered_stamp

# Jobs that book nobody's time (a cancelled move frees its crew); completed ones did take it.
UNBOOKED_STATUSES = ("CANCELLED", "LOST", "BAD_LEAD")
NOTES_LIMIT = 2000
PHONE_PATTERN = re.compile(r"^\+?[0-9 ]+$")
ROLE_CHOICES = tuple(role.value for role in CrewRole)


class RosterError(ValueError):
    """An edit of our crew fields that cannot be saved; the message is safe to show, field names the input."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


@dataclass
class RosterEntry:
    """One person on the roster page: the member, their job ids today and tomorrow, hours this week, time off."""
    member: CrewMember
    today_job_ids: list = field(default_factory=list)
    tomorrow_job_ids: list = field(default_factory=list)
    week_hours: float = 0.0
    time_off: list = field(default_factory=list)   # TimeOff rows: weekly ones, then dated ones from today on
    off_but_booked: list = field(default_factory=list)   # days shown (today, tomorrow) off during a job of theirs


def week_of(day):
    """(monday, next monday) of day's week: the roster's "this week" (Mon–Sun, company-local)."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=7)


def crew_in_scope(user, location_id=None, include_inactive=True):
    """Crew members user may see (their company; their locations for location-scoped roles), by name."""
    if not can(user, Perm.VIEW_JOBS):
        return []
    stmt = (sa.select(CrewMember).options(so.selectinload(CrewMember.location))
            .order_by(CrewMember.name, CrewMember.id))
    stmt = scope_query(stmt, user, CrewMember.company_id, CrewMember.location_id)
    if location_id is not None:
        stmt = stmt.where(CrewMember.location_id == location_id)
    members = list(db.session.scalars(stmt))
    return members if include_inactive else [member for member in members if member.is_active]


def member_for(user, member_id):
    """The crew member with this id if user may see them, else None (other tenants' ids are never revealed)."""
    if member_id is None or not can(user, Perm.VIEW_JOBS):
        return None
    stmt = scope_query(sa.select(CrewMember).where(CrewMember.id == member_id), user,
                       CrewMember.company_id, CrewMember.location_id)
    return db.session.scalar(stmt)


def location_in_scope(user, location_id):
    """The location with this id if user may see it, else None."""
    stmt = scope_query(sa.select(Location).where(Location.id == location_id), user,
                       Location.company_id, Location.id)
    return db.session.scalar(stmt) if can(user, Perm.VIEW_JOBS) else None


def jobs_by_member(company_ids, start, end):
    """{crew_member_id: [(job id, day, span_start, span_end)]} of the live jobs on days [start, end).

    One query over the companies' days (ix_journey_company_date); people are matched by
    id on each job's effective crew (ours when we assigned one, else SmartMoving's).
    """
    if not company_ids:
        return {}
    rows = db.session.execute(
        sa.select(TruckJourney.id, TruckJourney.scheduled_date, TruckJourney.span_start, TruckJourney.span_end,
                  TruckJourney.crew, TruckJourney.crew_member_ids, TruckJourney.smartmoving_crew_ids)
        .where(TruckJourney.company_id.in_(sorted(company_ids)),
               TruckJourney.scheduled_date >= start, TruckJourney.scheduled_date < end,
               TruckJourney.sync_status != SyncStatus.REMOVED.value,
               TruckJourney.status.not_in(UNBOOKED_STATUSES)))
    found = {}
    for job_id, day, span_start, span_end, crew, ours, theirs in rows:
        ids = (ours or []) if crew else (theirs or [])
        for member_id in dict.fromkeys(member_id for member_id in ids if member_id is not None):
            found.setdefault(member_id, []).append((job_id, day, span_start, span_end))
    return found


def upcoming_time_off(company_ids, today):
    """{crew_member_id: [TimeOff]}: weekly entries, then dated ones ending after today's midnight (one query)."""
    if not company_ids:
        return {}
    rows = db.session.scalars(
        sa.select(TimeOff).where(TimeOff.company_id.in_(sorted(company_ids)), TimeOff.crew_member_id.is_not(None))
        .where(sa.or_(TimeOff.weekday.is_not(None), TimeOff.ends_at > midnight(today)))
        .order_by(TimeOff.weekday.is_(None), TimeOff.weekday, TimeOff.starts_at, TimeOff.id))
    found = {}
    for entry in rows:
        found.setdefault(entry.crew_member_id, []).append(entry)
    return found


def off_shown_days(company_ids, today):
    """{crew_member_id: [OffPeriod]} of time off touching today or tomorrow (one query per company)."""
    found = {}
    for company_id in sorted(company_ids):
        found.update(off_for_people(company_id, today, today + timedelta(days=2)))
    return found


def _hours(span_start, span_end):
    if span_start is None or span_end is None or span_end <= span_start:
        return 0.0
    return (span_end - span_start).total_seconds() / 3600


def roster_entries(members, today):
    """A RosterEntry per member: job ids today and tomorrow, hours booked this week, upcoming time off."""
    company_ids = {member.company_id for member in members}
    monday, next_monday = week_of(today)
    tomorrow = today + timedelta(days=1)
    jobs = jobs_by_member(company_ids, min(monday, today), max(next_monday, tomorrow + timedelta(days=1)))
    time_off = upcoming_time_off(company_ids, today)
    off = off_shown_days(company_ids, today)
    entries = []
    for member in members:
        entry = RosterEntry(member, time_off=time_off.get(member.id, []))
        for job_id, day, span_start, span_end in jobs.get(member.id, ()):
            if day == today:
                entry.today_job_ids.append(job_id)
            elif day == tomorrow:
                entry.tomorrow_job_ids.append(job_id)
            # Off during the job itself (a half day off after a morning move is fine): a clash to fix.
            if day in (today, tomorrow) and day not in entry.off_but_booked \
                    and overlaps(off.get(member.id), span_start, span_end, day):
                entry.off_but_booked.append(day)
            if monday <= day < next_monday:
                entry.week_hours += _hours(span_start, span_end)
        entries.append(entry)
    return entries


def roster_groups(user, today, location_id=None):
    """[(Location or None, [RosterEntry])]: the roster by location name, people without one last."""
    entries = roster_entries(crew_in_scope(user, location_id), today)
    groups = {}
    for entry in entries:
        groups.setdefault(entry.member.location_id, []).append(entry)
    for bucket in groups.values():
        # Active people first, then by name: inactive ones stay listed, greyed.
        bucket.sort(key=lambda entry: (not entry.member.is_active, entry.member.name.casefold(), entry.member.id))
    ordered = sorted(groups.items(), key=lambda item: (item[0] is None, _location_name(item[1]).casefold()))
    return [(bucket[0].member.location, bucket) for _, bucket in ordered]


def _location_name(bucket):
    location = bucket[0].member.location
    return location.name if location is not None else ""


@dataclass
class DayCrew:
    """One person as the crew API answers for a day."""
    member: CrewMember
    available: bool
    off: list          # availability.OffPeriod touching the day
    job_ids: list


def crew_for_day(user, day, location_id=None):
    """[DayCrew] of the active people user may see on day: off or not (any time off touching the day), their jobs."""
    members = crew_in_scope(user, location_id, include_inactive=False)
    company_ids = {member.company_id for member in members}
    jobs = jobs_by_member(company_ids, day, day + timedelta(days=1))
    off = {}
    for company_id in sorted(company_ids):
        off.update(off_for_people(company_id, day, day + timedelta(days=1)))
    return [DayCrew(member, not off.get(member.id), off.get(member.id, []),
                    [job_id for job_id, *_ in jobs.get(member.id, ())]) for member in members]


def clean_contact(role, phone, email, notes):
    """(role, phone, email, notes) tidied and checked; RosterError says what is wrong.

    role: a CrewRole value or empty; phone: digits, spaces and a leading +; email: an
    address (syntax only); notes: at most NOTES_LIMIT characters. Blanks become None.
    """
    role = (role or "").strip().lower() or None
    if role is not None and role not in ROLE_CHOICES:
        raise RosterError("Pick driver, foreman or mover.", "role")
    phone = " ".join((phone or "").split()) or None
    if phone is not None and (len(phone) > 64 or not PHONE_PATTERN.match(phone)):
        raise RosterError("A phone number has digits, spaces and a leading + only.", "phone")
    email = (email or "").strip() or None
    if email is not None:
        email = _checked_email(email)
    notes = (notes or "").strip() or None
    if notes is not None and len(notes) > NOTES_LIMIT:
        raise RosterError(f"Notes have at most {NOTES_LIMIT} characters.", "notes")
    return role, phone, email, notes


def _checked_email(text):
    """text as a valid e-mail address in canonical form (the users' own check), or RosterError."""
    try:
        return normalise_email(text)
    except UserError as error:
        raise RosterError(str(error), "email") from None


def update_member(actor, member, role, phone, email, notes):
    """Save our own fields of member (role, phone, e-mail, notes); audited as crew.member_updated.

    Returns {field: [old, new]} of what changed (empty: nothing written). The caller
    checked EDIT_JOBS and scope; the caller commits.
    """
    if not can(actor, Perm.EDIT_JOBS):
        raise RosterError("You may not edit the roster.")  # views answer 403 before this
    values = dict(zip(("role", "phone", "email", "notes"), clean_contact(role, phone, email, notes), strict=True))
    changes = {name: [getattr(member, name), value] for name, value in values.items()
               if getattr(member, name) != value}
    if not changes:
        return {}
    # Open boards compare the roster's newest stamp: taken in commit order (dashboard/stamps.py), so a
    # sync's crew refresh committing after this edit cannot hide behind it, nor this edit behind the sync.
    member.changed_at = ordered_stamp(member.company_id)
    for name, (_, value) in changes.items():
        setattr(member, name, value)
    # Notes can be long: the trail says they changed, not what they say.
    detail = {name: (["…", "…"] if name == "notes" else pair) for name, pair in changes.items()}
    record(member.company_id, actor.id, "crew.member_updated", f"crew:{member.id}",
           name=member.name, changed=sorted(changes), **detail)
    db.session.flush()
    return changes
