"""In-process caches are bounded by bytes (issue 20 §14): CACHE_MAX_MB per worker, shared out among the caches."""
import sys
import threading

import pytest
from flask import Flask

from dashboard.config import ConfigError
from dashboard.config import parse_int
from dashboard.jobs import board
from dashboard.jobs import crew_roster
from dashboard.jobs import day_snapshot
from dashboard.jobs import render_cache
from dashboard.jobs.render_cache import OnceCache
from dashboard.jobs.render_cache import approx_size
from dashboard.jobs.render_cache import budget_bytes

MIB = 1024 * 1024


def _app(megabytes):
    app = Flask("cache-test")
    app.config["CACHE_MAX_MB"] = megabytes
    return app


def test_entries_beyond_the_share_of_the_budget_fall_out_least_recent_first():
    cache = OnceCache(1000, share=0.5, sizer=lambda key, value: len(value))
    with _app(1).app_context():   # half of 1 MiB
        for n in range(5):
            cache.put(n, "x" * (200 * 1024))
        assert cache.bytes <= MIB // 2
        assert len(cache) == 2
        assert cache.get(0) is None and cache.get(4) is not None
        cache.get(3)                      # used: the other one goes first
        cache.put(5, "y" * (200 * 1024))
        assert cache.get(3) is not None and cache.get(4) is None


def test_a_value_bigger_than_the_whole_share_is_not_kept():
    cache = OnceCache(10, share=0.1, sizer=lambda key, value: len(value))
    with _app(1).app_context():
        cache.put("small", "s" * 1000)
        cache.put("huge", "h" * MIB)
        assert cache.get("huge") is None
        assert cache.get("small") is not None
        assert cache.bytes == 1000
        built = cache.get_or_build("huge", lambda: "h" * MIB)   # still answered, just not kept
        assert len(built) == MIB and cache.get("huge") is None


def test_caches_sharing_a_budget_count_each_others_bytes():
    from dashboard.jobs.render_cache import Budget

    shared = Budget(1)
    first = OnceCache(10, budget=shared, sizer=lambda key, value: len(value))
    second = OnceCache(10, budget=shared, sizer=lambda key, value: len(value))
    with _app(1).app_context():
        first.put("a", "a" * (600 * 1024))
        second.put("b", "b" * (300 * 1024))
        assert shared.bytes == 900 * 1024
        second.put("c", "c" * (300 * 1024))   # over the shared MiB: the second cache gives up its oldest
        assert second.get("b") is None and first.get("a") is not None and shared.bytes <= MIB
        first.clear()
        assert shared.bytes == second.bytes == 300 * 1024


def test_replacing_an_entry_counts_its_bytes_once():
    cache = OnceCache(10, share=1, sizer=lambda key, value: len(value))
    with _app(1).app_context():
        cache.put("k", "a" * 100)
        cache.put("k", "b" * 300)
        assert cache.bytes == 300 and len(cache) == 1
        cache.clear()
        assert cache.bytes == 0 and cache.get("k") is None


def test_zero_megabytes_keeps_nothing():
    cache = OnceCache(10, share=1)
    with _app(0).app_context():
        cache.put("k", "value")
        assert cache.get("k") is None


def test_the_budget_is_the_apps_setting_else_64_mib():
    assert budget_bytes(1) == 64 * MIB                # no app in context
    with _app(8).app_context():
        assert budget_bytes(0.5) == 4 * MIB


def test_the_board_caches_all_draw_on_the_workers_one_budget_cheapest_to_rebuild_giving_up_first():
    from dashboard.confirm import states
    from dashboard.jobs.render_cache import WORKER

    caches = [render_cache.partials, board.row_cache, day_snapshot.snapshots, day_snapshot.newest,
              crew_roster.rosters, states._told_by_version, states._answers_by_stamp, states._delivery_by_stamp,
              states._fingerprints, states._job_marks]
    assert all(cache in WORKER.caches for cache in caches)
    assert day_snapshot.snapshots.budget is day_snapshot.newest.budget   # the day reads share their cap
    # A rendered partial is rebuilt from the day's read in milliseconds; the newest read costs a full read.
    assert render_cache.partials.rank < board.row_cache.rank < day_snapshot.newest.rank
    assert crew_roster.rosters.rank < day_snapshot.newest.rank


def test_all_caches_together_hold_at_most_cache_max_mb(monkeypatch):
    from dashboard.jobs import render_cache as module
    from dashboard.jobs.render_cache import Budget

    worker = Budget(1.0)
    monkeypatch.setattr(module, "WORKER", worker)
    cheap = OnceCache(100, share=0.8, sizer=lambda key, value: len(value), rank=10)
    dear = OnceCache(100, share=0.8, sizer=lambda key, value: len(value), rank=60)
    with _app(1).app_context():
        dear.put("day", "d" * (500 * 1024))
        cheap.put("p1", "p" * (300 * 1024))
        cheap.put("p2", "p" * (100 * 1024))
        assert worker.bytes == 900 * 1024
        dear.put("day2", "d" * (300 * 1024))    # over the MiB: the cheap cache gives up its oldest first
        assert worker.bytes <= MIB
        assert cheap.get("p1") is None and dear.get("day") is not None and dear.get("day2") is not None


def test_approx_size_grows_with_what_a_value_holds():
    small = [("job", 1, "Ann Lifter")] * 10
    big = [("job", n, "Ann Lifter" * 10) for n in range(10_000)]
    assert approx_size(big) > 100 * approx_size(small)
    assert approx_size("x" * 10_000) >= 10_000
    # A long list is estimated from a sample of its items; an object it holds many times counts once.
    distinct = [("job", n, f"Ann Lifter {n:06d}" * 10) for n in range(10_000)]
    exact = sum(sys.getsizeof(item) + sys.getsizeof(item[1]) + sys.getsizeof(item[2]) for item in distinct)
    assert approx_size(distinct) == pytest.approx(exact + sys.getsizeof(distinct), rel=0.2)
    text = "x" * 100_000
    assert approx_size([text] * 10) < 2 * sys.getsizeof(text)


def test_concurrent_askers_build_a_missing_value_once():
    cache = OnceCache(10, share=1)
    calls = []
    gate = threading.Event()

    def build():
        calls.append(1)
        gate.wait(1)
        return "built"

    with _app(1).app_context():
        app = _app(1)
        results = []

        def ask():
            with app.app_context():
                results.append(cache.get_or_build("k", build))

        threads = [threading.Thread(target=ask) for _ in range(4)]
        for thread in threads:
            thread.start()
        gate.set()
        for thread in threads:
            thread.join()
    assert results == ["built"] * 4 and len(calls) == 1


def test_cache_max_mb_is_a_whole_number_setting():
    assert parse_int("CACHE_MAX_MB", "32") == 32
    with pytest.raises(ConfigError, match="CACHE_MAX_MB"):
        parse_int("CACHE_MAX_MB", "lots")


def test_the_app_reads_cache_max_mb_from_the_environment(monkeypatch, tmp_path):
    from dashboard import create_app

    monkeypatch.setenv("CACHE_MAX_MB", "12")
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite:///" + str(tmp_path / "c.sqlite"),
                      "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x" * 32, "SYNC_INTERVAL_MINUTES": 0})
    assert app.config["CACHE_MAX_MB"] == 12
    with app.app_context():
        assert budget_bytes(1) == 12 * MIB


def _rows(count, trucks):
    from datetime import datetime
    from datetime import timedelta
    from types import SimpleNamespace

    start = datetime(2026, 1, 5, 8)
    rows = []
    for n in range(count):
        truck_id = None if n % 10 == 0 else n % trucks
        job = SimpleNamespace(truck_id=truck_id, truck=None if truck_id is None else SimpleNamespace(
            name=f"Truck {truck_id:03d}"))
        rows.append(SimpleNamespace(job=job, span=(None, None) if n % 25 == 0 else (start, start + timedelta(hours=2))))
    return rows


def test_lanes_keep_whole_lanes_within_the_row_cap_no_truck_first():
    rows = _rows(8000, 400)
    shown, trucks = board._lane_cut(rows, [], 1000)
    assert 800 < len(shown) <= 1000
    lanes = {}
    for row in shown:
        lanes.setdefault(row.job.truck_id, []).append(row)
    everything = {}
    for row in rows:
        if row.span[0] is not None:
            everything.setdefault(row.job.truck_id, []).append(row)
    assert None in lanes                       # the dispatcher's work comes first
    for truck_id, lane in lanes.items():       # a lane is shown whole or not at all
        if truck_id is None:
            continue
        assert len([r for r in lane if r.span[0] is not None]) == len(everything[truck_id])
    kept_names = sorted(f"Truck {t:03d}" for t in lanes if t is not None)
    all_names = sorted(f"Truck {t:03d}" for t in everything if t is not None)
    assert kept_names == all_names[:len(kept_names)]   # the first lanes by name


def test_a_no_truck_lane_longer_than_the_cap_is_cut_to_it():
    rows = _rows(8000, 400)
    shown, trucks = board._lane_cut(rows, [], 300)
    assert len(shown) == 300 and all(row.job.truck_id is None for row in shown) and trucks == []


def test_a_small_day_draws_every_lane():
    rows = _rows(90, 24)
    shown, _ = board._lane_cut(rows, [], 600)
    assert shown == rows


def test_no_board_draws_more_than_max_rows():
    assert board.MAX_ROWS <= 2000 and board.PAGE_ROWS <= board.LANE_ROWS <= board.MAX_ROWS


def test_may_hold_member_matches_the_id_as_a_whole_number_in_either_json_spelling(app):
    import sqlalchemy as sa

    from dashboard.db import db
    from dashboard.jobs.queries import may_hold_member

    with app.app_context():
        def holds(text, member):
            literal = sa.literal(text)
            clause = may_hold_member(member)
            # The clause names the job's columns: check its patterns against a literal instead.
            patterns = [c.right.value for c in clause.clauses]
            return any(db.session.scalar(sa.select(sa.cast(literal, sa.Text).like(p))) for p in patterns)

        assert holds("[7, 12]", 7) and holds("[7, 12]", 12) and holds("[3,7]", 7) and holds("[7]", 7)
        assert not holds("[17, 71]", 7) and not holds("[127]", 12) and not holds("[]", 7)
