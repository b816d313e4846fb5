"""The quota plan: what the scheduler syncs now, and how many detail refreshes a run may spend.

Pure functions (no database, no clock): the scheduler and the sync feed them the
month's usage and the time. The plan buys the freshest board the monthly quota
allows, by value (docs/smartmoving-api.md §1 for the quotas):

- every new opportunity costs one detail read whatever we do, so that comes first;
- then today's window in business hours, tomorrow's less often, nights sparse;
- when the month's projection runs past TARGET_SHARE of the quota, every cadence
  stretches by the same factor until it fits;
- detail-only (TTL) refreshes get only what is left.
"""
import calendar
import math
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from dashboard.timeutil import clock_hours

BASIC, PREMIUM = "basic", "premium"
QUOTAS = {BASIC: 20_000, PREMIUM: 125_000}
TARGET_SHARE = 0.90               # never project past this share of the month's quota
WARN_AT = (0.75, 0.90)            # shares of the quota used that raise a warning
STRETCHES = (1, 1.25, 1.5, 2, 3, 4, 6, 8, 12)

# Minutes between sweeps of each window, by tier. Premium with webhooks hears of
# edits as they happen, so its sweeps are reconciliation, every 10 minutes.
CADENCES = {
    BASIC: {"today": 30, "tomorrow": 120, "night": 240},
    PREMIUM: {"today": 10, "tomorrow": 10, "night": 10},
}


@dataclass(frozen=True)
class Costs:
    """Calls one sweep of each window takes, and the month's unavoidable detail and reference reads per day."""
    today_sweep: int = 1
    tomorrow_sweep: int = 1
    both_sweep: int = 2
    first_reads_per_day: float = 0.0
    reference_per_day: float = 0.0


@dataclass(frozen=True)
class Decision:
    """What to sync now and what the month looks like at the chosen cadence."""
    window: str | None            # "today", "tomorrow", "both", or None (skip this tick)
    cadence: dict                 # minutes between sweeps: {"today", "tomorrow", "night"}
    stretch: float                # 1 = the tier's cadence; 2 = half as often
    projected: int                # calls by the end of the month at this cadence
    budget: int                   # TARGET_SHARE of the quota
    refresh_allowance: int        # detail-only refreshes this run may spend
    business: bool                # now is within business hours

    @property
    def cadence_now(self):
        """Minutes between sweeps of today's window at this hour."""
        return self.cadence["today"] if self.business else self.cadence["night"]


def tier_for(plan_setting, quota):
    """PREMIUM when SMARTMOVING_PLAN says so or the quota is Premium's (125,000), else BASIC."""
    if str(plan_setting or "").strip().lower() == PREMIUM:
        return PREMIUM
    return PREMIUM if quota and quota >= QUOTAS[PREMIUM] else BASIC


def parse_hours(text):
    """"06:00-20:00" as (6.0, 20.0); ValueError on anything else."""
    try:
        start, end = (part.strip() for part in str(text).split("-"))
        start, end = clock_hours(start), clock_hours(end)
    except ValueError:
        raise ValueError(f"business hours must look like 06:00-20:00, got {text!r}") from None
    if not 0 <= start < end <= 24:
        raise ValueError(f"business hours must start before they end within a day, got {text!r}")
    return start, end


def in_business_hours(local_now, hours):
    """True when the company-local time is within hours (start, end)."""
    hour = local_now.hour + local_now.minute / 60
    return hours[0] <= hour < hours[1]


def month_minutes_left(local_now):
    """Minutes from local_now to the end of its month."""
    days = calendar.monthrange(local_now.year, local_now.month)[1]
    end = local_now.replace(day=days, hour=23, minute=59, second=59, microsecond=0)
    return max((end - local_now).total_seconds() / 60, 0.0)


def sweeps_per_day(cadence, hours):
    """(today-only, tomorrow-only, both) sweeps a day at cadence: both windows together at night."""
    business_minutes = (hours[1] - hours[0]) * 60
    night_minutes = 24 * 60 - business_minutes
    today = business_minutes / cadence["today"]
    tomorrow = business_minutes / cadence["tomorrow"]
    both = night_minutes / cadence["night"]
    if cadence["today"] == cadence["tomorrow"]:
        return 0.0, 0.0, today + both      # the same cadence: every sweep takes both windows
    # A tick that finds both windows due sweeps them together (cheaper than two sweeps).
    return today - tomorrow, 0.0, tomorrow + both


def calls_per_day(cadence, hours, costs):
    """Calls a day at cadence: sweeps plus the unavoidable detail and reference reads."""
    today, tomorrow, both = sweeps_per_day(cadence, hours)
    return (today * costs.today_sweep + tomorrow * costs.tomorrow_sweep + both * costs.both_sweep
            + costs.first_reads_per_day + costs.reference_per_day)


def stretched(cadence, factor):
    """Every cadence stretched by factor, in whole minutes."""
    return {name: int(math.ceil(minutes * factor)) for name, minutes in cadence.items()}


def choose_cadence(tier, quota, used, minutes_left, hours, costs, refreshes_wanted_per_day=0.0):
    """(cadence, stretch, projected) : the tier's cadence, stretched until the month's projection fits.

    With no quota (0) the tier's cadence is used and nothing is projected against.
    """
    base = CADENCES[tier]
    days_left = minutes_left / (24 * 60)
    budget = quota * TARGET_SHARE if quota else None
    for factor in STRETCHES:
        cadence = stretched(base, factor)
        projected = used + calls_per_day(cadence, hours, costs) * days_left
        if budget is None or projected <= budget:
            return cadence, factor, int(round(projected))
    return cadence, factor, int(round(projected))


def refresh_allowance(quota, projected, runs_left):
    """Detail-only refreshes one run may spend: what the projection leaves of the budget,
    spread over the runs to come."""
    if not quota:
        return 10 ** 9
    spare = quota * TARGET_SHARE - projected
    if spare <= 0:
        return 0
    return int(spare / max(runs_left, 1))


def due_window(local_now, hours, cadence, last_today, last_tomorrow, slack_minutes=0.0):
    """The window due now: "today", "tomorrow", "both" or None.

    last_today / last_tomorrow: when a run last swept that day (local, or None).
    slack_minutes lets a tick that comes a little early count (ticks are not exact).
    """
    business = in_business_hours(local_now, hours)

    def due(last, minutes):
        return last is None or local_now - last >= timedelta(minutes=minutes - slack_minutes)

    if not business:
        return "both" if due(last_today, cadence["night"]) or due(last_tomorrow, cadence["night"]) else None
    today, tomorrow = due(last_today, cadence["today"]), due(last_tomorrow, cadence["tomorrow"])
    if today and tomorrow:
        return "both"
    return "today" if today else "tomorrow" if tomorrow else None


def decide(tier, quota, used, local_now, hours, costs, last_today=None, last_tomorrow=None, slack_minutes=0.0):
    """The plan at local_now: which window to sweep, at what cadence, and the refreshes a run may spend."""
    minutes_left = month_minutes_left(local_now)
    cadence, factor, projected = choose_cadence(tier, quota, used, minutes_left, hours, costs)
    business = in_business_hours(local_now, hours)
    window = due_window(local_now, hours, cadence, last_today, last_tomorrow, slack_minutes)
    runs_left = sum(sweeps_per_day(cadence, hours)) * minutes_left / (24 * 60)
    allowance = refresh_allowance(quota, projected, runs_left)
    return Decision(window=window, cadence=cadence, stretch=factor, projected=projected,
                    budget=int(quota * TARGET_SHARE) if quota else 0, refresh_allowance=allowance,
                    business=business)


def warning_for(quota, used):
    """A sentence when the month's usage has passed 75 % or 90 % of the quota, else None."""
    if not quota:
        return None
    share = used / quota
    passed = [level for level in WARN_AT if share >= level]
    if not passed:
        return None
    return (f"SmartMoving API use this month is at {share:.0%} of the {quota:,}-call quota "
            f"(past {passed[-1]:.0%}); the sync plan stretches its cadence to stay within it.")


@dataclass
class Month:
    """What simulate_month found: calls by kind and the longest wait for a sweep of today in business hours."""
    total: float = 0.0
    sweeps: float = 0.0
    first_reads: float = 0.0
    reference: float = 0.0
    refreshes: float = 0.0
    runs: int = 0
    worst_today_gap: float = 0.0      # minutes, business hours only
    worst_night_gap: float = 0.0
    stretches: set = None
    # Detail re-reads each day of the month got, all day and before MORNING_END_HOUR, in
    # date order (freshness: what dispatched jobs can count on, see freshness_guarantee).
    daily_refreshes: tuple = ()
    morning_refreshes: tuple = ()


def simulate_month(tier, quota, hours, costs, start, tick_minutes=10, days=30):
    """Run decide() every tick for a month from start (an aware local midnight), spending what it allows.

    TTL refreshes are assumed always wanted (there are far more stale copies than
    any quota buys), so each run spends its whole refresh allowance: the worst case.
    """
    month = Month(stretches=set())
    daily, morning = {}, {}
    last_today = last_tomorrow = None
    last_business_today = None
    unavoidable_per_tick = (costs.first_reads_per_day + costs.reference_per_day) * tick_minutes / (24 * 60)
    for tick in range(days * 24 * 60 // tick_minutes):
        now = start + timedelta(minutes=tick * tick_minutes)
        if now.hour == 0 and now.minute < tick_minutes:
            last_today, last_tomorrow = last_tomorrow, None    # midnight: tomorrow became today
        month.first_reads += costs.first_reads_per_day * tick_minutes / (24 * 60)
        month.reference += costs.reference_per_day * tick_minutes / (24 * 60)
        month.total += unavoidable_per_tick
        decision = decide(tier, quota, month.total, now, hours, costs, last_today, last_tomorrow,
                          slack_minutes=tick_minutes / 2)
        month.stretches.add(decision.stretch)
        business = in_business_hours(now, hours)
        if business and last_business_today is not None:
            gap = (now - last_business_today).total_seconds() / 60
            month.worst_today_gap = max(month.worst_today_gap, gap)
        if decision.window is None:
            continue
        cost = {"today": costs.today_sweep, "tomorrow": costs.tomorrow_sweep, "both": costs.both_sweep}[
            decision.window]
        month.sweeps += cost
        month.refreshes += decision.refresh_allowance if quota else 0
        spent = decision.refresh_allowance if quota else 0
        daily[now.date()] = daily.get(now.date(), 0) + spent
        if now.hour < MORNING_END_HOUR:
            morning[now.date()] = morning.get(now.date(), 0) + spent
        month.total += cost + (decision.refresh_allowance if quota else 0)
        month.runs += 1
        if decision.window in ("today", "both"):
            if not business and last_today is not None:
                month.worst_night_gap = max(month.worst_night_gap, (now - last_today).total_seconds() / 60)
            last_today = now
            last_business_today = now if business else None
        if decision.window in ("tomorrow", "both"):
            last_tomorrow = now
    month.daily_refreshes = tuple(daily[day] for day in sorted(daily))
    month.morning_refreshes = tuple(morning.get(day, 0) for day in sorted(daily))
    return month


# ---------------------------------------------------------------- freshness: whose detail to re-read first
#
# Detail-only edits (addresses, crew, money) never show in the sweep, and the quota buys far
# fewer re-reads than there are stale copies. So the re-reads a run may spend go where a
# wrong copy costs most: a dispatched job of today whose detail predates today (its morning
# re-read), then dispatched jobs of today and tomorrow past the refresh TTL, nearest start
# first, then every other stale copy, stalest first.

MORNING_END_HOUR = 8      # the "morning" of freshness_guarantee: re-reads before 08:00 local
MORNING, DISPATCHED, REST = 0, 1, 2


@dataclass(frozen=True)
class RefreshCandidate:
    """One opportunity of the swept window whose detail could be re-read, and what makes it urgent."""
    opportunity_id: str
    fetched_at: datetime | None   # naive UTC: its oldest job's details_as_of (else the sync state's read)
    stale: bool                   # older than the refresh TTL
    dispatched_starts: tuple = () # naive local starts of its dispatched jobs


def refresh_rank(candidate, local_now, midnight_utc):
    """The candidate's sort key (lower first), or None when it needs no re-read now.

    local_now: naive company-local now; midnight_utc: today's local 00:00 as naive UTC.
    """
    today = local_now.date()
    tomorrow = today + timedelta(days=1)
    starts = [start for start in candidate.dispatched_starts if start.date() in (today, tomorrow)]
    # Nearest start first: those still to start soonest first, then those under way, latest started first.
    nearest = min(((start < local_now, abs(start - local_now)) for start in starts), default=None)
    morning_due = (any(start.date() == today for start in starts)
                   and (candidate.fetched_at is None or candidate.fetched_at < midnight_utc))
    if morning_due:
        return MORNING, nearest
    if not candidate.stale:
        return None
    if nearest is not None:
        return DISPATCHED, nearest
    return REST, (candidate.fetched_at is not None, candidate.fetched_at or datetime.min)


def refresh_order(candidates, local_now, midnight_utc):
    """[(rank tier, opportunity id)] of the candidates that need a re-read, most urgent first."""
    ranked = []
    for candidate in candidates:
        rank = refresh_rank(candidate, local_now, midnight_utc)
        if rank is not None:
            ranked.append((rank, candidate.opportunity_id))
    ranked.sort()
    return [(rank[0], opportunity_id) for rank, opportunity_id in ranked]


def typical(values):
    """The median of values (0 for none): a day of the month once the plan has settled."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0


def freshness_guarantee(tier, month, webhooks=False):
    """What the plan promises dispatched jobs' SmartMoving details, in one sentence (README, make bench)."""
    morning, daily = int(typical(month.morning_refreshes)), int(typical(month.daily_refreshes))
    worst = int(min(month.morning_refreshes[1:], default=0))    # the month's first day has no history yet
    text = (f"{tier.title()}: {morning:,} detail re-reads before {MORNING_END_HOUR:02d}:00 on a typical day "
            f"(fewest on any day after the first: {worst:,}), so the first {morning:,} dispatched jobs of each "
            f"day, nearest start first, are re-read on the morning of their day, and all of them when a day has "
            f"no more; {daily:,} re-reads a day in all go to dispatched jobs of today and tomorrow before any "
            f"other stale copy")
    if tier == PREMIUM and webhooks:
        text += "; with webhooks, an announced edit is read within a minute"
    return text + "."
