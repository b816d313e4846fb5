"""Freshness (issue 19 §3): detail re-reads go to dispatched jobs of today and tomorrow first, nearest start
first, and a dispatched job of today whose detail predates the day is re-read on its morning."""
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import TruckJourney
from dashboard.models import utcnow
from dashboard.sync import freshness
from dashboard.sync import plan
from tests.support.syncing import TZ
from tests.support.syncing import sync
from tests.support.upstream import deliver_webhooks
from tests.support.upstream import job_row
from tests.support.upstream import set_window

HOURS = (6.0, 20.0)
# The bench's 66-branch, 500-jobs/day company (as in tests/test_plan.py).
BENCH = plan.Costs(today_sweep=3, tomorrow_sweep=3, both_sweep=5, first_reads_per_day=448, reference_per_day=12)
JUNE = datetime(2026, 6, 1, tzinfo=ZoneInfo("America/Toronto"))
NOW = datetime(2026, 6, 10, 9, 30)                 # local
MIDNIGHT_UTC = datetime(2026, 6, 10, 4, 0)         # Toronto's 00:00 in June, as naive UTC
TODAY, TOMORROW = NOW.date(), NOW.date() + timedelta(days=1)


def _candidate(opportunity_id, fetched_at=datetime(2026, 6, 10, 12, 0), stale=True, starts=()):
    return plan.RefreshCandidate(opportunity_id, fetched_at, stale, tuple(starts))


def test_refresh_order_puts_morning_re_reads_then_dispatched_jobs_nearest_start_then_the_stalest():
    order = plan.refresh_order([
        _candidate("rest-newer", fetched_at=datetime(2026, 6, 10, 12, 0)),
        _candidate("rest-older", fetched_at=datetime(2026, 6, 9, 12, 0)),
        _candidate("tomorrow-8", starts=[datetime(2026, 6, 11, 8, 0)]),
        _candidate("today-13", starts=[datetime(2026, 6, 10, 13, 0)]),
        _candidate("today-10", starts=[datetime(2026, 6, 10, 10, 0)]),
        _candidate("today-7-underway", starts=[datetime(2026, 6, 10, 7, 0)]),
        # Read yesterday evening (within the TTL, so not stale): due on its morning all the same.
        _candidate("morning-15", fetched_at=datetime(2026, 6, 10, 1, 0), stale=False,
                   starts=[datetime(2026, 6, 10, 15, 0)]),
        _candidate("morning-11", fetched_at=datetime(2026, 6, 10, 2, 0), stale=False,
                   starts=[datetime(2026, 6, 10, 11, 0)]),
        # Fresh and read today: nothing to do.
        _candidate("fresh", fetched_at=datetime(2026, 6, 10, 13, 0), stale=False, starts=[datetime(2026, 6, 10, 9)]),
        # Dispatched, but two days out: only its staleness counts.
        _candidate("later-day", fetched_at=datetime(2026, 6, 8, 0, 0), starts=[datetime(2026, 6, 12, 8, 0)]),
    ], NOW, MIDNIGHT_UTC)
    assert [opportunity_id for _, opportunity_id in order] == [
        "morning-11", "morning-15", "today-10", "today-13", "tomorrow-8", "today-7-underway",
        "later-day", "rest-older", "rest-newer"]
    assert [tier for tier, _ in order][:3] == [plan.MORNING, plan.MORNING, plan.DISPATCHED]


def test_a_job_never_read_is_due_on_its_morning_and_read_today_is_not():
    never = _candidate("never", fetched_at=None, stale=False, starts=[datetime(2026, 6, 10, 12, 0)])
    read_this_morning = _candidate("read", fetched_at=MIDNIGHT_UTC + timedelta(minutes=5), stale=False,
                                   starts=[datetime(2026, 6, 10, 12, 0)])
    assert plan.refresh_order([never, read_this_morning], NOW, MIDNIGHT_UTC) == [(plan.MORNING, "never")]


def test_the_guarantee_per_plan_comes_from_the_simulated_month():
    basic = plan.simulate_month(plan.BASIC, 20_000, HOURS, BENCH, JUNE)
    premium = plan.simulate_month(plan.PREMIUM, 125_000, HOURS, BENCH, JUNE)
    assert len(basic.daily_refreshes) == 30 and len(basic.morning_refreshes) == 30
    assert 0 < plan.typical(basic.morning_refreshes) <= plan.typical(basic.daily_refreshes)
    assert plan.typical(premium.morning_refreshes) > 10 * plan.typical(basic.morning_refreshes)
    # What is spent never exceeds what the month allowed (the same simulation counts both).
    assert sum(basic.daily_refreshes) == basic.refreshes
    text = plan.freshness_guarantee(plan.BASIC, basic)
    morning = plan.typical(basic.morning_refreshes)
    assert text.startswith("Basic:") and f"{morning:,} detail re-reads before 08:00" in text
    assert "within a minute" in plan.freshness_guarantee(plan.PREMIUM, premium, webhooks=True)
    assert "within a minute" not in plan.freshness_guarantee(plan.BASIC, basic)


def test_local_clock_gives_the_companys_midnight_in_utc():
    local_now, midnight = freshness.local_clock("America/Toronto", datetime(2026, 6, 10, 13, 30))
    assert local_now == datetime(2026, 6, 10, 9, 30) and midnight == MIDNIGHT_UTC


# ---------------------------------------------------------------- through a real sync against the sandbox

def _plan_allowing(monkeypatch, refreshes):
    decision = plan.Decision(window="both", cadence=dict(plan.CADENCES[plan.BASIC]), stretch=1, projected=0,
                             budget=18_000, refresh_allowance=refreshes, business=True)
    monkeypatch.setattr("dashboard.sync.usage.plan_now", lambda company_id, **kwargs: decision)


def _jobs(app, day):
    with app.app_context():
        rows = db.session.execute(sa.select(TruckJourney.id, TruckJourney.opportunity_external_id,
                                            TruckJourney.span_start, TruckJourney.details_as_of)
                                  .where(TruckJourney.scheduled_date == day)
                                  .order_by(TruckJourney.span_start, TruckJourney.id)).all()
        db.session.commit()
    # One job per opportunity, so a re-read of one says nothing about another.
    counts = {}
    for row in rows:
        counts[row.opportunity_external_id] = counts.get(row.opportunity_external_id, 0) + 1
    return [row for row in rows if counts[row.opportunity_external_id] == 1 and row.span_start is not None]


def _update(app, job_id, **values):
    with app.app_context():
        db.session.execute(sa.update(TruckJourney).where(TruckJourney.id == job_id).values(**values))
        db.session.commit()


def _details_as_of(app, job_id):
    with app.app_context():
        value = db.session.scalar(sa.select(TruckJourney.details_as_of).where(TruckJourney.id == job_id))
        db.session.commit()
        return value


def test_a_quota_that_buys_one_re_read_spends_it_on_the_dispatched_job(sync_app, sandbox, monkeypatch):
    sync(sync_app)
    sync_app.config["OPPORTUNITY_REFRESH_MINUTES"] = 0     # every stored copy is stale
    today = datetime.now(ZoneInfo(TZ)).date()
    tomorrow_jobs = _jobs(sync_app, today + timedelta(days=1))
    planned = tomorrow_jobs[-1]                             # tomorrow's latest start: last in any other order
    _update(sync_app, planned.id, notes="Two flights of stairs", dispatch_status="ASSIGNED")
    before = {job.id: _details_as_of(sync_app, job.id) for job in tomorrow_jobs}
    _plan_allowing(monkeypatch, 1)
    sandbox.stats.reset()
    run = sync(sync_app)
    assert run.opportunities_to_enrich == 1 and sandbox.stats.by_kind.get("opportunity", 0) == 1
    assert _details_as_of(sync_app, planned.id) > before[planned.id]
    assert all(_details_as_of(sync_app, job.id) == before[job.id] for job in tomorrow_jobs if job.id != planned.id)


def test_a_dispatched_job_of_today_read_before_midnight_is_re_read_once_on_its_morning(sync_app, sandbox,
                                                                                     monkeypatch):
    sync(sync_app)                                          # fresh copies: nothing is past the TTL
    today = datetime.now(ZoneInfo(TZ)).date()
    planned = _jobs(sync_app, today)[0]
    yesterday_evening = utcnow() - timedelta(days=1)
    _update(sync_app, planned.id, notes="Call on arrival", details_as_of=yesterday_evening)
    _plan_allowing(monkeypatch, 5)
    sandbox.stats.reset()
    assert sync(sync_app).opportunities_to_enrich == 1 and sandbox.stats.by_kind.get("opportunity", 0) == 1
    assert _details_as_of(sync_app, planned.id) > yesterday_evening
    sandbox.stats.reset()
    assert sync(sync_app).opportunities_to_enrich == 0      # read this morning: not due again today
    assert sandbox.stats.by_kind.get("opportunity", 0) == 0


def test_a_webhook_refresh_stamps_details_as_of_at_once(rig):
    # Premium with webhooks: an announced edit is read at once, and the job says so.
    truth = rig.truth()
    job_id = sorted(truth)[0]
    before = job_row(rig.app, job_id).details_as_of
    set_window(rig.world, job_id, (rig.world.jobs[job_id].window + 1) % 4)
    deliver_webhooks(rig.app, rig.company_id, [{"event-type": "opportunity-changed",
                                                "opportunity-id": truth[job_id]["opportunityId"]}])
    after = job_row(rig.app, job_id)
    assert after.details_as_of is not None and (before is None or after.details_as_of > before)
    assert utcnow() - after.details_as_of < timedelta(minutes=1)
