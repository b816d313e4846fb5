"""The /reports page's content: the summary, the operational figures, charts and their tables."""
from dataclasses import dataclass

from dashboard.models import utcnow
from dashboard.reports import charts
from dashboard.reports.models import NO_LOCATION_KEY
from dashboard.reports.operations import EstimateActual
from dashboard.reports.operations import Health
from dashboard.reports.operations import Usage
from dashboard.reports.rollup import FACT_FIELDS
from dashboard.reports.rollup import TALLY_COLUMNS
from dashboard.reports.rollup import USAGE_FIELDS
from dashboard.reports.rollup import operations_from_sums
from dashboard.reports.rollup import read_facts
from dashboard.reports.summary import NO_LOCATION
from dashboard.reports.summary import Tally
from dashboard.reports.summary import grand_total
from dashboard.reports.summary import location_names
from dashboard.reports.tables import Column
from dashboard.reports.tables import Table
from dashboard.reports.tables import money

# The revenue chart names this many locations; the rest share one "other" series.
CHART_LOCATIONS = 5
TABLE_NAMES = ("days", "revenue", "locations", "day-locations", "dispatch", "utilisation", "utilisation-days",
               "estimates")


@dataclass
class Report:
    tables: dict
    charts: list          # (Chart, table name) pairs, in page order
    totals: Tally
    health: Health
    usage: Usage
    day_location_count: int   # rows of the per day and location table (built only up to the limit asked for)


def _tally_cells(tally):
    return [tally.jobs, tally.completed, tally.cancelled, tally.removed, tally.estimated_cents, tally.actual_cents,
            tally.tips_cents]


TALLY_COLUMNS_SHOWN = [Column("Jobs"), Column("Completed"), Column("Cancelled"), Column("Removed"),
                 money("Estimated value"), money("Actual charges"), money("Tips")]


def _usage_cells(usage):
    return [usage.truck_hours, usage.truck_capacity or None, usage.truck_share,
            usage.crew_hours, usage.crew_capacity or None, usage.crew_share]


USAGE_COLUMNS = [Column("Truck hours", "hours"), Column("Truck capacity", "hours"), Column("Trucks busy", "percent"),
                 Column("Crew hours", "hours"), Column("Crew capacity", "hours"), Column("Crew busy", "percent")]


def _tally(sums):
    """A Tally from a RangeFacts sum over TALLY_COLUMNS."""
    return Tally(*(sums[column] for column in TALLY_COLUMNS))


def _location_id(key):
    """A rollup location key as the page's location id (None: jobs without a location)."""
    return None if key == NO_LOCATION_KEY else key


def _location_key(location_id):
    """A location id (None: no location) as the rollup keys it."""
    return NO_LOCATION_KEY if location_id is None else location_id


def build_report(user, report_range, locations, config, show_money, now_utc=None, day_location_limit=None,
                 versions=None):
    """Everything the page shows for report_range over locations (those in view), money only if show_money.

    Every figure is summed from the rollup (dashboard/reports/rollup.py). The per day and
    location table is built only when it has at most day_location_limit rows (None: always):
    the page links it as CSV above that, and reading thousands of rows for nothing costs.
    versions: the range's day versions when the caller has just read them (rollup.current_versions).
    """
    days = report_range.days()
    in_view = [loc for loc in locations if report_range.location_id in (None, loc.id)]
    names = {loc.id: loc.name for loc in in_view}
    facts = read_facts(user, report_range, config, now_utc or utcnow(), versions)
    # Two grouped reads serve the Tally tables and the operational figures alike.
    location_sums = facts.sums(("location_key",), FACT_FIELDS + TALLY_COLUMNS)
    day_sums = facts.sums(("day",), USAGE_FIELDS + TALLY_COLUMNS)
    ops = operations_from_sums(location_sums, day_sums, days, list(names), config)
    by_day = {day: _tally(sums) for day, sums in day_sums.items()}
    by_location = {_location_id(key): _tally(sums) for key, sums in location_sums.items()}
    total = grand_total(by_day.values())
    names.update(location_names({loc for loc in by_location if loc is not None and loc not in names}))

    def name_of(loc_id):
        return names.get(loc_id, NO_LOCATION)

    location_ids = sorted(set(names) | set(by_location) | set(ops.health) | set(ops.usage),
                          key=lambda loc: (loc is None, name_of(loc).casefold()))
    tables = {}
    tables["days"] = Table("days", "Jobs per move date", [Column("Move date", "date")] + TALLY_COLUMNS_SHOWN,
                           [[day] + _tally_cells(by_day.get(day, Tally())) for day in days],
                           ["Total"] + _tally_cells(total))
    tables["locations"] = Table("locations", "Totals per location",
                                [Column("Location", "text")] + TALLY_COLUMNS_SHOWN,
                                [[name_of(loc)] + _tally_cells(by_location.get(loc, Tally())) for loc in location_ids],
                                ["All locations"] + _tally_cells(total))
    day_location_count = facts.count_day_locations()
    day_location_rows = []
    if day_location_limit is None or day_location_count <= day_location_limit:
        day_location_rows = _day_location_rows(facts, name_of)
    tables["day-locations"] = Table("day-locations", "Per day and location",
                                    [Column("Date", "date"), Column("Location", "text")] + TALLY_COLUMNS_SHOWN,
                                    day_location_rows, ["Total", ""] + _tally_cells(total))

    health_total = Health()
    for health in ops.health.values():
        health_total.add(health)
    tables["dispatch"] = Table(
        "dispatch", "Dispatch health",
        [Column("Location", "text"), Column("Jobs"), Column("Evening before passed"),
         Column("Truck and crew by then"), Column("Share ready", "percent"),
         Column("Unassigned on the morning"), Column("In a conflict")],
        [[name_of(loc)] + _health_cells(ops.health.get(loc, Health())) for loc in location_ids],
        ["All locations"] + _health_cells(health_total))

    usage_total = Usage()
    for loc in location_ids:
        usage_total.add(ops.usage.get(loc, Usage()))
    tables["utilisation"] = Table("utilisation", "Utilisation per location",
                                  [Column("Location", "text")] + USAGE_COLUMNS,
                                  [[name_of(loc)] + _usage_cells(ops.usage.get(loc, Usage())) for loc in location_ids],
                                  ["All locations"] + _usage_cells(usage_total))
    tables["utilisation-days"] = Table("utilisation-days", "Utilisation per day",
                                       [Column("Date", "date")] + USAGE_COLUMNS,
                                       [[day] + _usage_cells(ops.usage_by_day.get(day, Usage())) for day in days],
                                       ["Total"] + _usage_cells(usage_total))

    estimate_rows = [(loc, ops.estimates[loc]) for loc in location_ids if loc in ops.estimates]
    est_total = _sum_estimates([row for _loc, row in estimate_rows])
    tables["estimates"] = Table(
        "estimates", "Estimate vs actual (jobs with both)",
        [Column("Location", "text"), Column("Jobs"), money("Estimated"), money("Actual charges"),
         money("Difference"), Column("Actual ÷ estimate", "percent"), money("Tips")],
        [[name_of(loc)] + _estimate_cells(row) for loc, row in estimate_rows],
        ["All locations"] + _estimate_cells(est_total), money_only=True)

    # The chart names the CHART_LOCATIONS locations with the most estimated value and stacks the rest.
    series_ids = [loc for loc, tally in sorted(by_location.items(),
                                               key=lambda item: (-(item[1].estimated_cents or 0),
                                                                 name_of(item[0]).casefold()))
                  if (tally.estimated_cents or 0) > 0]
    named, others = series_ids[:CHART_LOCATIONS], series_ids[CHART_LOCATIONS:]
    # None where a location had no job that day ("—"), as the Total column has: 0 only for a real zero.
    estimated = ("tally_estimated_cents",)
    cents = facts.sums(("day", "location_key"), estimated, {_location_key(loc) for loc in named}) if named else {}
    revenue_series = [(name_of(loc), [cents.get((day, _location_key(loc)), {}).get(estimated[0]) for day in days])
                      for loc in named]
    if others:
        rest = facts.sums(("day",), estimated, {_location_key(loc) for loc in others})
        revenue_series.append((f"{len(others)} other locations",
                               [rest.get(day, {}).get(estimated[0]) for day in days]))
    tables["revenue"] = Table("revenue", "Estimated value per move date by location",
                              [Column("Move date", "date")] + [money(label) for label, _v in revenue_series]
                              + [money("Total")],
                              [[day] + [values[i] for _l, values in revenue_series]
                               + [by_day.get(day, Tally()).estimated_cents]
                               for i, day in enumerate(days)],
                              ["Total"] + [_money_sum(values) for _l, values in revenue_series]
                              + [total.estimated_cents],
                              money_only=True)

    chart_list = []
    if show_money:
        chart_list.append((charts.stacked_bars(
            "Revenue per move date by location", "Estimated value of each move date's jobs (cancelled jobs left "
            "out), stacked by location.", days,
            [(label, [(v or 0) / 100 for v in values]) for label, values in revenue_series],
            charts.money_tick, lambda v: f"${v:,.2f}", y_title="Estimated value ($)"), "revenue"))
    chart_list.append((charts.stacked_bars(
        "Jobs per move date", "Jobs counted on their move date (SmartMoving gives no booking date), by "
        "SmartMoving status; removed jobs are not shown.", days,
        [("Completed", [by_day.get(d, Tally()).completed for d in days], "s3"),
         ("Booked or in progress", [_open_jobs(by_day.get(d, Tally())) for d in days], "s0"),
         ("Cancelled", [by_day.get(d, Tally()).cancelled for d in days], "s2")],
        charts.count_tick, lambda v: f"{v:g} jobs", y_title="Jobs"), "days"))
    chart_list.append((charts.lines(
        "Utilisation per day", "Share of the working day's truck and crew hours booked on jobs.", days,
        [("Trucks", [ops.usage_by_day[d].truck_share for d in days]),
         ("Crew", [ops.usage_by_day[d].crew_share for d in days])],
        charts.percent_tick, lambda v: f"{v * 100:.0f}%", y_title="Hours booked (% of capacity)"),
                       "utilisation-days"))

    visible = {}
    for name, table in tables.items():
        shown = table.for_viewer(show_money)
        if shown is not None:
            visible[name] = shown
    return Report(visible, chart_list, total, health_total, usage_total, day_location_count)


def _day_location_rows(facts, name_of):
    """The per day and location table's rows, by date then location name."""
    rows = [(day, _location_id(loc), _tally(sums))
            for (day, loc), sums in facts.sums(("day", "location_key"), TALLY_COLUMNS).items()]
    rows.sort(key=lambda row: (row[0], name_of(row[1]).casefold(), row[1] or 0))
    return [[day, name_of(loc)] + _tally_cells(tally) for day, loc, tally in rows]


def _money_sum(values):
    """Cents summed where None means no data: None when every value is None."""
    present = [value for value in values if value is not None]
    return sum(present) if present else None


def _open_jobs(tally):
    return tally.jobs - tally.completed - tally.cancelled


def _health_cells(health):
    return [health.jobs, health.eve_due, health.assigned_by_eve, health.share_by_eve, health.unassigned_at_morning,
            health.conflicts]


def _estimate_cells(row):
    return [row.jobs, row.estimated_cents, row.actual_cents, row.difference_cents, row.ratio, row.tips_cents]


def _sum_estimates(rows):
    total = EstimateActual()
    for row in rows:
        total.jobs += row.jobs
        total.estimated_cents += row.estimated_cents
        total.actual_cents += row.actual_cents
        total.tips_cents += row.tips_cents
    return total
