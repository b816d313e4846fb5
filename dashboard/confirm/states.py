"""Where each person stands with a day's plan, per job: unsent, sent, confirmed, declined or changed.

- unsent: no published version told them about this job (or they are a name typed by hand, with no contact);
- sent: a published version did (its message queued or delivered), and they have not answered;
- declined: their newest answer for the day is "can't make it";
- confirmed: they confirmed a version, and the job as it is now is what that version told them (same fingerprint
  of dashboard.plans.snapshot.job_snapshot);
- changed: they confirmed, but the job's time, place, crew, truck or notes changed since, or it was given to
  them after the version they confirmed.

The caller passes the jobs it already holds (a board's rows, an API list). A day then costs one statement
(its plan stamps: newest version, newest answer, delivery sum) when nothing changed; what the versions told
whom, the answers and the delivery status are read again only when their stamp moves, a job's marks only
when it or the stamps change, its fingerprint only when it or its crew's roles change. Never a query per job.
"""
from collections import namedtuple
from datetime import datetime
from datetime import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app

from dashboard.db import db
from dashboard.jobs import crew_roster
from dashboard.jobs.conflicts import is_live
from dashboard.jobs.queries import plan_stamps
from dashboard.jobs.render_cache import OnceCache
from dashboard.models import Company
from dashboard.models import CrewMember
from dashboard.models import SyncStatus
from dashboard.models import TruckJourney
from dashboard.models import utcnow
from dashboard.plans.audience import in_plan
from dashboard.plans.models import PlanAssignment
from dashboard.plans.models import PlanConfirmation
from dashboard.plans.models import PlanVersion
from dashboard.plans.queries import delivery_by_person
from dashboard.plans.snapshot import crew_with_ids
from dashboard.plans.snapshot import fingerprint
from dashboard.plans.snapshot import job_snapshot
from dashboard.readiness.blockers import register

UNSENT, SENT, CONFIRMED, DECLINED, CHANGED = "unsent", "sent", "confirmed", "declined", "changed"
STATES = (UNSENT, SENT, CONFIRMED, DECLINED, CHANGED)

# One person on one job: their name as the crew list shows it, their CrewMember id (None: typed by hand),
# their state, the reason they gave when they declined, and the delivery status of their newest message.
Mark = namedtuple("Mark", "name crew_member_id state reason delivery")

# The newest answer of one person for the day.
Answer = namedtuple("Answer", "id state reason plan_version_id")

# Each keyed by the day's plan stamps (jobs.queries.plan_stamps: newest version id, newest answer id, a sum
# every delivery step moves) and, per job, its two stamps: a key never names stale data, it just stops
# being asked for. What the versions told whom and the answers, by (company, day, stamp):
_told_by_version = OnceCache(32, share=0.02, rank=30)
_answers_by_stamp = OnceCache(32, share=0.02, rank=30)
_delivery_by_stamp = OnceCache(32, share=0.02, rank=30)
# Sizes (bytes) are fixed estimates: per-job entries are stored by the thousand after a change of stamps.
# Fingerprints of jobs as they are now, by (job id, its stamps, its crew's roles).
_fingerprints = OnceCache(20_000, share=0.05, rank=30, sizer=lambda key, found: 400)
# A job's marks by (job id, its stamps, the day's plan stamps, the roster's fingerprint): after one job changes,
# only it is worked out again; a roster change (a role edited alone) works the day's out again.
_job_marks = OnceCache(50_000, share=0.10, rank=30, sizer=lambda key, marks: 300 + 250 * len(marks))


class DayPlan:
    """Every person's state on the given jobs of one company's day."""

    def __init__(self, published, marks):
        self.published = published   # some version of the day was published
        self.marks = marks           # {job id: (Mark, ...)} in the crew list's order

    def marks_of(self, job_id):
        """The job's Marks, () for a job without crew (or not among the jobs asked about)."""
        return self.marks.get(job_id, ())

    def state(self, job_id, crew_member_id):
        """The state of one person on one job (unsent when they are not on it)."""
        for mark in self.marks_of(job_id):
            if mark.crew_member_id == crew_member_id and crew_member_id is not None:
                return mark.state
        return UNSENT

    def counter(self):
        """(people confirmed, people) over the jobs: people on at least one, confirmed on every one."""
        return confirmed_people(self.marks)


def board_marks(jobs, known=None):
    """{job id: (Mark, ...)} of a board's jobs (any companies and days) whose day has a published plan.

    known: {(company id, day): {"stamps": plan_stamps, "roster": the roster's fingerprint}} the caller read
    already (board_version's plan and crew parts).
    """
    by_day = {}
    for job in jobs:
        by_day.setdefault((job.company_id, job.scheduled_date), []).append(job)
    marks = {}
    for (company_id, day), of_day in sorted(by_day.items(), key=lambda item: item[0]):
        marks.update(day_plan(company_id, day, of_day, **(known or {}).get((company_id, day), {})).marks)
    return marks


def confirmed_people(marks):
    """(people confirmed, people) over {job id: marks}: people on any of the jobs, confirmed on every one."""
    people = {}
    for job_marks in marks.values():
        for mark in job_marks:
            if mark.crew_member_id is not None:
                people[mark.crew_member_id] = people.get(mark.crew_member_id, True) and mark.state == CONFIRMED
    return sum(people.values()), len(people)


def confirmed_of(jobs, marks):
    """confirmed_people over those of jobs the plan tells anyone about (plans.audience.in_plan), given {job id:
    marks}: people whose only jobs are cancelled or removed were never sent the plan, so they are not counted."""
    return confirmed_people({job.id: marks[job.id] for job in jobs if job.id in marks and in_plan(job)})


def day_plan(company_id, day, jobs=None, with_unsent=False, stamps=None, roster=None):
    """The DayPlan of jobs of company's day (default: every job of the day, read here).

    jobs: TruckJourney rows or the board's BoardJobs (anything with their columns and a
    truck name). with_unsent: work out the marks even when nothing was published
    (readiness needs "unsent"; a board shows no marks before the first version). stamps: plan_stamps(company_id,
    day), roster: crew_roster.fingerprint(company_id), if the caller read them already.
    """
    newest, answered, delivered = stamps if stamps is not None else plan_stamps(company_id, day)
    if newest is None and not with_unsent:
        return DayPlan(False, {})
    if jobs is None:
        jobs = day_jobs(company_id, day)
    stamp = (newest, answered, delivered)
    # The crew's roles are part of what each person was told: a role edited alone makes "changed" too.
    roster = tuple(roster) if roster is not None else crew_roster.fingerprint(company_id)
    marks, missing = {}, []
    for job in jobs:
        key = (job.id, job.last_sync_at, job.dispatch_updated_at, stamp, roster)
        found = _job_marks.get(key)
        if found is None:
            missing.append((job, key))
        else:
            marks[job.id] = found
    if missing:
        marks.update(_work_out(company_id, day, missing, stamp))
    return DayPlan(newest is not None, marks)


def _work_out(company_id, day, missing, stamp):
    """{job id: marks} of the (job, cache key) pairs in missing, remembered under their keys."""
    newest, answered, delivered = stamp
    told = _told(company_id, day, newest)
    answers = _answers(company_id, day, answered)
    delivery = _delivery(company_id, day, newest, delivered) if newest is not None else {}
    # Only jobs someone confirmed are compared with what they were told.
    confirmed = {member for member, answer in answers.items() if answer.state == CONFIRMED}
    crews = [(job, key, crew_with_ids(job)) for job, key in missing]
    compared = [job for job, _key, crew in crews if any(member in confirmed for _name, member in crew)]
    now_prints = current_fingerprints(compared) if compared else {}
    marks = {}
    for job, key, crew in crews:
        marks[job.id] = tuple(
            Mark(name, member, _state(job.id, member, told, answers, now_prints),
                 _reason(member, answers), delivery.get(member) if member is not None else None)
            for name, member in crew)
        _job_marks.put(key, marks[job.id])
    return marks


def forget():
    """Drop what was worked out (a new app or database)."""
    for cache in (_told_by_version, _answers_by_stamp, _delivery_by_stamp, _fingerprints, _job_marks):
        cache.clear()


def _state(job_id, member, told, answers, now_prints):
    """One person's state on one job (see the module's docstring)."""
    if member is None:
        return UNSENT
    versions = told.get((member, job_id))
    # Told in an earlier version but not in their newest (taken off, then put back): not told yet.
    if not versions or told.newest.get(member) not in versions:
        return UNSENT
    answer = answers.get(member)
    if answer is None:
        return SENT
    if answer.state == DECLINED:
        return DECLINED
    then = versions.get(answer.plan_version_id)
    return CONFIRMED if then is not None and then == now_prints.get(job_id) else CHANGED


def _reason(member, answers):
    answer = answers.get(member)
    return answer.reason if answer is not None and answer.state == DECLINED else None


class _Told(dict):
    """{(crew member id, job id): {plan version id: fingerprint}}: what every version of the day told whom,
    with `newest`, {crew member id: id of the newest version that told them anything}."""

    def __init__(self):
        super().__init__()
        self.newest = {}


def _told(company_id, day, newest):
    """The day's _Told up to version id newest: read once per version (assignments never change once written)."""
    if newest is None:
        return _Told()
    return _told_by_version.get_or_build((company_id, day, newest), lambda: _read_told(company_id, day, newest))


def _read_told(company_id, day, newest):
    """_Told of the day's versions up to newest, in one query (in order, so each person's newest is seen last)."""
    stmt = (sa.select(PlanAssignment.crew_member_id, PlanAssignment.journey_id, PlanAssignment.plan_version_id,
                      PlanAssignment.fingerprint)
            .join(PlanVersion, PlanVersion.id == PlanAssignment.plan_version_id)
            .where(PlanVersion.company_id == company_id, PlanVersion.day == day, PlanVersion.id <= newest)
            .order_by(PlanVersion.version))
    told = _Told()
    for member, job_id, version_id, print_ in db.session.execute(stmt):
        told.setdefault((member, job_id), {})[version_id] = print_
        told.newest[member] = version_id
    return told


def _answers(company_id, day, newest):
    """{crew member id: Answer}: each person's newest answer for the day, up to answer id newest (read once per id)."""
    if newest is None:
        return {}
    return _answers_by_stamp.get_or_build((company_id, day, newest), lambda: _read_answers(company_id, day, newest))


def _read_answers(company_id, day, newest):
    stmt = (sa.select(PlanConfirmation.id, PlanConfirmation.crew_member_id, PlanConfirmation.state,
                      PlanConfirmation.reason, PlanConfirmation.plan_version_id)
            .where(PlanConfirmation.company_id == company_id, PlanConfirmation.day == day,
                   PlanConfirmation.id <= newest)
            .order_by(PlanConfirmation.id))
    return {member: Answer(answer_id, state, reason, version_id)
            for answer_id, member, state, reason, version_id in db.session.execute(stmt)}


def _delivery(company_id, day, newest, delivered):
    """plans.queries.delivery_by_person of the day, read once per (newest version, delivery sum)."""
    return _delivery_by_stamp.get_or_build((company_id, day, newest, delivered),
                                           lambda: delivery_by_person(company_id, day))


def current_jobs(job_ids):
    """The jobs with these ids as ORM rows with their trucks (the raw SmartMoving JSON left in the database)."""
    stmt = (sa.select(TruckJourney).where(TruckJourney.id.in_(job_ids))
            .options(so.defer(TruckJourney.external_data), so.selectinload(TruckJourney.truck)))
    return list(db.session.scalars(stmt))


def day_jobs(company_id, day):
    """The company's jobs of day (removed ones aside) as ORM rows with their trucks."""
    stmt = (sa.select(TruckJourney).where(TruckJourney.company_id == company_id, TruckJourney.scheduled_date == day,
                                          TruckJourney.sync_status != SyncStatus.REMOVED.value)
            .options(so.defer(TruckJourney.external_data), so.selectinload(TruckJourney.truck)))
    return list(db.session.scalars(stmt))


def roles_of(jobs):
    """{CrewMember id: role} of everyone on jobs (one query)."""
    ids = {member for job in jobs for _name, member in crew_with_ids(job) if member is not None}
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(CrewMember.id, CrewMember.role).where(CrewMember.id.in_(ids))).all())


def current_fingerprints(jobs):
    """{job id: fingerprint of the job as it is now} (snapshot.job_snapshot with its crew's roles).

    Kept per job under its two stamps and its crew's roles: every write of a job moves a
    stamp (trucks are never renamed), so after a change only the changed jobs are hashed again.
    """
    roles = roles_of(jobs)
    prints = {}
    for job in jobs:
        key = (job.id, job.last_sync_at, job.dispatch_updated_at,
               tuple(roles.get(member) for _name, member in crew_with_ids(job)))
        found = _fingerprints.get(key)
        if found is None:
            found = fingerprint(job_snapshot(job, roles))
            _fingerprints.put(key, found)
        prints[job.id] = found
    return prints


def confirm_by(day, tz_name, clock):
    """The naive-UTC moment PLAN_CONFIRM_BY ("HH:MM" company time on the day before day) falls on."""
    hours, minutes = (int(part) for part in clock.split(":"))
    local = datetime.combine(day - timedelta(days=1), time(0)) + timedelta(hours=hours, minutes=minutes)
    return local.replace(tzinfo=ZoneInfo(tz_name)).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def _names(marks):
    return ", ".join(mark.name for mark in marks)


def readiness_blockers(company_id, day, jobs, now=None):
    """Readiness blockers of jobs (of company's day): [{"kind", "jobId", "jobNumber", "message"}].

    Kinds: `declined` (someone can't make it), `changed` (the job changed since someone confirmed it) and,
    once PLAN_CONFIRM_BY has passed on the day before, `unconfirmed` (someone has not confirmed).
    """
    company = db.session.get(Company, company_id)
    late = (now or utcnow()) >= confirm_by(day, company.timezone, current_app.config["PLAN_CONFIRM_BY"])
    plan = day_plan(company_id, day, jobs, with_unsent=late)
    blockers = []
    for job in jobs:
        marks = [mark for mark in plan.marks_of(job.id) if mark.crew_member_id is not None]
        number = job.job_number or f"#{job.id}"
        declined = [mark for mark in marks if mark.state == DECLINED]
        if declined:
            why = "; ".join(f"{mark.name}: {mark.reason}" if mark.reason else mark.name for mark in declined)
            blockers.append(_blocker(DECLINED, job, f"{number}: can't make it: {why}"))
        changed = [mark for mark in marks if mark.state == CHANGED]
        if changed:
            blockers.append(_blocker(CHANGED, job, f"{number} changed since {_names(changed)} confirmed: "
                                                   "send the changes"))
        waiting = [mark for mark in marks if mark.state in (UNSENT, SENT)]
        if late and waiting:
            blockers.append(_blocker("unconfirmed", job, f"{number}: not confirmed by {_names(waiting)}"))
    return blockers


def _blocker(kind, job, message):
    return {"kind": kind, "jobId": job.id, "jobNumber": job.job_number, "message": message}


def readiness_check(view):
    """The readiness panel's check (readiness.blockers.register): this feature's blockers of the viewer's live jobs."""
    return readiness_blockers(view.company_id, view.day, [job for job in view.jobs if is_live(job)])


register(readiness_check, kinds=("unconfirmed", "declined", "changed"))
