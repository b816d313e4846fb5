"""Back-fill: sync a past (or future) date range window by window with the ordinary sync.

Each window is one `run_sync` of a day and the next, so a back-fill takes the same
lease, writes the same way and lands in the same run history as any sync. Before
spending calls, `estimate_calls` works out what the range will cost from the jobs
already stored (SmartMoving has no cheap "how many" call).
"""
import math
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import TruckJourney
from dashboard.sync.service import run_sync

MAX_BACKFILL_DAYS = 366
SWEEP_PAGE_SIZE = 200          # customers per sweep page (the client asks for the API's maximum)
REFERENCE_CALLS = 3            # branches and crew members, when their TTL has run out
SAMPLE_DAYS = 28               # stored days the per-day estimate is averaged over
FALLBACK_OPPORTUNITIES_PER_DAY = 50


@dataclass(frozen=True)
class Estimate:
    windows: int
    sweep_calls: int
    detail_calls: int
    reference_calls: int
    per_day: float
    basis: str

    @property
    def total(self):
        return self.sweep_calls + self.detail_calls + self.reference_calls


def window_days(start, end):
    """First days of the two-day windows covering [start, end]."""
    return [start + timedelta(days=offset) for offset in range(0, (end - start).days + 1, 2)]


def estimate_calls(company_id, start, end):
    """The calls a back-fill of [start, end] will likely make, from the opportunities stored per day."""
    per_day_counts = db.session.execute(
        sa.select(TruckJourney.scheduled_date, sa.func.count(sa.distinct(TruckJourney.opportunity_external_id)))
        .where(TruckJourney.company_id == company_id, TruckJourney.opportunity_external_id.is_not(None))
        .group_by(TruckJourney.scheduled_date).order_by(TruckJourney.scheduled_date.desc()).limit(SAMPLE_DAYS)
    ).all()
    if per_day_counts:
        per_day = sum(count for _day, count in per_day_counts) / len(per_day_counts)
        basis = f"{per_day:.0f} opportunities a day, averaged over {len(per_day_counts)} stored days"
    else:
        per_day = FALLBACK_OPPORTUNITIES_PER_DAY
        basis = f"no stored days yet: assumed {per_day} opportunities a day"
    windows = window_days(start, end)
    days = (end - start).days + 1
    sweep = len(windows) * max(1, math.ceil(per_day * 2 / SWEEP_PAGE_SIZE))
    # Every opportunity of the range is read once; ones whose detail is fresh are skipped, so this is an upper bound.
    detail = math.ceil(per_day * days)
    return Estimate(len(windows), sweep, detail, REFERENCE_CALLS, per_day, basis)


def backfill(company_id, start, end, trigger="backfill"):
    """Sync [start, end] window by window; yields each finished SyncRun (stops early on none)."""
    for day in window_days(start, end):
        yield run_sync(company_id, day=day, trigger=trigger)
