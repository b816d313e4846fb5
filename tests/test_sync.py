"""The sync end to end: our real client over real HTTP against the sandbox, on both databases."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import ApiCall
from dashboard.models import Location
from dashboard.models import SyncRun
from dashboard.models import TruckJourney
from dashboard.sync.service import SyncAlreadyRunning
from dashboard.sync.service import run_sync
from dashboard.timeutil import company_today
from tests.support import is_write
from tests.support import statements_sent
from tests.support.syncing import TZ
from tests.support.syncing import sync
from tests.support.syncing import window


def stored_jobs(app):
    with app.app_context():
        rows = db.session.scalars(sa.select(TruckJourney).where(TruckJourney.sync_status != "REMOVED")).all()
        return {row.external_id: row for row in rows}


def assert_matches_truth(app, world):
    start, end = window(app)
    truth = world.expected_jobs(start, end)
    jobs = {key: job for key, job in stored_jobs(app).items()
            if key is not None and start <= job.scheduled_date <= end}   # a job moved away lives on its new day
    assert set(jobs) == set(truth)
    with app.app_context():
        locations = dict(db.session.execute(sa.select(Location.id, Location.name)).all())
    for job_id, expected in truth.items():
        job = jobs[job_id]
        assert job.job_number == expected["jobNumber"]
        assert job.quote_number == str(expected["quoteNumber"])
        assert job.customer_name == expected["customerName"]
        assert job.scheduled_date == expected["scheduledDate"]
        assert locations[job.location_id] == expected["branchName"]
        assert job.estimated_value_cents == round(expected["estimatedValue"] * 100)
        assert job.origin_address == expected["originAddress"]
        assert job.destination_address == expected["destinationAddress"]
        assert job.arrival_start_hour == expected["arrivalStart"]
        assert job.smartmoving_crew == expected["crewNames"]
        assert job.sync_status == "SYNCED"


def test_first_sync_stores_exactly_the_window(sync_app, sandbox):
    run = sync(sync_app)
    assert run.status == "SUCCESS", run.error
    assert_matches_truth(sync_app, sandbox.world)
    start, end = window(sync_app)
    assert run.created == len(sandbox.world.expected_jobs(start, end)) == 24
    assert run.api_calls == sandbox.stats.total
    with sync_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(ApiCall.id))) == run.api_calls
        assert db.session.scalar(sa.select(sa.func.count(Location.id))) == 3


def test_second_sync_fetches_no_detail_and_writes_nothing(sync_app, sandbox):
    sync(sync_app)
    sandbox.stats.reset()
    with statements_sent(sync_app.extensions["sqlalchemy_engine"], is_write) as writes:
        run = sync(sync_app)
    data_tables = ("truck_journeys", "opportunity_sync_states", "locations", "crew_members")
    assert [w for w in writes if any(table in w for table in data_tables)] == []
    assert writes, "the run itself is still recorded"
    assert run.status == "SUCCESS"
    assert (run.created, run.updated, run.removed) == (0, 0, 0)
    assert run.unchanged == 24
    assert sandbox.stats.by_kind.get("opportunity", 0) == 0
    assert sandbox.stats.by_kind.get("branches", 0) == 0  # reference data is within its TTL
    assert run.api_calls == sandbox.stats.by_kind["customers"] == run.pages_fetched


def test_changed_opportunity_is_the_only_detail_call_and_local_fields_survive(sync_app, sandbox):
    sync(sync_app)
    start, end = window(sync_app)
    opportunity_id = sorted(sandbox.world.opportunity_ids_in_window(start, end))[0]
    job_id = next(j for j, e in sandbox.world.expected_jobs(start, end).items() if e["opportunityId"] == opportunity_id)
    with sync_app.app_context():
        job = db.session.scalar(sa.select(TruckJourney).where(TruckJourney.external_id == job_id))
        job.crew, job.notes, job.dispatch_status = ["Our Crew"], "Gate code 1234", "ASSIGNED"
        db.session.commit()
    sandbox.world.change_opportunity(opportunity_id)
    sandbox.stats.reset()
    run = sync(sync_app)
    assert sandbox.stats.by_kind.get("opportunity", 0) == 1
    assert run.updated >= 1
    assert_matches_truth(sync_app, sandbox.world)
    job = stored_jobs(sync_app)[job_id]
    assert (job.crew, job.notes, job.dispatch_status) == (["Our Crew"], "Gate code 1234", "ASSIGNED")


def test_detail_only_change_is_picked_up_after_the_refresh_ttl(sync_app, sandbox):
    sync(sync_app)
    start, end = window(sync_app)
    opportunity_id = sorted(sandbox.world.opportunity_ids_in_window(start, end))[1]
    sandbox.world.change_detail_only(opportunity_id)
    sync(sync_app)
    with pytest.raises(AssertionError):
        assert_matches_truth(sync_app, sandbox.world)   # within the TTL the change is not seen yet
    sync_app.config["OPPORTUNITY_REFRESH_MINUTES"] = 0
    sync_app.config["SMARTMOVING_MONTHLY_QUOTA"] = 10_000_000   # room to refresh every opportunity
    sync(sync_app)
    assert_matches_truth(sync_app, sandbox.world)


def test_ttl_refreshes_stay_within_the_monthly_quota(sync_app, sandbox):
    sync(sync_app)
    sync_app.config["OPPORTUNITY_REFRESH_MINUTES"] = 0
    sync_app.config["SMARTMOVING_MONTHLY_QUOTA"] = 1    # already spent: no room for refreshes
    start, end = window(sync_app)
    changed = sorted(sandbox.world.opportunity_ids_in_window(start, end))[0]
    sandbox.world.change_opportunity(changed)             # a sweep-visible change is always fetched
    sandbox.stats.reset()
    run = sync(sync_app)
    assert sandbox.stats.by_kind.get("opportunity", 0) == 1
    assert run.opportunities_to_enrich == 1
    assert any("deferred" in warning for warning in run.warnings)
    assert_matches_truth(sync_app, sandbox.world)


def _plan_allowing(monkeypatch, refreshes):
    from dashboard.sync import plan
    decision = plan.Decision(window="both", cadence=dict(plan.CADENCES[plan.BASIC]), stretch=1, projected=0,
                             budget=18_000, refresh_allowance=refreshes, business=True)
    monkeypatch.setattr("dashboard.sync.usage.plan_now", lambda company_id, **kwargs: decision)


def test_ttl_refreshes_are_what_the_quota_plan_allows(sync_app, sandbox, monkeypatch):
    sync(sync_app)
    sync_app.config["OPPORTUNITY_REFRESH_MINUTES"] = 0     # every stored copy is stale
    _plan_allowing(monkeypatch, 3)
    sandbox.stats.reset()
    run = sync(sync_app)
    assert sandbox.stats.by_kind.get("opportunity", 0) == 3 == run.opportunities_to_enrich


def test_an_unchanged_resync_past_every_ttl_makes_only_its_sweep_and_due_reference_calls(sync_app, sandbox,
                                                                                       monkeypatch):
    sync(sync_app)
    sync_app.config.update(OPPORTUNITY_REFRESH_MINUTES=0, REFERENCE_REFRESH_MINUTES=0)
    _plan_allowing(monkeypatch, 0)                          # the month has no room for refreshes
    sandbox.stats.reset()
    run = sync(sync_app)
    kinds = sandbox.stats.by_kind
    assert kinds.get("opportunity", 0) == 0
    assert run.api_calls == kinds["customers"] + kinds["branches"] + kinds["crew"]
    assert (run.created, run.updated, run.removed) == (0, 0, 0)


def test_deleted_jobs_are_soft_removed_and_moved_ones_moved_after_a_complete_sweep(sync_app, sandbox):
    sync(sync_app)
    start, end = window(sync_app)
    with sync_app.app_context():
        company_id = db.session.scalar(sa.text("SELECT id FROM companies WHERE is_default"))
        db.session.add(TruckJourney(company_id=company_id, data_source="MANUAL", customer_name="Walk-in",
                                    scheduled_date=start))
        db.session.commit()
    opportunities = sorted(sandbox.world.opportunity_ids_in_window(start, end))
    sandbox.world.delete_opportunity(opportunities[0])
    moved = next(j for j, e in sorted(sandbox.world.expected_jobs(start, end).items())
                 if e["opportunityId"] != opportunities[0])
    sandbox.world.move_job(moved, end + timedelta(days=3))
    run = sync(sync_app)
    assert run.status == "SUCCESS"
    assert run.removed >= 1
    assert_matches_truth(sync_app, sandbox.world)
    with sync_app.app_context():
        removed = db.session.scalars(sa.select(TruckJourney).where(TruckJourney.sync_status == "REMOVED")).all()
        rescheduled = db.session.scalar(sa.select(TruckJourney).where(TruckJourney.external_id == moved))
    assert removed and moved not in {job.external_id for job in removed}   # a move is no removal
    assert (rescheduled.scheduled_date, rescheduled.sync_status) == (end + timedelta(days=3), "SYNCED")
    assert all(job.removed_at is not None for job in removed)
    with sync_app.app_context():
        manual = db.session.scalar(sa.select(TruckJourney).where(TruckJourney.data_source == "MANUAL"))
    assert manual.sync_status == "SYNCED" and manual.removed_at is None   # never touched by a sync


def test_incomplete_sweep_removes_nothing_and_fails_clearly(sync_app, sandbox):
    sync(sync_app)
    start, end = window(sync_app)
    sandbox.world.delete_opportunity(sorted(sandbox.world.opportunity_ids_in_window(start, end))[0])
    sandbox.faults.fail_paths = {"/api/customers"}
    run = sync(sync_app)
    sandbox.faults.fail_paths = set()
    assert run.status == "FAILED"
    assert "sweep stopped early" in run.error
    assert run.removed == 0
    assert len(stored_jobs(sync_app)) == 24


def test_one_failing_opportunity_does_not_fail_the_run_and_is_retried(sync_app, sandbox):
    start, end = window(sync_app)
    broken = sorted(sandbox.world.opportunity_ids_in_window(start, end))[2]
    sandbox.faults.fail_paths = {f"/api/opportunities/{broken}"}
    run = sync(sync_app)
    assert run.status == "PARTIAL"
    assert run.opportunities_failed == 1
    pending = [job for job in stored_jobs(sync_app).values() if job.opportunity_external_id == broken]
    assert pending and all(job.sync_status == "FAILED" for job in pending)
    assert all(job.customer_name and job.job_number for job in pending)   # sweep fields are there
    sandbox.faults.fail_paths = set()
    sandbox.stats.reset()
    run = sync(sync_app)
    assert run.status == "SUCCESS"
    assert sandbox.stats.by_kind.get("opportunity", 0) == 1
    assert_matches_truth(sync_app, sandbox.world)


def test_rate_limits_and_server_errors_are_ridden_out(sync_app, sandbox):
    sandbox.faults.rate_limit_next(2, seconds=1)
    sandbox.faults.fail_next(2, status=503)
    run = sync(sync_app)
    assert run.status == "SUCCESS", run.error
    assert run.rate_limited == 2
    assert_matches_truth(sync_app, sandbox.world)


def test_wrong_api_key_fails_with_a_clear_message(sync_app, sandbox):
    sync_app.config["SMARTMOVING_API_KEY"] = "wrong-key"
    run = sync(sync_app)
    assert run.status == "FAILED"
    assert "401" in run.error and "wrong-key" not in run.error


def test_a_held_lease_refuses_a_second_runner(sync_app):
    from dashboard.sync.lease import acquire_lease
    from dashboard.sync.lease import lease_name_for
    with sync_app.app_context():
        company_id = db.session.scalar(sa.text("SELECT id FROM companies WHERE is_default"))
        assert acquire_lease(lease_name_for(company_id), "another-process", 60)
        with pytest.raises(SyncAlreadyRunning):
            run_sync(company_id)
        assert db.session.scalar(sa.select(sa.func.count(SyncRun.id))) == 0


def test_sync_of_a_given_date_uses_that_window(sync_app, sandbox):
    start = company_today(TZ) + timedelta(days=2)
    run = sync(sync_app, day=start)
    assert (run.window_start, run.window_end) == (start, start + timedelta(days=1))
    truth = sandbox.world.expected_jobs(start, start + timedelta(days=1))
    assert set(stored_jobs(sync_app)) == set(truth)


def test_cli_sync_prints_a_summary(sync_app):
    result = sync_app.test_cli_runner().invoke(args=["sync"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("sync success:") and "24 jobs" in result.output


def test_detail_404_for_an_opportunity_still_in_the_sweep_keeps_its_jobs_and_backs_off(sync_app, sandbox,
                                                                                     monkeypatch):
    sync(sync_app)
    start, end = window(sync_app)
    listed = sorted(sandbox.world.opportunity_ids_in_window(start, end))[3]
    sandbox.world.change_opportunity(listed)          # so the next sync asks for its detail
    real_detail = sandbox.world.opportunity_detail
    monkeypatch.setattr(sandbox.world, "opportunity_detail",
                        lambda opp_id, **kw: None if str(opp_id) == listed else real_detail(opp_id, **kw))
    run = sync(sync_app)
    assert run.status == "PARTIAL" and "could not be read" in run.error
    assert run.removed == 0 and run.opportunities_failed == 1
    with sync_app.app_context():
        rows = db.session.scalars(sa.select(TruckJourney).where(TruckJourney.opportunity_external_id == listed)).all()
        assert rows and all(row.sync_status == "FAILED" and "404" in row.sync_error for row in rows)
        assert all(row.origin_address for row in rows), "the stored enrichment is kept"

    sandbox.faults.reset_stats()
    again = sync(sync_app)                            # unchanged in the sweep: no call for it until the backoff
    assert sandbox.faults.stats.snapshot()["by_kind"]["opportunity"] == 0
    assert again.removed == 0

    sandbox.world.change_opportunity(listed)          # its sweep entry changed: asked again at once
    sandbox.faults.reset_stats()
    sync(sync_app)
    assert sandbox.faults.stats.snapshot()["by_kind"]["opportunity"] == 1


def test_a_sync_stamps_its_rows_as_it_writes_them_not_when_its_clock_was_read(sync_app, sandbox, monkeypatch):
    """Open boards notice a sync's rows when the day's newest last_sync_at moves. A batch stamped
    from a clock read before another writer committed a later stamp (an admin's "keep", say)
    would stay unseen: the stamp is taken inside the batch's write."""
    import dashboard.sync.syncer as service

    sync(sync_app)
    start, end = window(sync_app)
    opportunity_id = sorted(sandbox.world.opportunity_ids_in_window(start, end))[0]
    with sync_app.app_context():
        newest_before = db.session.scalar(sa.select(sa.func.max(TruckJourney.last_sync_at)))
    sandbox.world.change_opportunity(opportunity_id)
    # The sync's own clock reads an hour behind: as if it had read it, then waited for the writer lock.
    real = service.utcnow
    monkeypatch.setattr(service, "utcnow", lambda: real() - timedelta(hours=1))
    run = sync(sync_app)
    assert run.updated >= 1
    with sync_app.app_context():
        rewritten = db.session.scalars(sa.select(TruckJourney.last_sync_at).where(
            TruckJourney.opportunity_external_id == opportunity_id)).all()
    assert rewritten and all(stamp > newest_before for stamp in rewritten)
