"""Who hears about a day's plan, and what: the scope's jobs, each person's jobs, contacts and changes.

Nothing here writes. `build(...)` returns an Audience that publish.py freezes into a
version (and the publish dialog previews). People are linked to jobs by CrewMember id
(effective_crew_ids); a name typed by hand has no id, so it can be listed but not reached.

What a person was last told is read back from earlier versions: their newest version
of the day that holds an assignment or a message for them. A version carries forward
the person's jobs outside its scope, so that newest version is always their whole day.
"""
from collections import defaultdict
from dataclasses import dataclass
from dataclasses import field

import sqlalchemy as sa
import sqlalchemy.orm as so

from dashboard.db import db
from dashboard.models import CrewMember
from dashboard.models import Location
from dashboard.models import SyncStatus
from dashboard.models import TruckJourney
from dashboard.models import User
from dashboard.permissions import visible_location_ids
from dashboard.plans.models import OutboxMessage
from dashboard.plans.models import PlanAssignment
from dashboard.plans.models import PlanVersion
from dashboard.plans.snapshot import describe_changes
from dashboard.plans.snapshot import fingerprint
from dashboard.plans.snapshot import job_snapshot

# Jobs nobody works: never part of a plan.
_NOT_WORKED = ("CANCELLED", "LOST", "BAD_LEAD")
# The sync status a board gives its greyed copy of a job moved to another day (jobs.queries.MOVED_AWAY): that
# day's plan has it, this one's does not.
_MOVED_AWAY = "MOVED"


class OutOfScope(LookupError):
    """The location is unknown, another company's, or outside the user's locations."""


@dataclass
class Told:
    """One job as a person hears it in a version: its snapshot, fingerprint and office."""
    journey_id: int
    snapshot: dict
    fingerprint: str
    location_id: int | None = None


@dataclass
class Recipient:
    """One person of the audience: their jobs now, what they were told, how to reach them."""
    member: CrewMember
    email: str | None
    jobs: list = field(default_factory=list)          # [Told] in scope now, in arrival order
    carried: list = field(default_factory=list)       # [Told] outside the scope, kept from their last version
    previous: dict | None = None                      # {journey_id: Told} in scope when last told; None: never
    changes: list = field(default_factory=list)       # describe_changes lines since `previous`

    @property
    def removed(self):
        """Told of jobs in scope before, and on none of them now."""
        return not self.jobs and bool(self.previous)

    @property
    def changed(self):
        """Never told, or told something other than what holds now."""
        if self.previous is None:
            return True
        return {t.journey_id: t.fingerprint for t in self.jobs} != {
            journey_id: t.fingerprint for journey_id, t in self.previous.items()}

    @property
    def reachable(self):
        return bool(self.email or self.member.phone)


@dataclass
class Audience:
    """Everyone a publish of (company, day, scope) concerns."""
    day: object
    location_ids: list | None
    latest_version: int | None
    recipients: list
    typed_names: list
    offices: dict                                      # {location_id: Location}

    def to_message(self, changes_only):
        """Recipients who get a message: everyone in scope, or (changes_only) those whose jobs changed."""
        return [r for r in self.recipients if r.jobs or r.removed] if not changes_only else [
            r for r in self.recipients if (r.jobs or r.removed) and r.changed]

    def unreachable(self, recipients=None):
        """Names of people who cannot be reached: no e-mail and no phone, or typed by hand (sorted)."""
        people = self.recipients if recipients is None else recipients
        names = {r.member.name for r in people if (r.jobs or r.removed) and not r.reachable}
        return sorted(names | set(self.typed_names), key=str.casefold)


def scope_location_ids(company, user, location_id=None):
    """The location ids a publish covers: [location_id], the user's locations, or None (the whole company)."""
    visible = visible_location_ids(user) if user is not None else None
    if location_id is not None:
        location = db.session.get(Location, location_id)
        if location is None or location.company_id != company.id or (
                visible is not None and location_id not in visible):
            raise OutOfScope(location_id)
        return [location_id]
    return None if visible is None else sorted(visible)


def day_jobs(company_id, day, location_ids):
    """The day's worked jobs in scope (trucks and locations loaded), in arrival order."""
    stmt = (
        sa.select(TruckJourney)
        .options(so.defer(TruckJourney.external_data), so.selectinload(TruckJourney.truck),
                 so.selectinload(TruckJourney.location).defer(Location.external_data))
        .where(TruckJourney.company_id == company_id, TruckJourney.scheduled_date == day,
               TruckJourney.sync_status != SyncStatus.REMOVED.value, TruckJourney.status.not_in(_NOT_WORKED))
        .order_by(TruckJourney.arrival_start_hour.is_(None), TruckJourney.arrival_start_hour,
                  TruckJourney.job_number, TruckJourney.id)
    )
    if location_ids is not None:
        stmt = stmt.where(TruckJourney.location_id.in_(location_ids) if location_ids else sa.false())
    return list(db.session.scalars(stmt))


def in_plan(job):
    """True for a job already read that a plan of its day tells people about: day_jobs' filter in Python (not
    removed, not cancelled, lost or a bad lead), and not a board's greyed copy of a job moved to another day.

    The board's "N of M confirmed" counts the people on these jobs only: someone whose only job is cancelled is
    never sent the plan, so they could never confirm it."""
    return (job.sync_status not in (SyncStatus.REMOVED.value, _MOVED_AWAY)
            and job.status not in _NOT_WORKED)


def typed_names_of(job):
    """Names on the job's crew that no CrewMember id stands behind (typed by hand)."""
    names = job.effective_crew
    if job.crew:
        ids = list(job.crew_member_ids or [])[:len(names)]
        ids += [None] * (len(names) - len(ids))   # a crew saved before ids existed: names only
    else:
        ids = list(job.smartmoving_crew_ids or [])
        if len(ids) != len(names):
            return []   # SmartMoving's ids are resolved apart from its names: we cannot tell whose is missing
    return [name for name, member_id in zip(names, ids, strict=True) if member_id is None]


def _told_before(company_id, day):
    """{member id: (version, [Told])}: each person's newest version of the day and its jobs for them."""
    newest = {}
    for member_id, version in db.session.execute(
            sa.select(OutboxMessage.crew_member_id, sa.func.max(OutboxMessage.version))
            .where(OutboxMessage.company_id == company_id, OutboxMessage.day == day)
            .group_by(OutboxMessage.crew_member_id)):
        newest[member_id] = version
    rows = db.session.execute(
        sa.select(PlanAssignment.crew_member_id, PlanVersion.version, PlanAssignment.journey_id,
                  PlanAssignment.snapshot, PlanAssignment.fingerprint, TruckJourney.location_id)
        .join(PlanVersion, PlanVersion.id == PlanAssignment.plan_version_id)
        .join(TruckJourney, TruckJourney.id == PlanAssignment.journey_id)
        .where(PlanVersion.company_id == company_id, PlanVersion.day == day)).all()
    for member_id, version, *_ in rows:
        newest[member_id] = max(newest.get(member_id, 0), version)
    told = {member_id: (version, []) for member_id, version in newest.items()}
    for member_id, version, journey_id, snap, print_, location_id in rows:
        if told[member_id][0] == version:
            told[member_id][1].append(Told(journey_id, snap, print_, location_id))
    return told


def _contacts(company_id, member_ids):
    """({id: CrewMember}, {id: the linked active user's e-mail}) for member_ids of the company."""
    if not member_ids:
        return {}, {}
    members = {m.id: m for m in db.session.scalars(
        sa.select(CrewMember).where(CrewMember.company_id == company_id, CrewMember.id.in_(member_ids)))}
    user_emails = {}
    for member_id, email in db.session.execute(
            sa.select(User.crew_member_id, User.email)
            .where(User.company_id == company_id, User.crew_member_id.in_(member_ids), User.is_active_user)
            .order_by(User.id)):
        user_emails.setdefault(member_id, email)
    return members, user_emails


def _in_scope(location_ids):
    scope = None if location_ids is None else set(location_ids)
    return lambda location_id: scope is None or location_id in scope


def build(company, day, location_ids):
    """The Audience of a publish of company's day over location_ids (None: every location)."""
    jobs = day_jobs(company.id, day, location_ids)
    in_scope = _in_scope(location_ids)
    by_person = defaultdict(list)
    typed = set()
    for job in jobs:
        for member_id in dict.fromkeys(job.effective_crew_ids):
            by_person[member_id].append(job)
        typed.update(typed_names_of(job))
    told = _told_before(company.id, day)
    touched = set(by_person) | {member_id for member_id, (_, items) in told.items()
                                if any(in_scope(t.location_id) for t in items)}
    members, user_emails = _contacts(company.id, touched)
    roles = {member_id: member.role for member_id, member in members.items()}
    snapshots = {}
    recipients = []
    # Ids of another company or of deleted people are dropped by _contacts: never messaged.
    for member_id in sorted(members, key=lambda key: (members[key].name.casefold(), key)):
        member = members[member_id]
        recipient = Recipient(member=member, email=member.email or user_emails.get(member_id))
        for job in by_person.get(member_id, ()):
            if job.id not in snapshots:
                snap = job_snapshot(job, roles)
                snapshots[job.id] = Told(job.id, snap, fingerprint(snap), job.location_id)
            recipient.jobs.append(snapshots[job.id])
        if member_id in told:
            items = told[member_id][1]
            recipient.previous = {t.journey_id: t for t in items if in_scope(t.location_id)}
            recipient.carried = [t for t in items if not in_scope(t.location_id)]
            now = {t.journey_id: t for t in recipient.jobs}
            for journey_id in list(recipient.previous) + [j for j in now if j not in recipient.previous]:
                old, new = recipient.previous.get(journey_id), now.get(journey_id)
                if old is None or new is None or old.fingerprint != new.fingerprint:
                    recipient.changes.extend(describe_changes(old and old.snapshot, new and new.snapshot))
        recipients.append(recipient)
    latest = db.session.scalar(sa.select(sa.func.max(PlanVersion.version))
                               .where(PlanVersion.company_id == company.id, PlanVersion.day == day))
    # Every office of the company (a handful): people taken off a job still get its phone.
    offices = {location.id: location for location in db.session.scalars(
        sa.select(Location).options(so.defer(Location.external_data)).where(Location.company_id == company.id))}
    return Audience(day=day, location_ids=location_ids, latest_version=latest, recipients=recipients,
                    typed_names=sorted(typed, key=str.casefold), offices=offices)
