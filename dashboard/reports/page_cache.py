"""The /reports page's report, rendered once per data version and viewer in each worker.

Eight managers opening the same 90-day report on two CPUs each cost a full build
(the rollup's sums, the charts, a quarter of a megabyte of HTML); the same inputs
always render the same report, so a worker renders it once and serves the text
again until something it depends on moves. The key holds all of it:

- the range's day versions, read in the rollup's one GROUP BY (job count, newest sync,
  newest dispatch edit per company and day: any job written moves them);
- how many eve and morning cutoffs of those days have passed (dispatch health changes
  as they pass);
- the reader's scope (companies, assigned locations), role and money visibility;
- the range, location filter and the locations in view with their names;
- capacity: active trucks and crew hours per location in view;
- the settings the figures depend on (working day, default job length, time zones).

Only the report part is cached: the page around it (CSRF token, presets for today)
is rendered for each request. Bounded by bytes with the boards' caches
(dashboard/jobs/render_cache.py); concurrent askers of one key wait for one build.
"""
from dashboard.jobs.render_cache import OnceCache
from dashboard.jobs.render_cache import text_size
from dashboard.permissions import chosen_company_id
from dashboard.permissions import scope_of
from dashboard.permissions import visible_location_ids
from dashboard.reports.operations import capacity_per_day
from dashboard.reports.operations import company_zones
from dashboard.reports.operations import day_cutoffs
from dashboard.reports.rollup import current_versions
from dashboard.reports.rollup import settings_fingerprint

# A 90-day report over 66 locations is ~250 KB of HTML: a few ranges and viewers per worker.
reports = OnceCache(24, share=0.10, sizer=text_size, rank=15)


def report_key(user, report_range, locations, show_money, config, now_utc, extra=()):
    """(key, versions): the cache key of the report user sees, and the range's day versions it read
    (build_report takes them, so a miss reads them once). extra: anything else the caller renders with."""
    versions = current_versions(user, report_range.start, report_range.end)
    zones = company_zones({company_id for company_id, _day in versions})
    day_hours = config["BOARD_DAY_HOURS"]
    passed = sum(cutoff <= now_utc for company_id, day in versions
                 for cutoff in day_cutoffs(day, day_hours, zones[company_id]))
    visible = visible_location_ids(user)
    in_view = [loc for loc in locations if report_range.location_id in (None, loc.id)]
    key = (
        tuple(sorted(versions.items())), passed,
        scope_of(user).name, user.company_id, chosen_company_id(), user.role, show_money,
        None if visible is None else tuple(sorted(visible)),
        report_range.start, report_range.end, report_range.location_id,
        tuple((loc.id, loc.name) for loc in locations),
        tuple(sorted(capacity_per_day([loc.id for loc in in_view], day_hours).items())),
        # The working day, the default job length and each company's zone (day_hours reach capacity above too).
        tuple(sorted((company_id, settings_fingerprint(config, zone.key)) for company_id, zone in zones.items())),
        extra,
    )
    return key, versions


def rendered_report(key, render):
    """The report's HTML for key: from this worker's cache, else render() once (concurrent askers wait)."""
    return reports.get_or_build(key, render)


def forget():
    """A new app (another database, e.g. in tests) must never be served a report of the last one."""
    reports.clear()
