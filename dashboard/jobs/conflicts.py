"""Double bookings by time: a truck or crew member on two live jobs whose spans overlap.

Spans are half-open, so 08:00-10:00 and 10:00-12:00 do not clash. Cancelled,
completed and removed jobs are not live: they never clash and never need a truck or
crew. A job without an arrival start could be any time that day, so it counts as
busy all day (its clashes say "time not set") rather than silently clashing with none.
Crew names match case- and spacing-insensitively on the effective crew (ours, else
SmartMoving's); two entries that both carry a CrewMember id match by id only (two people
who share a name never clash). Conflicts are reported, never refused.

Beyond double bookings (kinds "truck", "crew") a job's conflicts carry:
- "timeoff": a person on the job is off during its span (dashboard/crew/availability.py);
- "truck-unavailable": its truck is out of service during its span;
- "understaffed" and "no-driver" (day_conflicts only, flags not clashes: no other job is
  involved): fewer people than crew_required, or a truck and nobody whose role is driver
  (only in a company where somebody has the driver role: one without roles is not flagged).
"""
import functools
import hashlib
import heapq
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa

from dashboard.crew import availability
from dashboard.db import db
from dashboard.jobs import crew_roster
from dashboard.jobs.queries import MOVED_AWAY
from dashboard.jobs.spans import clock
from dashboard.jobs.spans import compute_span
from dashboard.jobs.spans import default_job_hours
from dashboard.jobs.spans import span_for
from dashboard.models import DispatchStatus
from dashboard.models import SyncStatus
from dashboard.models import Truck
from dashboard.models import TruckJourney
from dashboard.models import truck_label
from dashboard.permissions import Perm
from dashboard.permissions import Scope
from dashboard.permissions import can
from dashboard.permissions import crew_key
from dashboard.permissions import crew_name_of
from dashboard.permissions import scope_of
from dashboard.permissions import visible_location_ids

# SmartMoving statuses of jobs that will not (or did already) happen.
DEAD_STATUSES = frozenset({"CANCELLED", "COMPLETED", "CLOSED", "LOST", "BAD_LEAD"})


@dataclass(frozen=True)
class Clash:
    """One double booking seen from job_id: name is also on other_id during [start, end)."""
    kind: str                 # "truck" | "crew"
    name: str                 # truck name or crew member (as spelled on job_id)
    job_id: int
    other_id: int
    other_job_number: str | None
    other_location_id: int | None
    start: datetime           # the OTHER job's span (time off: the period; flags: the job's own span)
    end: datetime
    timed: bool = True        # False: the other job has no arrival time (busy all day)
    text: str | None = None   # timeoff/truck-unavailable: the period ("Off Fri 11 Dec (dentist)"); flags: why


TIMEOFF = "timeoff"
TRUCK_UNAVAILABLE = "truck-unavailable"
UNDERSTAFFED = "understaffed"
NO_DRIVER = "no-driver"
# Kinds that involve another job (a double booking); the rest concern the job alone.
BOOKING_KINDS = frozenset({"truck", "crew"})
AVAILABILITY_KINDS = frozenset({TIMEOFF, TRUCK_UNAVAILABLE})
STAFFING_KINDS = frozenset({UNDERSTAFFED, NO_DRIVER})


@dataclass
class _Row:
    """What conflict checks need of one job, without loading the ORM object."""
    id: int
    job_number: str | None
    location_id: int | None
    truck_id: int | None
    truck_name: str | None
    crew: list
    start: datetime
    end: datetime
    timed: bool
    people: tuple = ()        # (as shown, as compared, CrewMember id or None) of each distinct crew member
    company_id: int | None = None
    day: object = None
    crew_required: int | None = None


_REMOVED = SyncStatus.REMOVED.value          # enum lookups are slow in a loop over a whole day
_COMPLETED = DispatchStatus.COMPLETED.value


def is_live(job):
    """False for cancelled/completed jobs (SmartMoving's or our dispatch status), removed ones, and the greyed
    copy a board shows of a job SmartMoving moved to another day (queries.MOVED_AWAY, issue 19)."""
    return (job.sync_status != _REMOVED and job.sync_status != MOVED_AWAY
            and (job.status or "").upper() not in DEAD_STATUSES
            and job.dispatch_status != _COMPLETED)


def needs_truck(job):
    """A live job without a truck."""
    return is_live(job) and job.truck_id is None


def needs_crew(job):
    """A live job without a crew (ours or SmartMoving's)."""
    return is_live(job) and not job.effective_crew


def busy_span(day, start, end):
    """(start, end, timed): the span, or the whole day when the job has no time."""
    if start is None or end is None:
        midnight = datetime.combine(day, datetime.min.time())
        return midnight, midnight + timedelta(days=1), False
    return start, end, True


def rows_statement(company_id, day, exclude_id=None):
    """The one query behind _day_rows: the columns conflict checks need, live jobs only."""
    stmt = (
        sa.select(TruckJourney.id, TruckJourney.job_number, TruckJourney.location_id, TruckJourney.truck_id,
                  Truck.name, TruckJourney.crew, TruckJourney.smartmoving_crew, TruckJourney.span_start,
                  TruckJourney.span_end, TruckJourney.arrival_start_hour, TruckJourney.crew_member_ids,
                  TruckJourney.smartmoving_crew_ids, TruckJourney.crew_required)
        .outerjoin(Truck, Truck.id == TruckJourney.truck_id)
        .where(TruckJourney.company_id == company_id, TruckJourney.scheduled_date == day,
               TruckJourney.sync_status != SyncStatus.REMOVED.value,
               TruckJourney.status.not_in(DEAD_STATUSES),
               TruckJourney.dispatch_status != DispatchStatus.COMPLETED.value)
    )
    if exclude_id is not None:
        stmt = stmt.where(TruckJourney.id != exclude_id)
    return stmt


def _row(day, hours, job_id, number, location_id, truck_id, truck_name, crew, span_start, span_end, start_hour,
         crew_ids=None, company_id=None, crew_required=None):
    if span_start is None or span_end is None:
        span_start, span_end = compute_span(day, start_hour, None, hours)
    start, end, timed = busy_span(day, span_start, span_end)
    people, seen = [], set()
    for name, member_id in zip(crew, crew_roster.aligned_ids(crew, crew_ids), strict=True):
        display, key = _name_forms(str(name))
        identity = member_id if member_id is not None else key
        if key and identity not in seen:
            seen.add(identity)
            people.append((display, key, member_id))
    return _Row(job_id, number, location_id, truck_id, truck_name, list(crew), start, end, timed, tuple(people),
                company_id, day, crew_required)


def _day_rows(company_id, day, exclude_id=None):
    """Live jobs of company on day as _Rows, in one query."""
    hours = default_job_hours()
    return [_row(day, hours, job_id, number, location_id, truck_id, truck_name, crew or sm_crew or (),
                 span_start, span_end, start_hour, (crew_ids if crew else sm_ids), company_id, required)
            for (job_id, number, location_id, truck_id, truck_name, crew, sm_crew, span_start, span_end, start_hour,
                 crew_ids, sm_ids, required)
            in db.session.execute(rows_statement(company_id, day, exclude_id))]


def rows_of_jobs(jobs, day):
    """The live ones among jobs of day (already loaded, with their trucks) as _Rows: no query."""
    hours = default_job_hours()
    return [_row(day, hours, job.id, job.job_number, job.location_id, job.truck_id,
                 job.truck.name if job.truck else None, job.effective_crew, job.span_start, job.span_end,
                 job.arrival_start_hour, crew_roster.effective_ids(job), job.company_id,
                 getattr(job, "crew_required", None))
            for job in jobs if is_live(job)]


def _overlapping_pairs(entries):
    """Pairs of entries (start, end, ...) whose half-open spans overlap: O(n log n + pairs)."""
    entries = sorted(entries, key=lambda entry: (entry[0], entry[1]))
    active = []  # heap of (end, index) of entries still running at the current start
    for index, entry in enumerate(entries):
        start, end = entry[0], entry[1]
        while active and active[0][0] <= start:
            heapq.heappop(active)
        for _, other in active:
            if entries[other][0] < end:  # a zero-length span touches nothing
                yield entries[other], entry
        heapq.heappush(active, (end, index))


def _clash(kind, name, job_id, other):
    return Clash(kind, name, job_id, other.id, other.job_number, other.location_id, other.start, other.end,
                 other.timed)


def _same_person(first_id, second_id):
    """Entries with the same name are one person unless both carry different CrewMember ids."""
    return first_id is None or second_id is None or first_id == second_id


def _sort(clashes):
    return sorted(clashes, key=lambda c: (c.start, c.kind != "truck", c.name.casefold(), c.other_id))


def day_conflicts(company_id, day):
    """{job id: [Clash]} for every live job of company on day that has one (a few queries)."""
    return conflicts_among(_day_rows(company_id, day))


def _name_forms(name):
    """(name with spacing tidied, crew_key of it): this runs per person per job per read."""
    if len(name) > _CACHED_NAME:
        return _tidy(name)
    return _cached_forms(name)


# Names kept tidied: at most 16,384 of at most 80 characters (under 8 MiB, ~3 MiB as names go).
_CACHED_NAME = 80


def _tidy(name):
    display = " ".join(name.split())
    return display, display.casefold()


_cached_forms = functools.lru_cache(maxsize=16_384)(_tidy)   # the same names come back on every read of a day


def conflicts_among(rows):
    """{job id: [Clash]} among rows, the live jobs of one company's day: double bookings, time off,
    trucks out of service and the staffing flags."""
    rows = list(rows)
    by_truck, by_person = {}, {}
    for row in rows:
        if row.truck_id is not None:
            by_truck.setdefault(row.truck_id, []).append((row.start, row.end, row, row.truck_name, None))
        for display, key, member_id in row.people:
            by_person.setdefault(key, []).append((row.start, row.end, row, display, member_id))
    found = {}
    for kind, groups in (("truck", by_truck), ("crew", by_person)):
        for entries in groups.values():
            if len(entries) < 2:
                continue
            for (_, _, first, first_name, first_id), (_, _, second, second_name, second_id) \
                    in _overlapping_pairs(entries):
                if not _same_person(first_id, second_id):
                    continue
                found.setdefault(first.id, []).append(_clash(kind, first_name, first.id, second))
                found.setdefault(second.id, []).append(_clash(kind, second_name, second.id, first))
    for job_id, clashes in _roster_clashes(rows).items():
        found.setdefault(job_id, []).extend(clashes)
    return {job_id: _sort(clashes) for job_id, clashes in found.items()}


def _window_of(rows):
    """(earliest start, latest end) of rows: the stretch whose time off matters."""
    return min(row.start for row in rows), max(row.end for row in rows)


def _roster_clashes(rows):
    """{job id: [Clash]} of time off, trucks out of service and staffing, per company (3 queries each)."""
    by_company = {}
    for row in rows:
        if row.company_id is not None:
            by_company.setdefault(row.company_id, []).append(row)
    found = {}
    for company_id, company_rows in by_company.items():
        start, end = _window_of(company_rows)
        roster = crew_roster.load(company_id)
        people_off = availability.off_for_people(company_id, start, end)
        trucks_off = availability.off_for_trucks(company_id, start, end)
        for row in company_rows:
            # Most rows have nobody off, no truck out and a full crew with a driver: check cheaply first.
            persons = [roster.person_of(key, member_id) for _, key, member_id in row.people]
            clashes = []
            if people_off or row.truck_id in trucks_off:
                clashes += _availability_of(row, roster, people_off, trucks_off, persons=persons)
            if row.crew_required or (row.truck_id is not None and roster.has_drivers):
                clashes += staffing_flags(row, roster, persons)
            if clashes:
                found[row.id] = clashes
    return found


def _own(kind, name, row, start, end, text, other_id=0, timed=True):
    """A clash of row with something other than a job (other_id: the time-off entry, or 0)."""
    return Clash(kind, name, row.id, other_id, None, None, start, end, timed, text)


def _availability_of(row, roster, people_off, trucks_off, persons=None):
    """timeoff and truck-unavailable clashes of row; persons: the Person (or None) of each of row.people."""
    clashes = []
    if row.truck_id is not None and row.truck_id in trucks_off:
        for period in availability.overlaps(trucks_off[row.truck_id], row.start, row.end):
            clashes.append(_own(TRUCK_UNAVAILABLE, row.truck_name or "", row, period.start, period.end, period.text,
                                period.id))
    if persons is None:
        persons = [roster.person_of(key, member_id) for _, key, member_id in row.people]
    for (display, _, _), person in zip(row.people, persons, strict=True):
        if person is None or person.id not in people_off:
            continue
        for period in availability.overlaps(people_off[person.id], row.start, row.end):
            clashes.append(_own(TIMEOFF, display, row, period.start, period.end, period.text, period.id))
    return clashes


def staffing_flags(row, roster, persons=None):
    """understaffed (fewer people than crew_required) and no-driver (a truck, nobody whose role is driver)."""
    flags = []
    count = len(row.people)
    if row.crew_required and count < row.crew_required:
        flags.append(_own(UNDERSTAFFED, f"{count} of {row.crew_required}", row, row.start, row.end,
                          f"{count} of {row.crew_required} people assigned", timed=row.timed))
    if persons is None:
        persons = [roster.person_of(key, member_id) for _, key, member_id in row.people]
    if row.truck_id is not None and roster.has_drivers and not any(
            person is not None and person.role == "driver" for person in persons):
        flags.append(_own(NO_DRIVER, row.truck_name or "", row, row.start, row.end,
                          "Nobody on the crew is a driver" if row.people else "No crew to drive the truck",
                          timed=row.timed))
    return flags


def overlapping_rows(job):
    """The day's other live jobs whose spans overlap job's (one query), for pickers that mark busy trucks and people."""
    start, end, _ = busy_span(job.scheduled_date, *span_for(job))
    return [row for row in _day_rows(job.company_id, job.scheduled_date, exclude_id=job.id)
            if row.start < end and start < row.end]


def preview_conflicts(job, truck_id, crew, crew_ids=None):
    """The clashes job would have with truck_id and crew (empty crew: SmartMoving's), before saving:
    double bookings, people off and the truck out of service during the job.

    crew_ids: CrewMember ids aligned with crew when known; else each name keeps the id it
    has on the job, or resolves to the one active person of that name.
    """
    if not is_live(job):
        return []
    truck = db.session.get(Truck, truck_id) if truck_id else None
    roster = crew_roster.load(job.company_id)
    if not crew:
        crew, crew_ids = job.smartmoving_crew or (), job.smartmoving_crew_ids
    me = _planned_row(job, truck, crew, _ids_for(job, roster, crew, crew_ids))
    clashes = []
    for other in overlapping_rows(job):
        if truck is not None and other.truck_id == truck.id:
            clashes.append(_clash("truck", truck.name, job.id, other))
        for display, key, member_id in me.people:
            if any(key == other_key and _same_person(member_id, other_id)
                   for _, other_key, other_id in other.people):
                clashes.append(_clash("crew", display, job.id, other))
    people_off = availability.off_for_people(job.company_id, me.start, me.end)
    trucks_off = availability.off_for_trucks(job.company_id, me.start, me.end) if truck is not None else {}
    clashes += _availability_of(me, roster, people_off, trucks_off)
    return _sort(clashes)


def _ids_for(job, roster, crew, crew_ids):
    """Ids aligned with crew: the given ones, else the id each name has on the job, else a unique active name."""
    given = crew_roster.aligned_ids(crew, crew_ids)
    kept = {}
    for name, member_id in zip(job.effective_crew, crew_roster.effective_ids(job), strict=True):
        if member_id is not None:
            kept.setdefault(crew_key(name), member_id)
    ids = []
    for name, member_id in zip(crew, given, strict=True):
        if member_id is None:
            member_id = kept.get(crew_key(name))
        if member_id is None:
            person = roster.unique(name)
            member_id = person.id if person else None
        ids.append(member_id)
    return ids


def _planned_row(job, truck, crew, crew_ids):
    """job as a _Row with truck and crew put on it (what preview_conflicts checks)."""
    return _row(job.scheduled_date, default_job_hours(), job.id, job.job_number, job.location_id,
                truck.id if truck else None, truck.name if truck else None, list(crew), *span_for(job),
                job.arrival_start_hour, crew_ids, job.company_id, job.crew_required)


def clash_key(clash):
    """A short stable token of one clash (kind, who, other job): what a form showed, sent back on save."""
    text = f"{clash.kind}|{crew_key(clash.name)}|{clash.job_id}|{clash.other_id}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def clash_keys(clashes):
    """The clash_keys of clashes as one space-separated string: the assign panel's shown_conflicts field."""
    return " ".join(clash_key(c) for c in clashes)


def added_clashes(job, truck_id, crew, accepted_keys=(), crew_ids=None):
    """The clashes job would get with truck_id and crew that it has not now, minus accepted_keys (clash_key).

    Double bookings, time off and trucks out of service alike: a panel drawn before someone
    booked the day off asks "Save anyway / Back" like one drawn before a double booking.
    """
    known = {clash_key(c) for c in preview_conflicts(job, job.truck_id, job.crew, job.crew_member_ids)}
    known |= set(accepted_keys)
    return [c for c in preview_conflicts(job, truck_id, crew, crew_ids) if clash_key(c) not in known]


def span_text(start, end, timed=True):
    """ "08:00–12:00", or "time not set" for a job without an arrival time."""
    if not timed:
        return "time not set"
    return f"{clock(start)}–{clock(end, start.date())}"


def busy_text(clash):
    """span_text of the other job in a clash."""
    return span_text(clash.start, clash.end, clash.timed)


def describe(clash, visible):
    """ "Truck 101 is also on job J-1002 (08:00–12:00)"; jobs the viewer may not see stay anonymous."""
    if clash.kind == TIMEOFF:
        return f"Crew member {clash.name} is off: {clash.text}."
    if clash.kind == TRUCK_UNAVAILABLE:
        return f"{truck_label(clash.name)} is out of service: {clash.text}."
    if clash.kind == UNDERSTAFFED:
        return f"Understaffed: {clash.text}."
    if clash.kind == NO_DRIVER:
        return f"No driver: {clash.text}."
    if clash.kind == "truck":
        what = truck_label(clash.name)
    else:
        what = f"Crew member {clash.name}"
    job = f"job {clash.other_job_number or f'#{clash.other_id}'}" if visible else "a job in another location"
    return f"{what} is also on {job} ({busy_text(clash)})."


def own_overlaps(user, jobs, day):
    """{job id: ["Overlaps your job #J-2 (09:00–11:00): tell dispatch."]} among jobs, user's own jobs of day.

    A driver or mover cannot fix a double booking, but should know of it before the
    day starts: each other job of theirs whose span overlaps is named once.
    """
    name = crew_key(crew_name_of(user))
    found = {}
    for job_id, clashes in conflicts_among(rows_of_jobs(jobs, day)).items():
        others = {}
        for clash in clashes:
            if clash.kind == "crew" and crew_key(clash.name) == name:
                others.setdefault(clash.other_id, clash)
        if others:
            found[job_id] = [f"Overlaps your job #{clash.other_job_number or clash.other_id} "
                             f"({busy_text(clash)}): tell dispatch." for clash in others.values()]
    return found


def visible_to(user, clash, company_id):
    """May user see the other job of a clash found among company_id's jobs (without loading it)?"""
    if clash.kind not in BOOKING_KINDS:   # no other job: the clash is about the job itself
        return False
    if can(user, Perm.VIEW_JOBS):
        scope = scope_of(user)
        if scope is Scope.ALL_COMPANIES:
            return True
        if company_id != user.company_id:
            return False
        return scope is Scope.OWN_COMPANY or clash.other_location_id in visible_location_ids(user)
    # Drivers and movers see the jobs they are on: a clash on their own name is one of them.
    return (can(user, Perm.VIEW_OWN_JOBS) and company_id == user.company_id and clash.kind == "crew"
            and crew_key(clash.name) == crew_key(crew_name_of(user)))
