"""What one person's link shows: their jobs of the day as they are now, their answer, and what changed since.

The jobs are those of the person's newest plan version for the day, read again from
the current job rows and kept only while the person is still on them on that day
(a job they were taken off, or that moved to another day, is listed as a change
instead). Nothing of other customers, no money, no customer contacts.
"""
from dataclasses import dataclass
from dataclasses import field

import sqlalchemy as sa

from dashboard.confirm.states import current_jobs
from dashboard.confirm.states import roles_of
from dashboard.db import db
from dashboard.models import Company
from dashboard.models import CrewMember
from dashboard.models import Location
from dashboard.models import SyncStatus
from dashboard.plans.models import PlanAssignment
from dashboard.plans.models import PlanConfirmation
from dashboard.plans.models import PlanVersion
from dashboard.plans.snapshot import crew_with_ids
from dashboard.plans.snapshot import describe_changes
from dashboard.plans.snapshot import job_snapshot


@dataclass
class JobView:
    """One job as the person's page shows it."""
    id: int
    number: str
    window: str
    start: object             # naive company-local datetime or None
    origin: str
    destination: str
    crew: list                # [(name, role or None, is_you)]
    truck: str | None
    notes: str
    office_phone: str | None
    location: str | None


@dataclass
class PersonalPlan:
    """Everything the personal page shows (and what an answer is recorded against)."""
    member: CrewMember
    company: Company
    day: object
    version: PlanVersion | None          # the person's newest version of the day
    jobs: list = field(default_factory=list)
    answer: PlanConfirmation | None = None
    answered_version: int | None = None  # the version number the answer was given to
    changes: list = field(default_factory=list)   # what changed since the answer, as lines

    @property
    def answer_is_current(self):
        """True when the person answered and nothing they were told changed since."""
        return self.answer is not None and not self.changes

    @property
    def office_phones(self):
        """The distinct office phones of the jobs' locations."""
        return list(dict.fromkeys(job.office_phone for job in self.jobs if job.office_phone))


def newest_version(company_id, crew_member_id, day):
    """The newest PlanVersion of day that told this person anything, or None."""
    return db.session.scalar(
        sa.select(PlanVersion)
        .join(PlanAssignment, PlanAssignment.plan_version_id == PlanVersion.id)
        .where(PlanVersion.company_id == company_id, PlanVersion.day == day,
               PlanAssignment.crew_member_id == crew_member_id)
        .order_by(PlanVersion.version.desc()).limit(1))


def told_in(version_id, crew_member_id):
    """{job id: snapshot} of what version told this person."""
    stmt = sa.select(PlanAssignment.journey_id, PlanAssignment.snapshot).where(
        PlanAssignment.plan_version_id == version_id, PlanAssignment.crew_member_id == crew_member_id)
    return dict(db.session.execute(stmt).all())


def newest_answer(crew_member_id, day):
    """The person's newest PlanConfirmation for day, or None."""
    return db.session.scalar(
        sa.select(PlanConfirmation)
        .where(PlanConfirmation.crew_member_id == crew_member_id, PlanConfirmation.day == day)
        .order_by(PlanConfirmation.id.desc()).limit(1))


def _still_on(job, link):
    """True when the job is on the link's day, not removed, in the link's company, with the person on its crew."""
    return (job.company_id == link.company_id and job.scheduled_date == link.day
            and job.sync_status != SyncStatus.REMOVED.value
            and any(member == link.crew_member_id for _name, member in crew_with_ids(job)))


def _office_phones(jobs):
    location_ids = {job.location_id for job in jobs if job.location_id is not None}
    if not location_ids:
        return {}
    stmt = sa.select(Location.id, Location.phone, Location.name).where(Location.id.in_(location_ids))
    return {location_id: (phone, name) for location_id, phone, name in db.session.execute(stmt)}


def _view(job, snapshot, member_id, offices):
    phone, location = offices.get(job.location_id, (None, None))
    crew = [(person["name"], person["role"], member == member_id)
            for person, (_name, member) in zip(snapshot["crew"], crew_with_ids(job), strict=True)]
    return JobView(id=job.id, number=snapshot["jobNumber"], window=snapshot["window"], start=job.span_start,
                   origin=snapshot["origin"], destination=snapshot["destination"], crew=crew,
                   truck=snapshot["truck"], notes=snapshot["notes"], office_phone=phone, location=location)


def _order(view):
    return view.start is None, view.start or 0, view.number


def personal_plan(link):
    """The PersonalPlan a live CrewLink shows."""
    member = db.session.get(CrewMember, link.crew_member_id)
    company = db.session.get(Company, link.company_id)
    version = newest_version(link.company_id, link.crew_member_id, link.day) or db.session.get(
        PlanVersion, link.plan_version_id)
    plan = PersonalPlan(member=member, company=company, day=link.day, version=version)
    told = told_in(version.id, member.id) if version is not None else {}
    jobs = [job for job in current_jobs(told) if _still_on(job, link)] if told else []
    roles = roles_of(jobs)
    now = {job.id: job_snapshot(job, roles) for job in jobs}
    offices = _office_phones(jobs)
    plan.jobs = sorted((_view(job, now[job.id], member.id, offices) for job in jobs), key=_order)
    plan.answer = newest_answer(member.id, link.day)
    if plan.answer is not None:
        answered = db.session.get(PlanVersion, plan.answer.plan_version_id)
        plan.answered_version = answered.version if answered is not None else None
        plan.changes = changes_since(told_in(plan.answer.plan_version_id, member.id), now)
    return plan


def changes_since(then, now):
    """Lines saying what changed from then to now ({job id: snapshot} each): jobs changed, added, taken away."""
    lines = []
    for job_id in list(then) + [job_id for job_id in now if job_id not in then]:
        old, new = then.get(job_id), now.get(job_id)
        changed = describe_changes(old, new)
        if old is not None and new is not None and old != new:
            # A change the lines do not name (a job number, a role) still asks the person again.
            changed = [f"{new['jobNumber']}: {line}" for line in changed] or [f"{new['jobNumber']}: details changed"]
        lines.extend(changed)
    return lines
