"""The bench's arithmetic, and a tiny first sync at the minimum number of calls (no timing anywhere)."""
from datetime import date

from bench.api_calls import SyncBench
from bench.api_calls import minimum_for
from bench.api_calls import monthly_calls
from bench.api_calls import pages
from bench.api_calls import refresh_period
from dashboard.sandbox.world import SandboxWorld

DAY = date(2026, 7, 20)


def test_pages_count_an_empty_listing_as_one_call():
    assert [pages(n) for n in (0, 1, 200, 201, 400, 401)] == [1, 1, 1, 2, 2, 3]


def test_refresh_comes_at_the_first_sync_after_the_ttl():
    assert refresh_period(60, 10) == 70
    assert refresh_period(55, 10) == 60
    assert refresh_period(2880, 45) == 2925


def test_monthly_calls_add_sweeps_reads_and_reference():
    month = monthly_calls(10, 60, 360, sweep_calls=5, reference_calls=3, new_per_day=100)
    assert month["sweeps"] == 4320 * 5
    assert month["first_reads"] == 100 * 30
    assert month["refreshes"] == month["refreshes_wanted"] == 100 * 30 * 41  # ceil(2880 / 70) reads in all
    assert month["reference"] == 43200 / 370 * 3
    assert month["total"] == month["sweeps"] + month["first_reads"] + month["refreshes"] + month["reference"]


def test_a_quota_caps_only_the_ttl_rereads():
    month = monthly_calls(10, 60, 360, sweep_calls=5, reference_calls=3, new_per_day=448, quota=20_000)
    assert month["refreshes"] == 0
    assert month["total"] == month["unavoidable"] > 20_000
    roomy = monthly_calls(10, 60, 360, sweep_calls=5, reference_calls=3, new_per_day=448, quota=125_000)
    assert roomy["total"] == 125_000


def test_a_first_sync_makes_exactly_the_minimum_calls_and_a_second_makes_no_detail_call(tmp_path):
    world = SandboxWorld(seed=1, timezone="America/Toronto", today=DAY, branches=2, jobs_per_day=6)
    minimum = minimum_for(world, DAY, date(2026, 7, 21))
    bench = SyncBench(world, tmp_path)
    try:
        first, _, first_kinds, _ = bench.sync()
        second, _, second_kinds, second_writes = bench.sync()
    finally:
        bench.close()
    assert first.api_calls == minimum.first_sync
    assert first_kinds["opportunity"] == minimum.opportunities
    assert second.api_calls == minimum.sweep_pages
    assert second_kinds["opportunity"] == 0 and second_writes == 0
