"""Dispatch health, utilisation and estimate-versus-actual from the range's jobs, one row per job.

These need each job's span, crew and dispatch history, so they are worked out in
Python over a narrow column list (no ORM objects). Spans are company-local naive
datetimes; a job synced before spans existed gets DEFAULT_JOB_HOURS from its
arrival start (the working day's start when it has none).
"""
from collections import defaultdict
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from datetime import UTC
from datetime import datetime
from datetime import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import AuditEvent
from dashboard.models import Company
from dashboard.models import CrewMember
from dashboard.models import Location
from dashboard.models import SyncStatus
from dashboard.models import Truck
from dashboard.models import TruckJourney
from dashboard.permissions import scope_query
from dashboard.reports.conflicts import conflicting_job_ids
from dashboard.reports.summary import CANCELLED_STATUSES


@dataclass(frozen=True)
class JobFacts:
    """What the operational figures need of one live job."""
    id: int
    company_id: int
    location_id: int | None
    day: object
    status: str
    truck_id: int | None
    crew: tuple
    smartmoving_crew: tuple
    start: datetime
    end: datetime
    estimated_cents: int | None
    actual_cents: int | None
    tips_cents: int | None

    @property
    def effective_crew(self):
        return self.crew or self.smartmoving_crew


class _AddsUp:
    """A dataclass whose fields are all numbers, so two of a kind add up field by field."""

    def add(self, other):
        """Add each of other's fields into this one's; returns self."""
        for each in fields(self):
            setattr(self, each.name, getattr(self, each.name) + getattr(other, each.name))
        return self


@dataclass
class Health(_AddsUp):
    """Dispatch health of a group of jobs (cancelled ones never need a truck or crew)."""
    jobs: int = 0
    eve_due: int = 0              # jobs whose evening before has passed
    assigned_by_eve: int = 0      # ... that had truck and crew by then
    morning_due: int = 0          # jobs whose working day has begun
    unassigned_at_morning: int = 0
    conflicts: int = 0            # jobs whose truck or crew overlaps another live job

    @property
    def share_by_eve(self):
        return self.assigned_by_eve / self.eve_due if self.eve_due else None


@dataclass
class Usage(_AddsUp):
    """Hours booked inside the working day against what the trucks and crew could give."""
    truck_hours: float = 0.0
    crew_hours: float = 0.0
    truck_capacity: float = 0.0
    crew_capacity: float = 0.0

    @property
    def truck_share(self):
        return self.truck_hours / self.truck_capacity if self.truck_capacity else None

    @property
    def crew_share(self):
        return self.crew_hours / self.crew_capacity if self.crew_capacity else None


@dataclass
class EstimateActual:
    """Jobs with both an estimate and actual charges: how far the estimate was off."""
    jobs: int = 0
    estimated_cents: int = 0
    actual_cents: int = 0
    tips_cents: int = 0

    @property
    def difference_cents(self):
        return self.actual_cents - self.estimated_cents

    @property
    def ratio(self):
        return self.actual_cents / self.estimated_cents if self.estimated_cents else None


@dataclass
class Operations:
    """Everything the page shows besides the summary table, keyed by location id (None: no location)."""
    health: dict = field(default_factory=dict)
    usage: dict = field(default_factory=dict)
    usage_by_day: dict = field(default_factory=dict)
    estimates: dict = field(default_factory=dict)


def _as_tuple(value):
    return tuple(str(name) for name in value) if isinstance(value, list) else ()


def job_columns():
    """The columns JobFacts are made of, for a select of truck_journeys."""
    job = TruckJourney
    return (job.id, job.company_id, job.location_id, job.scheduled_date, job.status, job.truck_id,
            job.crew, job.smartmoving_crew, job.span_start, job.span_end, job.arrival_start_hour,
            job.estimated_value_cents, job.actual_charges_cents, job.tips_cents)


def job_facts(rows, default_hours, day_start):
    """JobFacts of rows selected with job_columns(); a job without a span gets one from its arrival."""
    facts = []
    for (id_, company_id, loc_id, day, status, truck_id, crew, sm_crew, span_start, span_end, arrival,
         estimated, actual, tips) in rows:
        if span_start is None or span_end is None:
            span_start = datetime.combine(day, time()) + timedelta(hours=arrival if arrival is not None else day_start)
            span_end = span_start + timedelta(hours=default_hours)
        facts.append(JobFacts(id_, company_id, loc_id, day, status, truck_id, _as_tuple(crew), _as_tuple(sm_crew),
                              span_start, span_end, estimated, actual, tips))
    return facts


def load_jobs(user, start, end, location_id, default_hours, day_start):
    """Live (not removed) jobs of the range in user's scope, with their spans."""
    job = TruckJourney
    stmt = (sa.select(*job_columns())
            .where(job.scheduled_date >= start, job.scheduled_date <= end,
                   job.sync_status != SyncStatus.REMOVED.value))
    if location_id is not None:
        stmt = stmt.where(job.location_id == location_id)
    stmt = scope_query(stmt, user, job.company_id, job.location_id)
    return job_facts(db.session.execute(stmt), default_hours, day_start)


def _local_to_utc(day, hours, zone):
    """Company-local day + fractional hours as the naive UTC instant timestamps are stored in."""
    local = datetime.combine(day, time(), tzinfo=zone) + timedelta(hours=hours)
    return local.astimezone(UTC).replace(tzinfo=None)


def _dispatch_events(company_ids, since, job_ids):
    """{job id: [(at, detail)…]} of job.dispatch audit events from since (naive UTC) on, oldest first."""
    events = defaultdict(list)
    stmt = (sa.select(AuditEvent.target, AuditEvent.at, AuditEvent.detail)
            .where(AuditEvent.action == "job.dispatch", AuditEvent.at > since,
                   AuditEvent.company_id.in_(sorted(company_ids)))
            .order_by(AuditEvent.at, AuditEvent.id))
    for target, at, detail in db.session.execute(stmt):
        prefix, _, number = (target or "").partition(":")
        if prefix == "job" and number.isdigit() and int(number) in job_ids:
            events[int(number)].append((at, detail if isinstance(detail, dict) else {}))
    return events


def assigned_at(job, events, instant):
    """True when job had a truck and a crew at instant (naive UTC), replaying its edits backwards.

    The first edit after the instant holds, as its "old" value, what the field was
    then; a field never edited since has its current value.
    """
    truck, crew = job.truck_id is not None, list(job.crew)
    truck_known = crew_known = False
    for at, detail in events:
        if at <= instant:
            continue
        if not truck_known and isinstance(detail.get("truck"), list) and detail["truck"]:
            truck, truck_known = detail["truck"][0] is not None, True
        if not crew_known and isinstance(detail.get("crew"), list) and detail["crew"]:
            crew, crew_known = detail["crew"][0] or [], True
        if truck_known and crew_known:
            break
    return truck and bool(crew or job.smartmoving_crew)


def by_location(job):
    """The default grouping of the figures: the job's location id."""
    return job.location_id


def day_cutoffs(day, day_hours, zone):
    """(eve, morning) of day as naive UTC: the evening before it ends, its working day begins."""
    return _local_to_utc(day - timedelta(days=1), day_hours[1], zone), _local_to_utc(day, day_hours[0], zone)


def company_zones(company_ids):
    """{company id: ZoneInfo} of company_ids."""
    return {cid: ZoneInfo(tz) for cid, tz in db.session.execute(
        sa.select(Company.id, Company.timezone).where(Company.id.in_(sorted(company_ids))))}


def dispatch_health(jobs, day_hours, now_utc, key=by_location):
    """{key(job): Health} for the live, not cancelled jobs (key: location id unless told)."""
    day_start, day_end = day_hours
    active = [job for job in jobs if job.status not in CANCELLED_STATUSES]
    health = defaultdict(Health)
    if not active:
        return {}
    zones = company_zones({job.company_id for job in active})
    earliest_day = min(job.day for job in active)
    since = min(_local_to_utc(earliest_day - timedelta(days=1), day_end, zone) for zone in zones.values())
    events = _dispatch_events(zones.keys(), since, {job.id for job in active})
    in_conflict = conflicting_job_ids(active)
    cutoffs = {}
    for job in active:
        row = health[key(job)]
        row.jobs += 1
        day_key = (job.company_id, job.day)
        if day_key not in cutoffs:   # a day's eve and morning, once per company and day
            cutoffs[day_key] = day_cutoffs(job.day, day_hours, zones[job.company_id])
        eve, morning = cutoffs[day_key]
        history = events.get(job.id, ())
        if eve <= now_utc:
            row.eve_due += 1
            row.assigned_by_eve += assigned_at(job, history, eve)
        if morning <= now_utc:
            row.morning_due += 1
            row.unassigned_at_morning += not assigned_at(job, history, morning)
        row.conflicts += job.id in in_conflict
    return dict(health)


def _booked_hours(job, working_day):
    """Hours of job's span inside working_day (opens, closes)."""
    overlap = min(job.end, working_day[1]) - max(job.start, working_day[0])
    return max(overlap.total_seconds() / 3600, 0.0)


def capacity_per_day(location_ids, day_hours):
    """{location id: (truck hours, crew hours)} one working day can give: active trucks and crew members."""
    hours = day_hours[1] - day_hours[0]
    ids = sorted(loc for loc in location_ids if loc is not None)
    if not ids:
        return {}
    trucks = dict(db.session.execute(
        sa.select(Truck.location_id, sa.func.count(Truck.id))
        .where(Truck.location_id.in_(ids), Truck.is_active.is_(True))
        .group_by(Truck.location_id)).all())
    crew = dict(db.session.execute(
        sa.select(Location.id, sa.func.count(CrewMember.id))
        .join(CrewMember, sa.and_(CrewMember.company_id == Location.company_id,
                                  CrewMember.branch_external_id == Location.external_id))
        .where(Location.id.in_(ids),
               sa.or_(CrewMember.status.is_(None), sa.func.upper(CrewMember.status) != "INACTIVE"))
        .group_by(Location.id)).all())
    return {loc: (trucks.get(loc, 0) * hours, crew.get(loc, 0) * hours) for loc in ids}


def booked_hours(jobs, day_hours, key=by_location):
    """{key(job): Usage} of the truck and crew hours the live, not cancelled jobs book inside the working day
    (capacity left at 0: capacity_per_day gives it)."""
    working_days = {}
    booked = {}
    for job in jobs:
        if job.status in CANCELLED_STATUSES:
            continue
        if job.day not in working_days:
            midnight = datetime.combine(job.day, time())
            working_days[job.day] = (midnight + timedelta(hours=day_hours[0]), midnight + timedelta(hours=day_hours[1]))
        hours = _booked_hours(job, working_days[job.day])
        usage = booked.setdefault(key(job), Usage())
        usage.truck_hours += hours if job.truck_id is not None else 0.0
        usage.crew_hours += hours * len(job.effective_crew)
    return booked


def utilisation(jobs, location_ids, days, day_hours):
    """({location id: Usage}, {day: Usage}): hours booked against capacity over days."""
    per_day_capacity = capacity_per_day(location_ids, day_hours)
    by_location_usage = {loc: Usage() for loc in location_ids}
    by_day = {day: Usage() for day in days}
    for loc, (trucks, crew) in per_day_capacity.items():
        by_location_usage[loc].truck_capacity = trucks * len(days)
        by_location_usage[loc].crew_capacity = crew * len(days)
        for usage in by_day.values():
            usage.truck_capacity += trucks
            usage.crew_capacity += crew
    for loc, usage in booked_hours(jobs, day_hours).items():
        by_location_usage.setdefault(loc, Usage()).add(usage)
    for day, usage in booked_hours(jobs, day_hours, key=lambda job: job.day).items():
        by_day.setdefault(day, Usage()).add(usage)
    return by_location_usage, by_day


def estimates_vs_actuals(jobs, key=by_location):
    """{key(job): EstimateActual} over jobs that have both an estimate and actual charges."""
    result = defaultdict(EstimateActual)
    for job in jobs:
        if job.estimated_cents is None or job.actual_cents is None:
            continue
        row = result[key(job)]
        row.jobs += 1
        row.estimated_cents += job.estimated_cents
        row.actual_cents += job.actual_cents
        row.tips_cents += job.tips_cents or 0
    return dict(result)


def operations_from_jobs(user, report_range, location_ids, config, now_utc=None):
    """Dispatch health, utilisation and estimate-versus-actual for the range in user's scope, from every job.

    The full computation the rollup (dashboard/reports/rollup.py) replaced on the page; kept
    as the reference its figures are tested against. Clashes here count only among the jobs
    in the user's scope; the rollup counts them company-wide.
    """
    day_hours = config["BOARD_DAY_HOURS"]
    jobs = load_jobs(user, report_range.start, report_range.end, report_range.location_id,
                     config["DEFAULT_JOB_HOURS"], day_hours[0])
    now_utc = now_utc or datetime.now(UTC).replace(tzinfo=None)
    by_location, by_day = utilisation(jobs, location_ids, report_range.days(), day_hours)
    return Operations(health=dispatch_health(jobs, day_hours, now_utc), usage=by_location, usage_by_day=by_day,
                      estimates=estimates_vs_actuals(jobs))
