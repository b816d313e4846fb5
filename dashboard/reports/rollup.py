"""The reports' operational figures read from the rollup (dashboard/reports/models.py), recomputing moved days.

A read takes one grouped statement for the data version of every (company, day) of the
range (job count, newest sync, newest dispatch edit: the board's stamps, from the covering
index ix_journey_version), one for the versions the stored facts were computed from, and
one for the stored facts. A day whose version moved, whose settings changed, whose stored
facts are missing, or whose eve or morning cutoff has passed since, is recomputed from its
own jobs with the functions of dashboard/reports/operations.py (and the Tally's aggregates of
dashboard/reports/summary.py) and stored again.

Facts are company-wide per day (every location): a clash between a job the reader sees
and one at a location they do not see counts, as it is a real double booking. The
reader's scope and the location filter apply when the stored rows are summed.
"""
import hashlib
import logging
from decimal import Decimal

import sqlalchemy as sa

from dashboard.db import db
from dashboard.db import is_deadlock
from dashboard.db import is_unavailable
from dashboard.models import Company
from dashboard.models import SyncStatus
from dashboard.models import TruckJourney
from dashboard.models import utcnow
from dashboard.permissions import Scope
from dashboard.permissions import chosen_company_id
from dashboard.permissions import scope_of
from dashboard.permissions import visible_location_ids
from dashboard.reports.models import NO_LOCATION_KEY
from dashboard.reports.models import ReportDay
from dashboard.reports.models import ReportDayFacts
from dashboard.reports.operations import EstimateActual
from dashboard.reports.operations import Health
from dashboard.reports.operations import Operations
from dashboard.reports.operations import Usage
from dashboard.reports.operations import booked_hours
from dashboard.reports.operations import capacity_per_day
from dashboard.reports.operations import company_zones
from dashboard.reports.operations import day_cutoffs
from dashboard.reports.operations import dispatch_health
from dashboard.reports.operations import estimates_vs_actuals
from dashboard.reports.operations import job_columns
from dashboard.reports.operations import job_facts
from dashboard.reports.summary import TALLY_FIELDS
from dashboard.reports.summary import tally_columns

log = logging.getLogger(__name__)

HEALTH_FIELDS = ("jobs", "eve_due", "assigned_by_eve", "morning_due", "unassigned_at_morning", "conflicts")
USAGE_FIELDS = ("truck_hours", "crew_hours")
ESTIMATE_FIELDS = ("estimate_jobs", "estimated_cents", "actual_cents", "tips_cents")
FACT_FIELDS = HEALTH_FIELDS + USAGE_FIELDS + ESTIMATE_FIELDS
# The Tally of summary.py, stored beside them: report_day_facts' tally_* columns in TALLY_FIELDS order.
TALLY_COLUMNS = tuple(f"tally_{name}" for name in TALLY_FIELDS)
ROW_FIELDS = FACT_FIELDS + TALLY_COLUMNS
# Money of the Tally: NULL when no job carried it (every other field starts at zero).
_MAYBE_NONE = ("tally_estimated_cents", "tally_actual_cents", "tally_tips_cents")


def settings_fingerprint(config, timezone):
    """A short hash of what a day's facts depend on besides its jobs: the working day, the default
    job length and the company's time zone."""
    text = repr((tuple(config["BOARD_DAY_HOURS"]), float(config["DEFAULT_JOB_HOURS"]), timezone))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _companies(user, column):
    """A WHERE clause for the companies user's reports cover (whole companies: locations are filtered later)."""
    scope = scope_of(user)
    if scope is Scope.ALL_COMPANIES:
        chosen = chosen_company_id()
        # company_id IN (…): every jobs index starts with the company, so each company's range is one seek.
        return column == chosen if chosen is not None else column.in_(sa.select(Company.id))
    if scope is Scope.NONE:
        return sa.false()
    return column == user.company_id


def current_versions(user, start, end):
    """{(company id, day): (job count, newest sync, newest dispatch edit)} of the range, removed jobs included.

    One GROUP BY read from ix_journey_version alone. Jobs are never deleted and every write
    moves one of the two stamps (dashboard/stamps.py orders them), so equal versions mean
    the day's jobs are as they were.
    """
    job = TruckJourney
    stmt = (sa.select(job.company_id, job.scheduled_date, sa.func.count(), sa.func.max(job.last_sync_at),
                      sa.func.max(job.dispatch_updated_at))
            .where(_companies(user, job.company_id), job.scheduled_date >= start, job.scheduled_date <= end)
            .group_by(job.company_id, job.scheduled_date))
    return {(cid, day): (int(count), synced, edited)
            for cid, day, count, synced, edited in db.session.connection().execute(stmt)}


def _stored_versions(user, start, end):
    """{(company id, day): (version, settings, valid_until)} as stored with the facts."""
    row = ReportDay
    stmt = sa.select(row.company_id, row.day, row.job_count, row.last_sync_at, row.dispatch_updated_at,
                     row.settings, row.valid_until).where(
        _companies(user, row.company_id), row.day >= start, row.day <= end)
    return {(cid, day): ((count, synced, edited), settings, valid_until)
            for cid, day, count, synced, edited, settings, valid_until in db.session.connection().execute(stmt)}


def _is_fresh(stored, version, fingerprint, now_utc):
    """True when a day's stored facts still hold: same data version and settings, no cutoff passed since."""
    if stored is None:
        return False
    stored_version, settings, valid_until = stored
    return stored_version == version and settings == fingerprint and (valid_until is None or valid_until > now_utc)


def _location_filter(user, location_id, column):
    """The reader's locations (and the report's location filter) as a WHERE clause on location_key, or None."""
    clauses = []
    visible = visible_location_ids(user)
    if visible is not None:   # assigned locations: jobs without a location are not theirs, as on the boards
        clauses.append(column.in_(sorted(visible)) if visible else sa.false())
    if location_id is not None:
        clauses.append(column == location_id)
    return sa.and_(*clauses) if clauses else None


def _valid_until(day, day_hours, zone, now_utc):
    """The next of day's eve and morning cutoffs after now_utc (naive UTC), None when both passed."""
    ahead = [cutoff for cutoff in day_cutoffs(day, day_hours, zone) if cutoff > now_utc]
    return min(ahead) if ahead else None


def _empty_row():
    """A location's facts on a day before any job is counted."""
    row = dict.fromkeys(ROW_FIELDS, 0)
    row.update(dict.fromkeys(_MAYBE_NONE))
    return row


def compute_days(company_id, days, config, now_utc):
    """{(day, location key): {field: value}} of company's days, from their jobs (every location)."""
    day_hours = config["BOARD_DAY_HOURS"]
    job = TruckJourney
    stmt = sa.select(*job_columns()).where(job.company_id == company_id, job.scheduled_date.in_(sorted(days)),
                                           job.sync_status != SyncStatus.REMOVED.value)
    jobs = job_facts(db.session.execute(stmt), config["DEFAULT_JOB_HOURS"], day_hours[0])

    def key(each):
        return each.day, _location_key(each.location_id)

    facts = {}

    def row(at):
        return facts.setdefault(at, _empty_row())

    for at, health in dispatch_health(jobs, day_hours, now_utc, key=key).items():
        row(at).update({name: getattr(health, name) for name in HEALTH_FIELDS})
    for at, usage in booked_hours(jobs, day_hours, key=key).items():
        row(at).update(truck_hours=usage.truck_hours, crew_hours=usage.crew_hours)
    for at, estimate in estimates_vs_actuals(jobs, key=key).items():
        row(at).update(estimate_jobs=estimate.jobs, estimated_cents=estimate.estimated_cents,
                       actual_cents=estimate.actual_cents, tips_cents=estimate.tips_cents)
    # The Tally counts removed jobs too: the same aggregates as the page's GROUP BY had, per day and location.
    tally = (sa.select(job.scheduled_date, job.location_id, *tally_columns())
             .where(job.company_id == company_id, job.scheduled_date.in_(sorted(days)))
             .group_by(job.scheduled_date, job.location_id))
    for day, loc, *values in db.session.connection().execute(tally):
        row((day, _location_key(loc))).update(zip(TALLY_COLUMNS, map(_number, values), strict=True))
    return facts


def _location_key(location_id):
    """A job's location id as report_day_facts keys it (NO_LOCATION_KEY for none)."""
    return NO_LOCATION_KEY if location_id is None else location_id


def _number(value):
    """A sum as Python gives it back: PostgreSQL sums bigint as numeric (Decimal), always whole here."""
    return int(value) if isinstance(value, Decimal) else value


def _plus(mine, theirs):
    """A sum where None means "no data": None + None stays None."""
    if theirs is None:
        return mine
    return theirs if mine is None else mine + theirs


def _store(company_id, days, versions, facts, fingerprints, valid_until, now_utc):
    """Replace company's rows of days with facts, in one transaction of its own.

    Writing from a GET is fine here: this is a cache of derived data, and its own
    connection keeps the request's session untouched. Two readers recomputing the same
    day race harmlessly: the loser's insert conflicts and is dropped (the winner stored
    the same facts), as is a write the database cannot take right now.
    """
    day_list = sorted(days)
    try:
        with db.engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
            for table in (ReportDayFacts, ReportDay):
                conn.execute(sa.delete(table).where(table.company_id == company_id, table.day.in_(day_list)))
            conn.execute(sa.insert(ReportDay), [
                {"company_id": company_id, "day": day, "job_count": versions[day][0],
                 "last_sync_at": versions[day][1], "dispatch_updated_at": versions[day][2],
                 "settings": fingerprints, "valid_until": valid_until[day], "computed_at": now_utc}
                for day in day_list])
            if facts:
                conn.execute(sa.insert(ReportDayFacts), [
                    dict(values, company_id=company_id, day=day, location_key=loc)
                    for (day, loc), values in sorted(facts.items())])
    except sa.exc.IntegrityError:
        log.info("report rollup of company %s: another reader stored the same days first", company_id)
    except sa.exc.DBAPIError as error:
        if not (is_deadlock(error) or is_unavailable(error)):
            raise
        log.info("report rollup of company %s not stored (%s); the next read computes it again",
                 company_id, type(error).__name__)


def _refresh(stale, versions, config, zones, fingerprints, now_utc):
    """Recompute and store the stale (company, day)s; {(company, day, location key): facts} of them."""
    by_company = {}
    for company_id, day in stale:
        by_company.setdefault(company_id, set()).add(day)
    computed = {}
    for company_id, days in sorted(by_company.items()):
        facts = compute_days(company_id, days, config, now_utc)
        valid_until = {day: _valid_until(day, config["BOARD_DAY_HOURS"], zones[company_id], now_utc) for day in days}
        _store(company_id, days, {day: versions[(company_id, day)] for day in days}, facts,
               fingerprints[company_id], valid_until, now_utc)
        computed.update({(company_id, day, loc): values for (day, loc), values in facts.items()})
    return computed


def _visible(user, location_id):
    """A predicate on a location key: may the reader see it, and does the report's location filter keep it?"""
    visible = visible_location_ids(user)

    def keeps(loc):
        if visible is not None and loc not in visible:
            return False
        return location_id is None or loc == location_id
    return keeps


class RangeFacts:
    """The rollup rows of a range that the reader may see, summed on demand.

    Stored rows that still hold are summed in SQL; the rows of days just recomputed are
    added from memory (they may not be stored: another reader's write won, or the database
    was busy), so every sum covers the same rows whichever way they came.
    """

    def __init__(self, where, computed):
        # where: clauses on ReportDayFacts for the stored rows that hold (None: none do);
        # computed: [(day, location key, {field: value})] of recomputed days, already narrowed to the reader.
        self.where = where
        self.computed = computed

    def sums(self, by, names, location_keys=None):
        """{key: {name: sum}} of the fields in names grouped by ReportDayFacts columns (by: "day",
        "location_key" or both; key: the value, a tuple for two); location_keys narrows to those locations.
        A money sum is None when no row had any."""
        table = ReportDayFacts
        sums = {}
        if self.where is not None:
            where = list(self.where)
            if location_keys is not None:
                where.append(table.location_key.in_(sorted(location_keys)))
            group = [getattr(table, column) for column in by]
            stmt = sa.select(*group, *(sa.func.sum(getattr(table, name)) for name in names)) \
                .where(*where).group_by(*group)
            # Through the connection: plain grouped rows need none of the ORM session's result handling.
            for row in db.session.connection().execute(stmt):
                key = row[0] if len(by) == 1 else tuple(row[:len(by)])
                sums[key] = dict(zip(names, map(_number, row[len(by):]), strict=True))
        for day, loc, values in self.computed:
            if location_keys is not None and loc not in location_keys:
                continue
            at = {"day": day, "location_key": loc}
            key = at[by[0]] if len(by) == 1 else tuple(at[column] for column in by)
            into = sums.get(key)
            if into is None:
                sums[key] = {name: values[name] for name in names}
            else:
                for name in names:
                    into[name] = _plus(into[name], values[name])
        return sums

    def count_day_locations(self):
        """How many (day, location) rows the range has for the reader."""
        table = ReportDayFacts
        keys = {(day, loc) for day, loc, _values in self.computed}
        if self.where is None:
            return len(keys)
        if any(loc == NO_LOCATION_KEY for _day, loc in keys):
            # Several companies' jobs without a location share one row per day: count the merged keys.
            return len(self.sums(("day", "location_key"), ()))
        groups = sa.select(table.day, table.location_key).where(*self.where) \
            .group_by(table.day, table.location_key).subquery()
        stored = db.session.connection().execute(sa.select(sa.func.count()).select_from(groups)).scalar_one()
        return stored + len(keys)


def read_facts(user, report_range, config, now_utc, versions=None):
    """The RangeFacts of the range for the reader: days that moved are recomputed and stored first.
    versions: current_versions of the range when the caller has just read them."""
    if versions is None:
        versions = current_versions(user, report_range.start, report_range.end)
    if not versions:
        return RangeFacts(None, [])
    zones = company_zones({cid for cid, _day in versions})
    fingerprints = {cid: settings_fingerprint(config, zone.key) for cid, zone in zones.items()}
    stored = _stored_versions(user, report_range.start, report_range.end)
    stale = {key for key, version in versions.items()
             if not _is_fresh(stored.get(key), version, fingerprints[key[0]], now_utc)}
    facts = ReportDayFacts
    where = [_companies(user, facts.company_id), facts.day >= report_range.start, facts.day <= report_range.end]
    location = _location_filter(user, report_range.location_id, facts.location_key)
    if location is not None:
        where.append(location)
    left_out = {}
    # Stale days, and days whose jobs all moved away since their facts were stored (no version now).
    for company_id, day in stale | (set(stored) - set(versions)):
        left_out.setdefault(company_id, set()).add(day)
    for company_id, days in sorted(left_out.items()):
        where.append(sa.not_(sa.and_(facts.company_id == company_id, facts.day.in_(sorted(days)))))
    computed = []
    if stale:
        keeps = _visible(user, report_range.location_id)
        computed = [(day, loc, values) for (_company_id, day, loc), values
                    in _refresh(stale, versions, config, zones, fingerprints, now_utc).items()
                    if keeps(None if loc == NO_LOCATION_KEY else loc)]
    return RangeFacts(where, computed)


def operations_from_sums(by_location, by_day, days, location_ids, config):
    """Operations from RangeFacts sums: by_location over FACT_FIELDS per location key, by_day over
    USAGE_FIELDS per day; location_ids: the locations in view, whose capacity counts (read live:
    it follows the trucks and crew on file now)."""
    health, estimates = {}, {}
    usage = {loc: Usage() for loc in location_ids}
    usage_by_day = {day: Usage() for day in days}
    for loc, (trucks, crew) in capacity_per_day(location_ids, config["BOARD_DAY_HOURS"]).items():
        usage[loc].truck_capacity = trucks * len(days)
        usage[loc].crew_capacity = crew * len(days)
        for each in usage_by_day.values():
            each.truck_capacity += trucks
            each.crew_capacity += crew
    for key, sums in by_location.items():
        loc = None if key == NO_LOCATION_KEY else key
        if sums["jobs"]:   # live jobs that are not cancelled: the only ones health and usage count
            health[loc] = Health(**{name: int(sums[name]) for name in HEALTH_FIELDS})
            booked = usage.setdefault(loc, Usage())
            booked.truck_hours += float(sums["truck_hours"])
            booked.crew_hours += float(sums["crew_hours"])
        if sums["estimate_jobs"]:
            estimates[loc] = EstimateActual(int(sums["estimate_jobs"]), int(sums["estimated_cents"]),
                                            int(sums["actual_cents"]), int(sums["tips_cents"]))
    for day, sums in by_day.items():
        booked = usage_by_day.setdefault(day, Usage())
        booked.truck_hours += float(sums["truck_hours"])
        booked.crew_hours += float(sums["crew_hours"])
    return Operations(health=health, usage=usage, usage_by_day=usage_by_day, estimates=estimates)


def operations(user, report_range, location_ids, config, now_utc=None):
    """Dispatch health, utilisation and estimate-versus-actual for the range in user's scope, from the rollup.

    Same answer as operations.operations_from_jobs, except that clashes count company-wide.
    location_ids: the locations in view, whose capacity counts.
    """
    facts = read_facts(user, report_range, config, now_utc or utcnow())
    return operations_from_sums(facts.sums(("location_key",), FACT_FIELDS), facts.sums(("day",), USAGE_FIELDS),
                                report_range.days(), location_ids, config)
