"""The dispatch edit service: truck, crew, dispatch status and notes on one job.

These are our own columns; a sync never writes them. Every saved change leaves an
AuditEvent. Double bookings (overlapping spans, see conflicts.py) are reported, not
refused: the dispatcher may know something the estimates do not.
"""
import hashlib
import logging
from dataclasses import dataclass

import sqlalchemy as sa

from dashboard.crew import availability
from dashboard.crew.roster import jobs_by_member
from dashboard.crew.roster import week_of
from dashboard.db import db
from dashboard.jobs import conflicts
from dashboard.jobs import crew_pick
from dashboard.jobs import crew_roster
from dashboard.jobs import spans
from dashboard.models import AuditEvent
from dashboard.models import DataSource
from dashboard.models import DispatchStatus
from dashboard.models import Location
from dashboard.models import Truck
from dashboard.models import TruckJourney
from dashboard.models import User
from dashboard.models import truck_label
from dashboard.stamps import lock_company_stamps
from dashboard.stamps import ordered_stamp

log = logging.getLogger(__name__)

MAX_CREW = 20
MAX_NAME = 80
MAX_NOTES = 2000
PATCH_KEYS = frozenset({"truck", "crew", "dispatchStatus", "notes", "allowConflicts"})


class DispatchError(ValueError):
    """Input the service refuses; the message is safe to show."""


class UnacceptedConflicts(Exception):
    """The edit would double-book: clashes the job has not now and the caller did not accept (nothing saved)."""

    def __init__(self, clashes):
        super().__init__(f"This change double-books: {len(clashes)} new conflict{'' if len(clashes) == 1 else 's'}.")
        self.clashes = clashes


@dataclass(frozen=True)
class TruckChoice:
    """A truck offered for a job: same_location trucks come first; busy says when it is taken.

    out: its out-of-service period during the job ("Out of service ... (brakes)"): listed last, marked.
    """
    id: int
    name: str
    same_location: bool
    busy: str | None
    out: str | None = None


@dataclass(frozen=True)
class CrewChoice:
    """A person offered for a job: on_job when on its current crew; busy says when they are taken.

    off: their time off during the job ("Off Fri 11 Dec (dentist)"), group: the picker's heading.
    namesake: branch and role ("Buffalo, driver") when another roster person has the same name.
    """
    name: str
    on_job: bool
    busy: str | None
    id: int | None = None
    role: str | None = None
    hours: float = 0.0
    off: str | None = None
    same_location: bool = True
    group: str = ""
    rank: int = 0             # the group's place in the picker (0 first)
    namesake: str | None = None

    @property
    def value(self):
        """What the picker's box posts: the person's id when on the roster, else the name (crew_pick)."""
        return crew_pick.value_of(self.name, self.id)


@dataclass(frozen=True)
class CrewOption:
    """One box of the job edit form's crew list: its posted value, its label, and the plain name."""
    value: str
    label: str
    name: str


@dataclass(frozen=True)
class MemberRef:
    """A crew entry given by CrewMember id (the API's {"crewMemberId": N})."""
    id: int


def unique_names(names):
    """Strip, drop blanks and duplicates (case-insensitive), keep order."""
    seen, crew = set(), []
    for raw in names or ():
        name = " ".join(str(raw).split())
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            crew.append(name)
    return crew


def normalise_crew(names):
    """unique_names, refusing absurd input (over-long names, crews over MAX_CREW)."""
    crew = unique_names(names)
    if any(len(name) > MAX_NAME for name in crew):
        raise DispatchError(f"A crew name is longer than {MAX_NAME} characters.")
    if len(crew) > MAX_CREW:
        raise DispatchError(f"At most {MAX_CREW} people per crew.")
    return crew


def dispatch_version(job):
    """A token that changes whenever the job's dispatch fields are saved."""
    return job.dispatch_updated_at.isoformat() if job.dispatch_updated_at else "0"


def job_etag(job):
    """A strong ETag (quoted) of the job's own fields: changes on every dispatch save and every sync write."""
    # Conflicts are computed live from other jobs and are not part of it: the ETag guards
    # PATCH against overwriting a save or a sync the caller has not seen.
    version = f"{job.id}|{dispatch_version(job)}|{job.last_sync_at.isoformat() if job.last_sync_at else ''}" \
              f"|{job.sync_status}|{job.removal_pending_at or ''}"
    return '"' + hashlib.sha256(version.encode()).hexdigest()[:32] + '"'


def etag_matches(if_match, etag):
    """RFC 9110 If-Match: "*" or a listed strong ETag equal to etag (weak ones never match)."""
    candidates = [part.strip() for part in if_match.split(",")]
    return "*" in candidates or etag in candidates


def _optional_text(body, key, limit):
    value = body[key]
    if value is not None and not isinstance(value, str):
        raise DispatchError(f"{key} must be a string or null.")
    if value is not None and len(value) > limit:
        raise DispatchError(f"{key} is longer than {limit} characters.")
    return value


def truck_id_by_name(company_id, name):
    """The id of company's truck called name (exact, else ignoring case and spacing); DispatchError if none."""
    wanted = " ".join(name.split())
    trucks = db.session.execute(sa.select(Truck.id, Truck.name).where(Truck.company_id == company_id)).all()
    # Folded in Python: SQLite's lower() leaves non-ASCII letters alone.
    for match in (lambda truck_name: truck_name == wanted,
                  lambda truck_name: " ".join(truck_name.split()).casefold() == wanted.casefold()):
        for truck_id, truck_name in trucks:
            if match(truck_name):
                return truck_id
    raise DispatchError(f"Unknown truck: {wanted}.")


def job_for_update(job_id):
    """The job, locked for this transaction's edit (None if there is no such job).

    The company's stamp lock is taken before the row lock, the order every writer
    keeps (dashboard/stamps.py): locking the row first deadlocks with a sync batch.
    """
    company_id = db.session.scalar(sa.select(TruckJourney.company_id).where(TruckJourney.id == job_id))
    if company_id is None:
        return None
    lock_company_stamps(company_id)
    return db.session.get(TruckJourney, job_id, with_for_update=True, populate_existing=True)


def patch_dispatch(job, actor, body):
    """Apply a JSON API patch {"truck", "crew", "dispatchStatus", "notes"} (any of them) through update_dispatch.

    A change that creates a conflict the job has not now raises UnacceptedConflicts
    unless the body says "allowConflicts": true.
    """
    if not isinstance(body, dict):
        raise DispatchError("The body must be a JSON object.")
    unknown = set(body) - PATCH_KEYS
    if unknown:
        raise DispatchError(f"Unknown fields: {', '.join(sorted(unknown))}. Allowed: {', '.join(sorted(PATCH_KEYS))}.")
    truck_id = job.truck_id
    if "truck" in body:
        name = _optional_text(body, "truck", MAX_NAME)
        truck_id = None
        if name is not None and name.strip():
            truck_id = truck_id_by_name(job.company_id, name)
    crew = job.crew
    crew_ids = job.crew_member_ids if job.crew else None
    if "crew" in body:
        crew, crew_ids = _patch_crew(body["crew"]), None
    status = job.dispatch_status
    if "dispatchStatus" in body:
        status = body["dispatchStatus"]
        if not isinstance(status, str) or status not in {s.value for s in DispatchStatus}:  # [] is unhashable
            raise DispatchError(f"dispatchStatus must be one of {', '.join(s.value for s in DispatchStatus)}.")
    notes = _optional_text(body, "notes", MAX_NOTES) if "notes" in body else job.notes
    allow = body.get("allowConflicts", False)
    if not isinstance(allow, bool):
        raise DispatchError("allowConflicts must be true or false.")
    return update_dispatch(job, actor, truck_id, crew, status, notes, accepted=None if allow else (),
                           crew_ids=crew_ids)


def _patch_crew(items):
    """PATCH's crew: null, or a list of names and {"crewMemberId": N} / {"name": "..."} objects."""
    if items is None:
        return None
    message = ("crew must be a list of names or {\"crewMemberId\": N} / {\"name\": \"...\"} objects "
               "(or null for SmartMoving's crew).")
    if not isinstance(items, list) or len(items) > MAX_CREW * 2:
        raise DispatchError(message)
    crew = []
    for item in items:
        if isinstance(item, str):
            crew.append(item)
        elif isinstance(item, dict) and set(item) == {"crewMemberId"}:
            member_id = item["crewMemberId"]
            if isinstance(member_id, bool) or not isinstance(member_id, int) or not 0 < member_id < 2**31:
                raise DispatchError("crewMemberId must be a crew member id (a positive whole number).")
            crew.append(MemberRef(member_id))
        elif isinstance(item, dict) and set(item) == {"name"} and isinstance(item["name"], str):
            crew.append(item["name"])
        else:
            raise DispatchError(message)
    return crew


def resolve_crew(job, crew, crew_ids=None):
    """(names, ids) of a crew to save on job: ids aligned with names, None for a typed name.

    crew: names and MemberRefs. A MemberRef must be an active member of the job's company;
    a name keeps the id it already has on the job (so a name two people share stays theirs),
    else resolves to the one active person of that name, else stays typed (None). Naming an
    inactive person who is not already on the job is refused. crew_ids: ids aligned with crew
    as saved before (PATCH without "crew" keeps them).
    """
    roster = crew_roster.load(job.company_id)
    kept = {}
    for name, member_id in zip(job.effective_crew, crew_roster.effective_ids(job), strict=True):
        if member_id is not None:
            kept.setdefault(crew_roster.name_key(name), member_id)
    on_job = {crew_roster.name_key(name) for name in job.effective_crew}
    given = crew_roster.aligned_ids(crew, crew_ids)
    names, ids, seen = [], [], set()
    for item, given_id in zip(crew or (), given, strict=True):
        if isinstance(item, MemberRef):
            person = roster.by_id.get(item.id)
            if person is None:
                raise DispatchError(f"Unknown crew member id {item.id}.")
            if not person.active and crew_roster.name_key(person.name) not in on_job:
                raise DispatchError(f"{person.name} is inactive and cannot be assigned.")
            name, member_id = person.name, person.id
        else:
            name = " ".join(str(item).split())
            if not name:
                continue
            key = crew_roster.name_key(name)
            member_id = given_id if given_id in roster.by_id else kept.get(key)
            if member_id is None:
                person = roster.unique(name)
                member_id = person.id if person else None
                if person is None and key not in on_job and roster.by_name.get(key) \
                        and not any(p.active for p in roster.by_name[key]):
                    raise DispatchError(f"{name} is inactive and cannot be assigned.")
        identity = member_id if member_id is not None else crew_roster.name_key(name)
        if identity in seen:
            continue
        seen.add(identity)
        names.append(name)
        ids.append(member_id)
    if any(len(name) > MAX_NAME for name in names):
        raise DispatchError(f"A crew name is longer than {MAX_NAME} characters.")
    if len(names) > MAX_CREW:
        raise DispatchError(f"At most {MAX_CREW} people per crew.")
    return names, ids


def concurrent_edit_message(job):
    """What to tell someone whose form is older than the last save."""
    who = db.session.get(User, job.dispatch_updated_by) if job.dispatch_updated_by else None
    name = (who.full_name or who.email) if who else "Someone"
    return (f"{name} saved changes to this job while you were editing. The page now shows your edits; "
            "compare them with the job and save again to replace theirs.")


def split_free_text(text):
    """'Ann, Bob; Cy' -> ['Ann', 'Bob', 'Cy']."""
    return [part for part in (text or "").replace(";", ",").replace("\n", ",").split(",") if part.strip()]


def truck_options(company_id, include_id=None):
    """Active trucks of a company (plus include_id, e.g. the job's current truck even when retired)."""
    stmt = sa.select(Truck).where(Truck.company_id == company_id)
    if include_id:
        stmt = stmt.where(sa.or_(Truck.is_active.is_(True), Truck.id == include_id))
    else:
        stmt = stmt.where(Truck.is_active.is_(True))
    return list(db.session.scalars(stmt.order_by(Truck.name)))


def _entry_value(roster, name, member_id):
    """The picker value of one saved crew entry: its person's id when it has one (or a unique name), else the name."""
    person = roster.person_for(name, member_id)
    return crew_pick.value_of(name, person.id if person else None), person


def picker_values(job):
    """The picker values of the crew a job's form shows ticked: ours, else SmartMoving's (crew_pick)."""
    roster = crew_roster.load(job.company_id)
    return [_entry_value(roster, name, member_id)[0]
            for name, member_id in zip(job.effective_crew, crew_roster.effective_ids(job), strict=True)]


def picker_entries(values):
    """The crew entries posted by a picker: MemberRef for "member:<id>", else the name as typed."""
    entries = []
    for value in values or ():
        member_id = crew_pick.member_id_of(value)
        entries.append(MemberRef(member_id) if member_id is not None else value)
    return entries


def picker_crew(job, entries):
    """(names, ids) of picker entries for a conflicts preview, each person once: a MemberRef by its person
    (unknown ids dropped), a name with id None (the preview resolves it the way a save would)."""
    roster = crew_roster.load(job.company_id)
    names, ids, seen = [], [], set()
    for entry in entries:
        if isinstance(entry, MemberRef):
            person = roster.by_id.get(entry.id)
            name, member_id = (person.name, person.id) if person else (None, None)
        else:
            name, member_id = " ".join(str(entry).split()), None
        identity = member_id if member_id is not None else crew_roster.name_key(name or "")
        if name and identity not in seen:
            seen.add(identity)
            names.append(name)
            ids.append(member_id)
    return names, ids


def same_as_smartmoving(job, entries):
    """True when entries, resolved as a save would, are the very people of SmartMoving's crew of job (any order)."""
    if job.crew or not job.smartmoving_crew or not entries:
        return False

    def people(names, ids):
        return {("id", member_id) if member_id is not None else ("name", crew_roster.name_key(name))
                for name, member_id in zip(names, ids, strict=True)}
    theirs = resolve_crew(job, job.smartmoving_crew, job.smartmoving_crew_ids)
    return people(*resolve_crew(job, entries)) == people(*theirs)


def _location_names(roster, company_id):
    """{location id: name} of a company's branches when its roster has namesakes (told apart by branch), else {}."""
    if all(len(people) < 2 for people in roster.by_name.values()):
        return {}   # no query: most companies have no two people of one name
    return dict(db.session.execute(
        sa.select(Location.id, Location.name).where(Location.company_id == company_id)).all())


def _namesake(roster, person, location_names):
    """Branch and role of person when someone else on the roster has their name, else None."""
    if person is None or len(roster.by_name.get(crew_roster.name_key(person.name), ())) < 2:
        return None
    return crew_pick.namesake_detail(location_names.get(person.location_id), person.role)


def crew_options(job):
    """The job edit form's crew boxes (CrewOption), by label: the company's active people by id (namesakes
    labelled "Sam Lee (Buffalo, driver)"), plus the people on the job now, ours and SmartMoving's."""
    roster = crew_roster.load(job.company_id)
    location_names = _location_names(roster, job.company_id)
    options = {}

    def add(value, name, person):
        detail = _namesake(roster, person, location_names)
        options.setdefault(value, CrewOption(value, f"{name} ({detail})" if detail else name, name))

    for names, ids in ((job.crew, job.crew_member_ids), (job.smartmoving_crew, job.smartmoving_crew_ids)):
        for name, member_id in zip(names or (), crew_roster.aligned_ids(names, ids), strict=True):
            if " ".join(str(name).split()):
                value, person = _entry_value(roster, name, member_id)
                add(value, person.name if person else name, person)
    for person in roster.by_id.values():
        if person.active:
            add(crew_pick.value_of(person.name, person.id), person.name, person)
    return sorted(options.values(), key=lambda option: (option.label.casefold(), option.value))


def _busy_label(rows):
    """ "busy 08:00–12:00" (times only: the picker may show jobs the viewer cannot open)."""
    if not rows:
        return None
    spans_text = []
    for row in sorted(rows, key=lambda r: r.start):
        text = conflicts.span_text(row.start, row.end, row.timed)
        if text not in spans_text:
            spans_text.append(text)
    return "busy " + ", ".join(spans_text)


def _job_window(job):
    """(start, end) of job's span, or its whole day when it has no time."""
    start, end, _ = conflicts.busy_span(job.scheduled_date, *spans.span_for(job))
    return start, end


def truck_choices(job):
    """Trucks for job's picker: its location's first, then the rest by name; busy ones marked; out of service last."""
    busy = {}
    for row in conflicts.overlapping_rows(job) if conflicts.is_live(job) else ():
        if row.truck_id is not None:
            busy.setdefault(row.truck_id, []).append(row)
    start, end = _job_window(job)
    out = availability.off_for_trucks(job.company_id, start, end)
    trucks = truck_options(job.company_id, include_id=job.truck_id)
    choices = []
    for truck in trucks:
        periods = availability.overlaps(out.get(truck.id), start, end)
        choices.append(TruckChoice(truck.id, truck.name,
                                   job.location_id is not None and truck.location_id == job.location_id,
                                   _busy_label(busy.get(truck.id)), periods[0].text if periods else None))
    choices.sort(key=lambda c: (c.out is not None, not c.same_location, c.name.casefold()))
    return choices


_GROUPS = ("On this job", "Free", "Busy", "Off")


def crew_choices(job):
    """People for job's crew picker, grouped: its current crew, then the job's location free, busy, off,
    then the other locations the same way; each with role and hours booked that week. Inactive people
    are never offered (unless already on the job)."""
    roster = crew_roster.load(job.company_id)
    busy = {}
    for row in conflicts.overlapping_rows(job) if conflicts.is_live(job) else ():
        for _display, key, member_id in row.people:
            busy.setdefault(member_id if member_id is not None else key, []).append(row)
    start, end = _job_window(job)
    off = availability.off_for_people(job.company_id, start, end)
    monday, next_monday = week_of(job.scheduled_date)
    week = jobs_by_member({job.company_id}, monday, next_monday)
    current = job.effective_crew
    current_ids = crew_roster.effective_ids(job)
    location_names = _location_names(roster, job.company_id)
    choices, offered = [], set()

    def choice(name, person, on_job):
        member_id = person.id if person else None
        rows = busy.get(member_id, []) if member_id is not None else []
        rows = rows + [row for row in busy.get(crew_roster.name_key(name), []) if row not in rows]
        periods = availability.overlaps(off.get(member_id), start, end) if member_id is not None else []
        here = person is None or job.location_id is None or person.location_id in (None, job.location_id)
        state = 0 if on_job else (3 if periods else (2 if rows else 1))
        rank = state if on_job else state + (0 if here else 3)
        group = _GROUPS[state]
        if not on_job and job.location is not None:
            group += f" · {job.location.name}" if here else " · other locations"
        hours = sum(_span_hours(s, e) for _, _, s, e in week.get(member_id, ())) if member_id is not None else 0.0
        return CrewChoice(name, on_job, _busy_label(rows), member_id, person.role if person else None,
                          round(hours, 1), periods[0].text if periods else None, here, group, rank,
                          _namesake(roster, person, location_names))

    for name, member_id in zip(current, current_ids, strict=True):
        person = roster.person_for(name, member_id)
        choices.append(choice(name, person, True))
        offered.add(person.id if person else crew_roster.name_key(name))
    people = sorted((p for p in roster.by_id.values() if p.active and p.id not in offered),
                    key=lambda p: p.name.casefold())
    names_taken = {crew_roster.name_key(c.name) for c in choices}
    for person in people:
        choices.append(choice(person.name, person, False))
    for name in unique_names(job.smartmoving_crew or ()):
        if crew_roster.name_key(name) not in names_taken and roster.unique(name) is None \
                and not roster.by_name.get(crew_roster.name_key(name)):
            choices.append(choice(name, None, False))
    choices.sort(key=lambda c: c.rank)     # stable: names stay in order within a group
    return choices


def _span_hours(start, end):
    """Hours of a stored span (0 without one)."""
    if start is None or end is None or end <= start:
        return 0.0
    return (end - start).total_seconds() / 3600


def accept_smartmoving_crew(jobs, actor):
    """Make SmartMoving's crew our crew on each job that has one (audited per job); returns jobs changed."""
    changed = 0
    for job in jobs:
        if not job.smartmoving_crew or unique_names(job.crew) == unique_names(job.smartmoving_crew):
            continue
        if update_dispatch(job, actor, job.truck_id, job.smartmoving_crew, job.dispatch_status, job.notes,
                           crew_ids=job.smartmoving_crew_ids):
            changed += 1
    if changed:
        log.info("%s accepted SmartMoving's crew on %d jobs", actor.email, changed)
    return changed


def update_dispatch(job, actor, truck_id, crew, dispatch_status, notes, accepted=None, crew_ids=None):
    """Apply a dispatch edit to job; returns {field: [old, new]} of what changed (flushes, no commit).

    crew: names (and MemberRefs); each is saved with its CrewMember id in crew_member_ids
    (resolve_crew). crew_ids: ids aligned with crew already known (e.g. the job's own).

    accepted: None saves whatever double bookings follow; else the clash_keys the caller
    showed and accepted, and a new conflict beyond them (and beyond the job's current
    ones) raises UnacceptedConflicts before anything is written.
    """
    if dispatch_status not in {s.value for s in DispatchStatus}:
        raise DispatchError("Unknown dispatch status.")
    stamp = ordered_stamp(job.company_id)   # before this edit writes anything: no row lock is held yet
    if truck_id:
        truck = db.session.get(Truck, truck_id)
        if truck is None or truck.company_id != job.company_id:
            raise DispatchError("That truck does not belong to this company.")
        if not truck.is_active and truck.id != job.truck_id:
            raise DispatchError(f"{truck_label(truck.name)} is out of service.")
    names, ids = resolve_crew(job, crew, crew_ids)
    crew = names or None
    member_ids = ids if crew else None
    if accepted is not None:
        added = conflicts.added_clashes(job, truck_id or None, crew, accepted, crew_ids=member_ids)
        if added:
            raise UnacceptedConflicts(added)
    notes = (notes or "").strip() or None
    old_truck = job.truck.name if job.truck else None
    new_truck = db.session.get(Truck, truck_id).name if truck_id else None
    changes = {}
    had_both = bool(job.truck_id and job.effective_crew)
    if (job.truck_id or None) != (truck_id or None):
        changes["truck"] = [old_truck, new_truck]
        # Set the relationship too, so the job reads its new truck before any reload.
        job.truck = db.session.get(Truck, truck_id) if truck_id else None
        job.truck_id = truck_id or None
    if (job.crew or None) != crew:
        changes["crew"] = [job.crew, crew]
        job.crew = crew
    if (job.crew_member_ids or None) != member_ids:
        # The ids follow the names (the audit's "crew" says who); a name newly resolved is no edit.
        job.crew_member_ids = member_ids
    if dispatch_status == job.dispatch_status == DispatchStatus.UNASSIGNED.value and not had_both \
            and job.truck_id and job.effective_crew:
        # Truck and crew just became set: the job is assigned (the status stays editable).
        dispatch_status = DispatchStatus.ASSIGNED.value
    if job.dispatch_status != dispatch_status:
        changes["dispatch_status"] = [job.dispatch_status, dispatch_status]
        job.dispatch_status = dispatch_status
    if (job.notes or None) != notes:
        changes["notes"] = [job.notes, notes]
        job.notes = notes
    if changes:
        job.dispatch_updated_at = stamp
        job.dispatch_updated_by = actor.id
        db.session.add(AuditEvent(company_id=job.company_id, user_id=actor.id, action="job.dispatch",
                                  target=f"job:{job.id}", detail=changes))
        db.session.flush()
        log.info("job %s dispatch edited by %s: %s", job.id, actor.email, ", ".join(sorted(changes)))
    return changes


def create_manual_job(actor, location, scheduled_date, customer_name, notes=None, **details):
    """Add a MANUAL job at location (flushes, no commit). No sync ever writes or removes it.

    details: customer_phone, customer_email, origin_address, destination_address, arrival_window.
    """
    allowed = {"customer_phone", "customer_email", "origin_address", "destination_address", "arrival_window"}
    unknown = set(details) - allowed
    if unknown:
        raise DispatchError(f"Unknown job fields: {', '.join(sorted(unknown))}")
    details = {name: (value or "").strip() or None for name, value in details.items()}
    start_hour = spans.parse_start_hour(details.get("arrival_window"))
    span_start, span_end = spans.compute_span(scheduled_date, start_hour)
    job = TruckJourney(
        arrival_start_hour=start_hour, span_start=span_start, span_end=span_end,
        company_id=location.company_id, location_id=location.id, scheduled_date=scheduled_date,
        customer_name=customer_name.strip(), notes=(notes or "").strip() or None,
        data_source=DataSource.MANUAL.value, status="BOOKED", dispatch_status=DispatchStatus.UNASSIGNED.value,
        dispatch_updated_at=ordered_stamp(location.company_id), dispatch_updated_by=actor.id,
        **details,
    )
    db.session.add(job)
    db.session.flush()
    db.session.add(AuditEvent(company_id=job.company_id, user_id=actor.id, action="job.create",
                              target=f"job:{job.id}", detail={"customer": job.customer_name,
                                                              "date": scheduled_date.isoformat()}))
    log.info("manual job %s created by %s", job.id, actor.email)
    return job


def job_history(job, limit=20):
    """The job's dispatch audit trail, newest first."""
    return list(db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.target == f"job:{job.id}", AuditEvent.company_id == job.company_id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    ))
