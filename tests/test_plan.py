"""The quota plan (dashboard/sync/plan.py): pure functions, no database."""
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from dashboard.sync import plan

ZONE = ZoneInfo("America/Toronto")
HOURS = (6.0, 20.0)
# The bench's 66-branch, 500-jobs/day company: 3 pages a day, 5 for both, ~448 new opportunities a day.
BENCH = plan.Costs(today_sweep=3, tomorrow_sweep=3, both_sweep=5, first_reads_per_day=448, reference_per_day=12)
JUNE = datetime(2026, 6, 1, tzinfo=ZONE)


def at(day, hour, minute=0):
    return datetime(2026, 6, day, hour, minute, tzinfo=ZONE)


def test_the_tier_comes_from_the_setting_or_the_quota():
    assert plan.tier_for("premium", 20_000) == plan.PREMIUM
    assert plan.tier_for("basic", 125_000) == plan.PREMIUM
    assert plan.tier_for("basic", 20_000) == plan.BASIC
    assert plan.tier_for(None, 0) == plan.BASIC


@pytest.mark.parametrize("text,expected", [("06:00-20:00", (6.0, 20.0)), ("7:30 - 18:00", (7.5, 18.0))])
def test_business_hours_parse(text, expected):
    assert plan.parse_hours(text) == expected


@pytest.mark.parametrize("text", ["", "6-20", "20:00-06:00", "06:00-25:00", "nine to five"])
def test_bad_business_hours_are_refused(text):
    with pytest.raises(ValueError):
        plan.parse_hours(text)


def test_basic_sweeps_today_every_30_minutes_in_business_hours_and_stays_under_90_percent():
    month = plan.simulate_month(plan.BASIC, 20_000, HOURS, BENCH, JUNE)
    assert month.total <= 18_000
    assert month.worst_today_gap <= 30
    assert month.first_reads == pytest.approx(448 * 30)
    assert month.refreshes > 0          # what is left buys detail-only refreshes


def test_premium_sweeps_every_10_minutes_and_stays_under_90_percent():
    month = plan.simulate_month(plan.PREMIUM, 125_000, HOURS, BENCH, JUNE)
    assert month.total <= 112_500
    assert month.worst_today_gap <= 10 and month.worst_night_gap <= 10
    assert month.stretches == {1}


def test_a_month_running_over_stretches_the_cadence():
    calm = plan.decide(plan.BASIC, 20_000, 0, at(1, 9), HOURS, BENCH)
    assert calm.stretch == 1 and calm.cadence["today"] == 30
    # Half the quota gone by the 5th: the rest of the month must make do with less.
    busy = plan.decide(plan.BASIC, 20_000, 10_000, at(5, 9), HOURS, BENCH)
    assert busy.stretch > 1 and busy.cadence["today"] > 30
    assert busy.projected <= busy.budget == 18_000 or busy.stretch == plan.STRETCHES[-1]
    assert busy.refresh_allowance == 0


def test_refreshes_get_only_what_the_projection_leaves():
    assert plan.refresh_allowance(20_000, 18_000, 100) == 0
    assert plan.refresh_allowance(20_000, 17_000, 100) == 10
    assert plan.refresh_allowance(0, 0, 1) >= 10 ** 9       # no quota: no limit


def test_today_is_due_after_its_cadence_tomorrow_less_often():
    now = at(10, 10)
    assert plan.due_window(now, HOURS, plan.CADENCES[plan.BASIC], now - timedelta(minutes=31),
                           now - timedelta(minutes=60)) == "today"
    assert plan.due_window(now, HOURS, plan.CADENCES[plan.BASIC], now - timedelta(minutes=31),
                           now - timedelta(minutes=121)) == "both"
    assert plan.due_window(now, HOURS, plan.CADENCES[plan.BASIC], now - timedelta(minutes=10),
                           now - timedelta(minutes=10)) is None
    assert plan.due_window(now, HOURS, plan.CADENCES[plan.BASIC], None, None) == "both"


def test_nights_are_sparse_and_sweep_both_days():
    night = at(10, 23)
    cadence = plan.CADENCES[plan.BASIC]
    swept_100_minutes_ago = night - timedelta(minutes=100)
    assert plan.due_window(night, HOURS, cadence, swept_100_minutes_ago, swept_100_minutes_ago) is None
    today_241_ago, tomorrow_30_ago = night - timedelta(minutes=241), night - timedelta(minutes=30)
    assert plan.due_window(night, HOURS, cadence, today_241_ago, tomorrow_30_ago) == "both"


def test_a_tick_a_little_early_still_counts():
    now = at(10, 10)
    last = now - timedelta(minutes=29, seconds=50)
    assert plan.due_window(now, HOURS, plan.CADENCES[plan.BASIC], last, now, slack_minutes=5) == "today"


@pytest.mark.parametrize("used,expected", [(14_999, None), (15_000, "75%"), (18_000, "90%")])
def test_warnings_at_75_and_90_percent(used, expected):
    sentence = plan.warning_for(20_000, used)
    assert sentence is None if expected is None else expected in sentence
