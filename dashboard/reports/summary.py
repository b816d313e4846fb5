"""Per day and location counts and money, summed in SQL: what /reports and the summary API share.

One GROUP BY over the range's jobs, scoped like the boards. "jobs" counts every job
that is not removed in SmartMoving (cancelled ones included, as on the boards);
removed jobs are counted apart. Estimated value leaves out cancelled jobs, which
bring no money; actual charges and tips are summed where SmartMoving gave them.
"""
from dataclasses import dataclass
from dataclasses import fields

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
        for field in fields(self):
            mine, theirs = getattr(self, field.name), getattr(other, field.name)
            if theirs is not None:
                setattr(self, field.name, (mine or 0) + theirs)
        return self


@dataclass
class DayLocation:
    """One row of the per day and location table."""
    day: object
    location_id: int | None
    location_name: str
    tally: Tally


def _count(condition):
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _cents(condition, column):
    # NULL when no row of the group has a value, so "no data" and "zero" stay apart.
    return sa.func.sum(sa.case((condition, column), else_=None))


def summary_statement(user, start, end, location_id=None):
    """The GROUP BY (date, location) select for user's scope; exposed for the bench."""
    job = TruckJourney
    live = job.sync_status != SyncStatus.REMOVED.value
    cancelled = job.status.in_(CANCELLED_STATUSES)
    stmt = (
        sa.select(job.scheduled_date, job.location_id,
                  _count(live), _count(sa.and_(live, job.status.in_(COMPLETED_STATUSES))),
                  _count(sa.and_(live, cancelled)), _count(sa.not_(live)),
                  _cents(sa.and_(live, sa.not_(cancelled)), job.estimated_value_cents),
                  _cents(live, job.actual_charges_cents), _cents(live, job.tips_cents),
                  _count(sa.and_(live, job.actual_charges_cents.is_not(None))))
        .where(job.scheduled_date >= start, job.scheduled_date <= end)
        .group_by(job.scheduled_date, job.location_id)
        .order_by(job.scheduled_date, job.location_id)
    )
    if location_id is not None:
        stmt = stmt.where(job.location_id == location_id)
    return scope_query(stmt, user, job.company_id, job.location_id)


def day_location_rows(user, start, end, location_id=None):
    """Per day and location tallies in user's scope, by date then location name."""
    grouped = db.session.execute(summary_statement(user, start, end, location_id)).all()
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
    """One Tally over every row."""
    total = Tally()
    for row in rows:
        total.add(row.tally)
    return total


def dollars(cents):
    """Cents as a JSON number of dollars (0 when there is no money)."""
    return round((cents or 0) / 100, 2)


def summary_json(user, report_range, show_money):
    """The summary API's answer (CONTRACT.md): removed jobs are not counted."""
    rows = [row for row in day_location_rows(user, report_range.start, report_range.end, report_range.location_id)
            if row.tally.jobs]

    def counts(tally):
        data = {"jobs": tally.jobs, "completed": tally.completed, "cancelled": tally.cancelled}
        if show_money:
            data["estimatedValue"] = dollars(tally.estimated_cents)
        return data

    return {
        "from": report_range.start.isoformat(),
        "to": report_range.end.isoformat(),
        "rows": [dict({"date": row.day.isoformat(), "location": {"id": row.location_id, "name": row.location_name}},
                      **counts(row.tally)) for row in rows],
        "totals": counts(grand_total(rows)),
    }
