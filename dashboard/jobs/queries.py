"""Reading jobs for boards and the API, always through the permission scope."""
import functools
import json
from collections import namedtuple
from datetime import date
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
import sqlalchemy.orm as so

from dashboard.changes.models import UpstreamChange
from dashboard.db import db
from dashboard.jobs.crew_roster import fingerprint_parts as crew_fingerprint_parts
from dashboard.jobs.job_search import job_matcher
from dashboard.models import Company
from dashboard.models import DataSource
from dashboard.models import Location
from dashboard.models import SyncRun
from dashboard.models import SyncStatus
from dashboard.models import TimeOff
from dashboard.models import Truck
from dashboard.models import TruckJourney
from dashboard.permissions import Perm
from dashboard.permissions import Scope
from dashboard.permissions import can
from dashboard.permissions import can_see_journey
from dashboard.permissions import is_assigned_to
from dashboard.permissions import scope_of
from dashboard.permissions import scope_query
from dashboard.plans.models import OutboxMessage
from dashboard.plans.models import PlanConfirmation
from dashboard.plans.models import PlanVersion


def _on_day(stmt, day, include_removed=False):
    """stmt narrowed to day's jobs (removed ones only when asked, or while their removal is unacknowledged)."""
    stmt = stmt.where(TruckJourney.scheduled_date == day)
    if not include_removed:
        # A dispatched job removed in SmartMoving stays (greyed) until someone acknowledges it (issue 19 §2).
        stmt = stmt.where(sa.or_(TruckJourney.sync_status != SyncStatus.REMOVED.value, _removal_unacknowledged()))
    return stmt


def _removal_unacknowledged():
    """True for a job whose raised `removed` change nobody has acknowledged yet (asked of removed jobs only:
    the OR's first arm holds for every other row; one seek into the change table's journey index)."""
    return sa.exists().where(
        UpstreamChange.journey_id == TruckJourney.id, UpstreamChange.kind == "removed",
        UpstreamChange.dispatched.is_(True), UpstreamChange.acknowledged_at.is_(None))


def _of_day(stmt, day, include_removed=False):
    """_on_day, ordered by arrival then job number."""
    return _on_day(stmt, day, include_removed).order_by(
        TruckJourney.arrival_start_hour.is_(None), TruckJourney.arrival_start_hour,
        TruckJourney.job_number, TruckJourney.id)


def _day_scope(stmt, user, day, location_id, status, include_removed):
    """stmt narrowed to day's jobs user may see, and a predicate for what SQL cannot judge (None: nothing to see).

    Board roles see their scope; drivers and movers see only jobs whose crew holds their
    linked crew member, by id (crew lists are JSON, so that match happens in Python; a day
    is a few hundred rows). An unlinked driver or mover sees no job.
    """
    stmt = _of_day(stmt, day, include_removed)
    if location_id is not None:
        stmt = stmt.where(TruckJourney.location_id == location_id)
    if status:
        stmt = stmt.where(sa.or_(TruckJourney.status == status, TruckJourney.dispatch_status == status))
    if can(user, Perm.VIEW_JOBS):
        return scope_query(stmt, user, TruckJourney.company_id, TruckJourney.location_id), None
    if can(user, Perm.VIEW_OWN_JOBS) and getattr(user, "crew_member_id", None) is not None:
        if not include_removed:   # a removal awaiting a dispatcher's acknowledgement is not the crew's work
            stmt = stmt.where(TruckJourney.sync_status != SyncStatus.REMOVED.value)
        stmt = stmt.where(TruckJourney.company_id == user.company_id, may_hold_member(user.crew_member_id))
        return stmt, lambda job: is_assigned_to(user, job)
    return None, None


def may_hold_member(crew_member_id):
    """A WHERE clause true for every job whose crew id lists may hold crew_member_id: the id as a whole
    number in either list's JSON text ("[7, 12]" or "[7,12]"). A cheap superset that keeps a crew member's
    My jobs from loading the company's whole day; is_on_crew in Python decides."""
    member = int(crew_member_id)
    patterns = [f"%{before}{member}{after}%" for before in ("[", " ", ",") for after in (",", "]")]
    return sa.or_(*(sa.cast(column, sa.Text).like(pattern)
                    for column in (TruckJourney.crew_member_ids, TruckJourney.smartmoving_crew_ids)
                    for pattern in patterns))


def jobs_for_day(user, day: date, location_id=None, status=None, search=None, include_removed=False,
                 crew_member_id=None):
    """Jobs (ORM objects) on day that user may see, ordered by arrival then job number.

    crew_member_id: only jobs that may hold this crew member (may_hold_member; the caller checks by id).
    """
    stmt = (
        sa.select(TruckJourney)
        # The raw SmartMoving JSON is big and no board shows it: leave it in the database.
        .options(so.defer(TruckJourney.external_data),
                 so.selectinload(TruckJourney.location).defer(Location.external_data),
                 so.selectinload(TruckJourney.truck))
    )
    if crew_member_id is not None:
        stmt = stmt.where(may_hold_member(crew_member_id))
    return _matching(user, stmt, day, location_id, status, search, include_removed, db.session.scalars)


class Ref(NamedTuple):
    """A board job's location or truck: all a board shows of either is the name."""
    id: int
    name: str


_BOARD_COLUMNS = (
    "id", "company_id", "location_id", "truck_id", "job_number", "quote_number", "customer_name",
    "customer_phone", "origin_address", "destination_address", "arrival_window", "arrival_start_hour",
    "scheduled_date", "span_start", "span_end", "estimated_value_cents", "actual_charges_cents", "tips_cents",
    "status", "dispatch_status", "sync_status", "sync_error", "removal_pending_at", "removal_reason", "notes",
    "data_source", "crew", "smartmoving_crew", "created_at", "last_sync_at", "dispatch_updated_at",
    "crew_member_ids", "smartmoving_crew_ids", "crew_required",
)


_LOCATION_ID = _BOARD_COLUMNS.index("location_id")
_TRUCK_ID = _BOARD_COLUMNS.index("truck_id")


# Read raw and converted in BoardJob.from_row: SQLAlchemy's own JSON and SQLite datetime
# processing was half the cost of reading a day (PostgreSQL's driver hands both over parsed).
_JSON_COLUMNS = ("crew", "smartmoving_crew", "crew_member_ids", "smartmoving_crew_ids")
_TIME_COLUMNS = ("span_start", "span_end", "removal_pending_at", "created_at", "last_sync_at", "dispatch_updated_at")
_JSON_AT = tuple(_BOARD_COLUMNS.index(name) for name in _JSON_COLUMNS)
_TIME_AT = tuple(_BOARD_COLUMNS.index(name) for name in _TIME_COLUMNS)
_DAY_AT = _BOARD_COLUMNS.index("scheduled_date")


def _names(value):
    """A crew column as a tuple of names (None stays None), from JSON text or an already parsed list."""
    if value is None or value == "null":   # SQL NULL, or JSON null as the JSON type writes None
        return None
    if not isinstance(value, str):
        return tuple(value)
    if len(value) > _CACHED_CREW_TEXT:
        return tuple(json.loads(value))
    return _names_in(value)


# Crew lists kept parsed: at most 16,384 of at most 256 characters (under 16 MiB, ~5 MiB as crews go).
_CACHED_CREW_TEXT = 256


@functools.lru_cache(maxsize=16_384)   # the same crews come back on every read of the day
def _names_in(text):
    return tuple(json.loads(text))


def _datetime(value):
    return datetime.fromisoformat(value) if isinstance(value, str) else value


class BoardJob(namedtuple("BoardColumns", _BOARD_COLUMNS + ("location", "truck"))):
    """One job as the day board reads it: plain columns, no ORM object (a 2,000-job board
    spends most of its time building and reading instrumented objects otherwise).

    It answers the same attribute names as TruckJourney for what boards, search and
    conflict checks read; `location` and `truck` are Refs (or None), crews are tuples.
    """
    __slots__ = ()

    effective_crew = TruckJourney.effective_crew
    effective_crew_ids = TruckJourney.effective_crew_ids

    @classmethod
    def from_row(cls, row):
        """row: the _BOARD_COLUMNS (crews and times raw), then the location's name and the truck's name."""
        *columns, location_name, truck_name = row
        for at in _JSON_AT:
            columns[at] = _names(columns[at])
        for at in _TIME_AT:
            columns[at] = _datetime(columns[at])
        if isinstance(columns[_DAY_AT], str):
            columns[_DAY_AT] = date.fromisoformat(columns[_DAY_AT])
        location_id, truck_id = columns[_LOCATION_ID], columns[_TRUCK_ID]
        return cls._make((*columns, None if location_id is None else Ref(location_id, location_name),
                          None if truck_id is None else Ref(truck_id, truck_name)))


def _raw(name):
    """The column as the driver returns it: JSON text and ISO times on SQLite (see from_row)."""
    column = getattr(TruckJourney, name)
    if name in _JSON_COLUMNS or name in _TIME_COLUMNS or name == "scheduled_date":
        return sa.type_coerce(column, sa.String).label(name)
    return column


def _board_select():
    return (
        sa.select(*map(_raw, _BOARD_COLUMNS), Location.name, Truck.name)
        .outerjoin(Location, Location.id == TruckJourney.location_id)
        .outerjoin(Truck, Truck.id == TruckJourney.truck_id)
    )


def _board_jobs(statement, params=None):
    # Through the connection: plain columns need none of the ORM session's result handling (a fifth of a read).
    return map(BoardJob.from_row, db.session.connection().execute(statement, params).all())


def board_jobs_for_day(user, day: date, location_id=None, status=None, search=None):
    """Jobs on day that user may see, as BoardJobs, ordered by arrival then job number (one query)."""
    return _matching(user, _board_select(), day, location_id, status, search, False, _board_jobs)


def company_board_jobs(company_id, day: date, ids=None):
    """Every job of company on day (removed ones aside), or those of them with these ids, as BoardJobs in
    no set order (jobs.day_snapshot sorts them): no viewer's scope applied."""
    params = {"company_id": company_id, "day": day} | ({} if ids is None else {"ids": list(ids)})
    return list(_board_jobs(_company_day_statement(ids is not None), params))


@functools.cache   # built once: after every change, each process reads the few jobs whose stamps moved
def _company_day_statement(by_ids):
    """company_board_jobs' statement: company_id and day as parameters (and the ids, expanding, when by_ids).
    Built per call, its 60 columns took longer to put together and look up in the compiled cache than the
    database took to answer."""
    stmt = _on_day(_board_select().where(TruckJourney.company_id == sa.bindparam("company_id", type_=sa.Integer)),
                   sa.bindparam("day", type_=sa.Date))
    return stmt.where(TruckJourney.id.in_(sa.bindparam("ids", expanding=True))) if by_ids else stmt


def company_names(company_ids):
    """{company id: name} of these companies (a board spanning several labels its groups with them)."""
    if not company_ids:
        return {}
    return dict(db.session.connection().execute(
        sa.select(Company.id, Company.name).where(Company.id.in_(sorted(company_ids)))).all())


# The sync status a board gives a job shown on the day SmartMoving moved it away from (issue 19 §2).
MOVED_AWAY = "MOVED"


def moved_away_jobs(company_id, day: date):
    """BoardJobs of company that SmartMoving moved off day while dispatched, until the move is acknowledged.

    They keep their new date (the board says "moved to Tue 8 Dec") and carry
    sync_status MOVED_AWAY, so boards grey them and leave them out of counts and clashes.
    """
    # The change table first (one seek, usually nothing): the jobs are read only when some moved.
    moved = sorted(set(db.session.scalars(sa.select(UpstreamChange.journey_id).where(
        UpstreamChange.company_id == company_id, UpstreamChange.day_before == day, UpstreamChange.kind == "date",
        UpstreamChange.dispatched.is_(True), UpstreamChange.acknowledged_at.is_(None)))))
    if not moved:
        return []
    stmt = _board_select().where(TruckJourney.company_id == company_id, TruckJourney.id.in_(moved),
                                 TruckJourney.scheduled_date != day,
                                 TruckJourney.sync_status != SyncStatus.REMOVED.value)
    return [job._replace(sync_status=MOVED_AWAY) for job in _board_jobs(stmt)]


def day_stamps(company_id, day: date):
    """{job id: (last_sync_at, dispatch_updated_at)} of every job of company on day, removed ones too.

    Read from ix_journey_version alone. Every write a board can show moves one of the
    two stamps, so a job whose stamps did not move since a read is still as read.
    """
    stmt = sa.select(TruckJourney.id, _raw("last_sync_at"), _raw("dispatch_updated_at")).where(
        TruckJourney.company_id == company_id, TruckJourney.scheduled_date == day)
    return {job_id: (synced, edited) for job_id, synced, edited in db.session.connection().execute(stmt).all()}


def _matching(user, stmt, day, location_id, status, search, include_removed, load):
    """The jobs load(stmt) returns once scoped to user and day, that pass the search and the crew check."""
    stmt, visible = _day_scope(stmt, user, day, location_id, status, include_removed)
    if stmt is None:
        return []
    matcher = job_matcher(search)
    return [job for job in load(stmt) if (visible is None or visible(job)) and matcher(job)]


def day_is_synced(company_id, day):
    """True when a successful (or partial) sync run of company covered day; MANUAL-only days are not."""
    return db.session.scalar(sa.select(sa.exists().where(
        SyncRun.company_id == company_id, SyncRun.status.in_(("SUCCESS", "PARTIAL")),
        SyncRun.window_start <= day, SyncRun.window_end >= day))) is True


def locations_for(user):
    """Locations user may see, by name."""
    stmt = sa.select(Location).order_by(Location.name)
    if can(user, Perm.VIEW_JOBS):
        stmt = scope_query(stmt, user, Location.company_id, Location.id)
        return list(db.session.scalars(stmt))
    return []


def get_job_for(user, job_id):
    """The job with this id if user may see it, else None (never reveals other tenants' ids).

    A deleted manual job (REMOVED, see jobs.manual) is found by no one: nothing links to it any more.
    """
    job = db.session.get(TruckJourney, job_id)
    if job is None or not can_see_journey(user, job) or is_deleted_manual(job):
        return None
    return job


def is_deleted_manual(job):
    """True for a manual job someone deleted (soft: kept REMOVED, hidden from every board and the API)."""
    return job.data_source == DataSource.MANUAL.value and job.sync_status == SyncStatus.REMOVED.value


def board_version(user, day):
    """A cheap fingerprint of everything a board of day can show user, in one statement.

    It changes whenever a job of that day is created, synced, removed or edited, a
    location is re-synced, a truck is added or taken out of service, a crew member is
    added, synced or edited, or a sync run succeeds; the polled board partial's ETag is
    made of it (the last successful sync last). The VERSION_* slices name its parts.
    """
    stmt = _version_statement(scope_of(user) is Scope.ALL_COMPANIES)
    # Through the connection: a plain Core statement needs none of the ORM session's result handling.
    return tuple(db.session.connection().execute(stmt, {"day": day, "company_id": user.company_id}).one())


# board_version's parts that readers of a day use: locations and trucks (names on every row), locations alone, the
# counts of open changes, the plan's stamps, time off and trucks out of service, the crew roster (crew_roster.load's
# fingerprint), the last successful sync.
VERSION_PLACES = slice(3, 7)
VERSION_LOCATIONS = slice(3, 5)
VERSION_OPEN_CHANGES = (7, 9)   # unacknowledged changes of the day: moved off it, onto it (see _change_parts)
VERSION_PLAN = slice(11, 14)    # plan_stamps
VERSION_LAST_SUCCESS = -1
VERSION_TIME_OFF = slice(14, 16)
VERSION_CREW = slice(16, 18)


@functools.cache   # built once: every open board runs it on every poll
def _version_statement(all_companies):
    """board_version's statement, with the day and the company as parameters."""
    day, company_id = sa.bindparam("day", type_=sa.Date), sa.bindparam("company_id", type_=sa.Integer)

    def of_day(aggregate):
        # Every index of the jobs starts with the company: for a super admin, each company's day
        # is one seek (company_id IN ...), where the date alone would scan every company's jobs.
        companies = (TruckJourney.company_id.in_(sa.select(Company.id)) if all_companies
                     else TruckJourney.company_id == company_id)
        return sa.select(aggregate).where(companies, TruckJourney.scheduled_date == day)

    # The count notices a job joining or leaving the day (jobs are never deleted); every other
    # change of a job moves one of its two stamps. Each aggregate is a query of its own: SQLite
    # and PostgreSQL turn a max() into one seek into its index (ix_journey_version,
    # ix_journey_dispatch_version) only when it is alone, and the count reads the narrowest index.
    jobs = (of_day(sa.func.count()), of_day(sa.func.max(TruckJourney.last_sync_at)),
            of_day(sa.func.max(TruckJourney.dispatch_updated_at)))
    # Two aggregates over the same rows are one pass of one derived table (a single row each), not two
    # subqueries: a company's trucks were read twice per poll (0.8 ms each at 4,000 trucks on SQLite).
    locations = sa.select(sa.func.max(Location.last_sync_at), sa.func.count(Location.id))
    # Trucks are added or taken out of service (never renamed): the lanes and pickers show the active ones.
    trucks = sa.select(sa.func.count(Truck.id), sa.func.coalesce(sa.func.sum(Truck.id), 0)).where(
        Truck.is_active.is_(True))
    last_success = sa.select(sa.func.max(SyncRun.finished_at)).where(SyncRun.company_id == company_id,
                                                                      SyncRun.status.in_(("SUCCESS", "PARTIAL")))
    # The roster (roles and names feed the short-staffed and no-driver flags): a seek each into the crew's indexes.
    crew = crew_fingerprint_parts(None if all_companies else company_id)
    if not all_companies:
        locations = locations.where(Location.company_id == company_id)
        trucks = trucks.where(Truck.company_id == company_id)
    pairs = [_one_row(stmt, f"v{n}") for n, stmt in enumerate(
        (locations, trucks, *_change_parts(all_companies, day, company_id), _availability_parts(all_companies,
                                                                                                company_id)))]
    locations, trucks, changed_before, changed_after, off = pairs
    columns = [*(part.scalar_subquery() for part in jobs), *locations.c, *trucks.c, *changed_before.c,
               *changed_after.c, *(part.scalar_subquery() for part in _plan_parts(all_companies, day, company_id)),
               *off.c, *(part.scalar_subquery() for part in crew), last_success.scalar_subquery()]
    joined = pairs[0]
    for pair in pairs[1:]:
        joined = joined.join(pair, sa.true())
    return sa.select(*columns).select_from(joined)


def _one_row(stmt, name):
    """stmt (aggregates without GROUP BY: one row) as a derived table named name, its columns a and b."""
    first, second = stmt.selected_columns
    return stmt.with_only_columns(first.label("a"), second.label("b")).subquery(name)


def _availability_parts(all_companies, company_id):
    """board_version's parts for time off and trucks out of service (issue 17): the conflict engine's
    timeoff / truck-unavailable kinds. Entries are added and deleted, never edited: their count and
    the sum of their ids (one statement) move with every change."""
    stmt = sa.select(sa.func.count(TimeOff.id), sa.func.coalesce(sa.func.sum(TimeOff.id), 0))
    return stmt if all_companies else stmt.where(TimeOff.company_id == company_id)


def _change_parts(all_companies, day, company_id):
    """board_version's parts for upstream changes of the day (issue 19): recording or acknowledging one moves them.

    Per side (the day a change moved a job from, and to): how many are unacknowledged (an
    acknowledgement or a change undone lowers it, a new one raises it) and the newest
    change time (a change folded into an earlier one of its run moves it). Each is one
    seek into ix_upstream_changes_company_day_before / _after.
    """
    companies = (UpstreamChange.company_id.in_(sa.select(Company.id)) if all_companies
                 else UpstreamChange.company_id == company_id)
    return [sa.select(sa.func.count(), sa.func.max(UpstreamChange.at)).where(
        companies, side == day, UpstreamChange.acknowledged_at.is_(None))
        for side in (UpstreamChange.day_before, UpstreamChange.day_after)]


# A message's weight in board_version's delivery part: every step it takes (claimed, sent, failed, held) moves it.
_DELIVERY_STEP = sa.case({"queued": 0, "sending": 1, "sent": 2, "failed": 3, "unsent": 4},
                         value=OutboxMessage.status, else_=5)


def _plan_parts(all_companies, day, company_id):
    """board_version's parts for the crew's plan of the day (issue 18): publishing, answering, delivering.

    The newest plan version and the newest answer (ids only grow: one seek each into
    uq_plan_company_day_version / ix_plan_confirmations_company_day), and a sum over the
    day's messages (ix_outbox_company_day) that every claim (attempts) and status step moves,
    so a confirmation or a delivery shows on an open board within one poll.
    """
    def of_day(aggregate, model):
        companies = model.company_id.in_(sa.select(Company.id)) if all_companies else model.company_id == company_id
        return sa.select(aggregate).where(companies, model.day == day)

    return [of_day(sa.func.max(PlanVersion.id), PlanVersion),
            of_day(sa.func.max(PlanConfirmation.id), PlanConfirmation),
            of_day(sa.func.coalesce(sa.func.sum(OutboxMessage.attempts * 8 + _DELIVERY_STEP), 0), OutboxMessage)]


def plan_stamps(company_id, day):
    """(newest plan version id or None, newest answer id or None, delivery sum) of company's day, in one statement:
    board_version's plan parts, which confirm.states keys what it worked out on."""
    return tuple(db.session.connection().execute(_plan_stamps_statement(),
                                                 {"day": day, "company_id": company_id}).one())


@functools.cache
def _plan_stamps_statement():
    day, company_id = sa.bindparam("day", type_=sa.Date), sa.bindparam("company_id", type_=sa.Integer)
    return sa.select(*(part.scalar_subquery() for part in _plan_parts(False, day, company_id)))
