"""My jobs as a driver or mover reads them on the phone: who is on the crew (you marked, with roles),
directions to drive (origin to destination, and from one stop to the next), and the office to call."""
from dataclasses import dataclass
from urllib.parse import urlencode

from dashboard.jobs import crew_roster

DIRECTIONS_URL = "https://www.google.com/maps/dir/"
# Jobs nobody drives to: no leg leads to or from them.
_NOT_DRIVEN = frozenset({"CANCELLED", "LOST", "BAD_LEAD"})


def directions_url(origin, destination):
    """Google Maps directions from origin to destination (both addresses, URL-encoded), or None if one is missing."""
    if not (origin or "").strip() or not (destination or "").strip():
        return None
    return DIRECTIONS_URL + "?" + urlencode({"api": "1", "origin": origin.strip(), "destination": destination.strip()})


@dataclass(frozen=True)
class Seat:
    """One name on a job's crew: its role (driver, foreman, mover or None) and whether it is the viewer."""
    name: str
    role: str | None
    is_you: bool


@dataclass(frozen=True)
class Leg:
    """The drive from the previous stop's destination to this job's origin."""
    from_job_number: str
    url: str


@dataclass(frozen=True)
class MyJob:
    """A job as My jobs draws it for the signed-in crew member."""
    job: object
    seats: tuple
    my_role: str | None
    directions: str | None
    leg: Leg | None
    office_name: str | None
    office_phone: str | None
    warnings: tuple
    driven: bool = True   # False: cancelled, lost or removed upstream; the card says not to go


@dataclass(frozen=True)
class Me:
    """The signed-in user's crew member: the name crews list them by, and their role."""
    name: str
    role: str | None


def me_of(user):
    """The Me of user's linked crew member, or None when the account is not linked (or the person is gone)."""
    member_id = getattr(user, "crew_member_id", None)
    if member_id is None:
        return None
    person = crew_roster.load(user.company_id).by_id.get(member_id)
    return Me(person.name, person.role) if person else None


def _seats(job, roster, member_id):
    """The job's effective crew as Seats; "you" only by the linked id (names never match people)."""
    seats = []
    for name, seat_id in zip(job.effective_crew, crew_roster.effective_ids(job), strict=True):
        person = roster.person_for(name, seat_id)
        seats.append(Seat(str(name), person.role if person else None,
                          member_id is not None and seat_id == member_id))
    return tuple(seats)


def _driven(job):
    """True for a job the crew actually drives to (not cancelled, lost or removed upstream)."""
    return job.status not in _NOT_DRIVEN and job.sync_status != "REMOVED"


def my_day(user, jobs, overlaps):
    """MyJobs of jobs (one day's, in arrival order) for user; overlaps: {job id: [warning text]}.

    Each driven job after the first carries the leg from the last driven job's destination.
    """
    member_id = getattr(user, "crew_member_id", None)
    rosters = {}
    previous = None
    drawn = []
    for job in jobs:
        if job.company_id not in rosters:   # one query per company (one in practice)
            rosters[job.company_id] = crew_roster.load(job.company_id)
        seats = _seats(job, rosters[job.company_id], member_id)
        leg = None
        if _driven(job):
            if previous is not None:
                url = directions_url(previous.destination_address, job.origin_address)
                leg = Leg(previous.job_number or f"{previous.id}", url) if url else None
            previous = job
        location = job.location
        drawn.append(MyJob(
            job=job, seats=seats, my_role=next((seat.role for seat in seats if seat.is_you), None),
            directions=directions_url(job.origin_address, job.destination_address), leg=leg,
            office_name=location.name if location else None, office_phone=location.phone if location else None,
            warnings=tuple(overlaps.get(job.id, ())), driven=_driven(job),
        ))
    return drawn
