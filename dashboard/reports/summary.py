"""Per day and location counts and money, summed in SQL: what /reports and the summary API share.

One GROUP BY over the range's jobs, scoped like the boards. "jobs" counts every job
that is not removed in SmartMoving (cancelled ones included, as on the boards);
removed jobs are counted apart. Estimated value leaves out cancelled jobs, which
bring no money; actual charges and tips are summed where SmartMoving gave them.
"""
from dataclasses import dataclass

import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import Location
from dashboard.models import SyncStatus
from dashboard.models import TruckJourney
from dashboard.permissions import scope_query

COMPLETED_STATUSES = ("COMPLETED", "CLOSED")
CANCELLED_STATUSES = ("CANCELLED", "LOST", "BAD_LEAD")
NO_LOCATION = "No location"


@dataclass
class Tally:
    """Counts and cents of a group of jobs; money is None when no job of the group carried it."""
    jobs: int = 0
    completed: int = 0
    cancelled: int = 0
    removed: int = 0
    estimated_cents: int | None = None
    actual_cents: int | None = None
    tips_cents: int | None = None
    actual_jobs: int = 0

    def add(self, other):
        """Add other's counts and money into this tally; returns self."""
        self.jobs += other.jobs
        self.completed += other.completed
        self.cancelled += other.cancelled
        self.removed += other.removed
        self.actual_jobs += other.actual_jobs
        self.estimated_cents = _plus(self.estimated_cents, other.estimated_cents)
        self.actual_cents = _plus(self.actual_cents, other.actual_cents)
        self.tips_cents = _plus(self.tips_cents, other.tips_cents)
        return self


def _plus(mine, theirs):
    """Money sum where None means "no data": None + None stays None."""
    return mine if theirs is None else (mine or 0) + theirs


@dataclass
class DayLocation:
    """One row of the per day and location table."""
    day: object
    location_id: int | None
    location_name: str
    tally: Tally


# Aggregate FILTER (SQLite 3.30+, PostgreSQL) is cheaper per row than SUM(CASE ...).

def _count(condition):
    return sa.func.count().filter(condition)


def _cents(condition, column):
    # NULL when no row of the group has a value, so "no data" and "zero" stay apart.
    return sa.func.sum(column).filter(condition)


def tally_columns():
    """The aggregates of a Tally over grouped truck_journeys rows, in TALLY_FIELDS order.

    Shared by the GROUP BY below and the reports' rollup (dashboard/reports/rollup.py), so
    both count and sum exactly alike.
    """
    job = TruckJourney
    live = job.sync_status != SyncStatus.REMOVED.value
    cancelled = job.status.in_(CANCELLED_STATUSES)
    return (_count(live), _count(sa.and_(live, job.status.in_(COMPLETED_STATUSES))),
            _count(sa.and_(live, cancelled)), _count(sa.not_(live)),
            _cents(sa.and_(live, sa.not_(cancelled)), job.estimated_value_cents),
            _cents(live, job.actual_charges_cents), _cents(live, job.tips_cents),
            _count(sa.and_(live, job.actual_charges_cents.is_not(None))))


# Tally's fields in the order tally_columns() gives them.
TALLY_FIELDS = ("jobs", "completed", "cancelled", "removed", "estimated_cents", "actual_cents", "tips_cents",
                "actual_jobs")


def summary_statement(user, start, end, location_id=None):
    """The GROUP BY (date, location) select for user's scope; exposed for the bench."""
    job = TruckJourney
    stmt = (
        sa.select(job.scheduled_date, job.location_id, *tally_columns())
        .where(job.scheduled_date >= start, job.scheduled_date <= end)
        .group_by(job.scheduled_date, job.location_id)
        .order_by(job.scheduled_date, job.location_id)
    )
    if location_id is not None:
        stmt = stmt.where(job.location_id == location_id)
    return scope_query(stmt, user, job.company_id, job.location_id)


def day_location_rows(user, start, end, location_id=None):
    """Per day and location tallies in user's scope, by date then location name."""
    # Through the connection, not the Session: plain rows skip the ORM's result machinery.
    grouped = db.session.connection().execute(summary_statement(user, start, end, location_id)).all()
    names = location_names({row[1] for row in grouped if row[1] is not None})
    rows = []
    for day, loc_id, jobs, completed, cancelled, removed, estimated, actual, tips, actual_jobs in grouped:
        tally = Tally(int(jobs), int(completed), int(cancelled), int(removed), _int(estimated), _int(actual),
                      _int(tips), int(actual_jobs))
        rows.append(DayLocation(day, loc_id, names.get(loc_id, NO_LOCATION), tally))
    rows.sort(key=lambda row: (row.day, row.location_name.casefold(), row.location_id or 0))
    return rows


def _int(value):
    return None if value is None else int(value)


def location_names(ids):
    """{location id: name} for ids."""
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(Location.id, Location.name).where(Location.id.in_(sorted(ids)))).all())


def totals_by(rows, key):
    """{key(row): Tally} summed over rows, in first-seen order."""
    totals = {}
    for row in rows:
        totals.setdefault(key(row), Tally()).add(row.tally)
    return totals


def grand_total(rows):
    """One Tally over every row (DayLocation rows, or Tallies themselves)."""
    total = Tally()
    for row in rows:
        total.add(row if isinstance(row, Tally) else row.tally)
    return total


def dollars(cents):
    """Cents as a JSON number of dollars (0 when there is no money)."""
    # int(): PostgreSQL sums bigint as numeric (Decimal). n / 100 is the double nearest the
    # two-decimal value, so it prints as that value without round().
    return int(cents or 0) / 100


def _json_statement(user, report_range, show_money):
    """The summary API's lean GROUP BY: removed jobs filtered out, money only when it will be shown."""
    job = TruckJourney
    cancelled = job.status.in_(CANCELLED_STATUSES)
    columns = [job.scheduled_date, job.location_id, sa.func.count(),
               _count(job.status.in_(COMPLETED_STATUSES)), _count(cancelled)]
    if show_money:
        columns.append(_cents(sa.not_(cancelled), job.estimated_value_cents))
    stmt = (sa.select(*columns)
            .where(job.scheduled_date >= report_range.start, job.scheduled_date <= report_range.end,
                   job.sync_status != SyncStatus.REMOVED.value)
            .group_by(job.scheduled_date, job.location_id))
    if report_range.location_id is not None:
        stmt = stmt.where(job.location_id == report_range.location_id)
    return scope_query(stmt, user, job.company_id, job.location_id)


def summary_json(user, report_range, show_money):
    """The summary API's answer (README, "JSON API"): removed jobs are not counted.

    Built straight from the grouped rows (no per-row objects): a year of a large
    company is tens of thousands of rows, and this answer must stay fast.
    """
    # Through the connection, not the Session: plain rows skip the ORM's result machinery.
    grouped = db.session.connection().execute(_json_statement(user, report_range, show_money)).all()
    names = location_names({row[1] for row in grouped if row[1] is not None})
    locations = {loc_id: {"id": loc_id, "name": name} for loc_id, name in names.items()}
    order = {loc_id: (name.casefold(), loc_id) for loc_id, name in names.items()}
    grouped.sort(key=lambda row: (row[0], order.get(row[1], (NO_LOCATION.casefold(), 0))))
    rows, totals, cents, iso = [], [0, 0, 0], 0, {}
    for row in grouped:
        day, loc_id, jobs, completed, cancelled = row[0], row[1], int(row[2]), int(row[3]), int(row[4])
        date_text = iso.get(day) or iso.setdefault(day, day.isoformat())
        entry = {"date": date_text, "location": locations.get(loc_id) or {"id": loc_id, "name": NO_LOCATION},
                 "jobs": jobs, "completed": completed, "cancelled": cancelled}
        totals[0] += jobs
        totals[1] += completed
        totals[2] += cancelled
        if show_money:
            entry["estimatedValue"] = dollars(row[5])
            cents += int(row[5] or 0)
        rows.append(entry)
    total = {"jobs": totals[0], "completed": totals[1], "cancelled": totals[2]}
    if show_money:
        total["estimatedValue"] = dollars(cents)
    return {"from": report_range.start.isoformat(), "to": report_range.end.isoformat(), "rows": rows, "totals": total}
