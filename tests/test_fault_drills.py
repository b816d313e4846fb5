"""Fault drills: the real sync against the sandbox with faults switched on, then a check against the truth.

Each drill: a clean baseline sync; then the world changes and a fault is switched
on; the drilled run must end with a clear status and error and must not lose,
duplicate, wrongly remove or half-write anything; then, faults off, the next run
must leave the database exactly equal to the sandbox's truth. Every drill runs on
SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL (the `app` fixture).
"""
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import Company
from dashboard.models import RunStatus
from dashboard.models import SyncRun
from dashboard.models import SyncStatus
from dashboard.models import TruckJourney
from dashboard.sandbox.server import start_sandbox
from dashboard.sandbox.world import SandboxWorld
from dashboard.sync.lease import lease_holder
from dashboard.sync.lease import lease_name_for
from tests.support.drills import CANCELLED
from tests.support.drills import DRILL_WRITE_BATCH
from tests.support.drills import PAGE_SIZE
from tests.support.drills import ROOT
from tests.support.drills import Rig
from tests.support.drills import assert_db_matches_truth
from tests.support.drills import assert_no_damage
from tests.support.drills import assert_run_finished
from tests.support.drills import block_server_call
from tests.support.drills import cli_env
from tests.support.drills import kill_9
from tests.support.drills import release_and_reap
from tests.support.drills import stored_jobs

pytestmark = pytest.mark.slow

def _change_world(rig):
    """Upstream edits between syncs: one changed, one cancelled, one deleted, one moved away, one new."""
    opportunities = rig.world.opportunity_ids_in_window(rig.start, rig.end)
    rig.world.change_opportunity(opportunities[0])
    rig.world.set_opportunity_status(opportunities[1], CANCELLED)
    rig.world.delete_opportunity(opportunities[2])
    moved = rig.world.opportunities[opportunities[3]].job_ids[0]
    rig.world.move_job(moved, rig.end + timedelta(days=2))
    rig.world.add_opportunity(rig.start, branch_index=1)


def _recover_and_check(rig):
    """Faults off: the next run completes the data exactly."""
    rig.sandbox.faults.reset()
    rig.app.config["SMARTMOVING_READ_TIMEOUT"] = 10.0
    run = rig.sync()
    assert_run_finished(run, [RunStatus.SUCCESS])
    assert_db_matches_truth(rig.app, rig.world, rig.start, rig.end)
    assert all(r.status != RunStatus.RUNNING.value for r in rig.runs())
    return run


def _drill(rig, arm, statuses, error_contains=None):
    """Change the world, arm the fault, run, check the drilled run, then recover."""
    synced = rig.truth()
    _change_world(rig)
    before = rig.truth()
    arm(rig)
    run = rig.sync()
    assert_run_finished(run, statuses, error_contains)
    assert_no_damage(rig.app, [synced, before, rig.truth()], set(synced))
    if run.status == RunStatus.SUCCESS.value:
        assert_db_matches_truth(rig.app, rig.world, rig.start, rig.end)
    _recover_and_check(rig)
    return run


# ---------------------------------------------------------------- drills: HTTP faults

def test_a_429_storm_within_the_retry_allowance_still_succeeds(rig):
    run = _drill(rig, lambda r: r.sandbox.faults.rate_limit_next(3, seconds=1), [RunStatus.SUCCESS])
    assert run.rate_limited == 3


def test_a_429_storm_beyond_the_retry_allowance_fails_cleanly(rig):
    run = _drill(rig, lambda r: r.sandbox.faults.rate_limit_next(8, seconds=1), [RunStatus.FAILED], "429")
    assert run.rate_limited >= 5


def test_a_5xx_burst_is_retried_and_the_run_succeeds(rig):
    _drill(rig, lambda r: r.sandbox.faults.fail_next(3, status=503), [RunStatus.SUCCESS])


def test_one_opportunity_failing_with_5xx_makes_a_partial_run(rig):
    def arm(r):
        changed = r.world.opportunity_ids_in_window(r.start, r.end)[0]  # changed by _change_world: needs detail
        r.sandbox.faults.fail_paths = {f"/api/opportunities/{changed}"}

    run = _drill(rig, arm, [RunStatus.PARTIAL], "retried")
    assert run.opportunities_failed == 1


def test_the_sweep_failing_with_5xx_fails_the_run_and_removes_nothing(rig):
    _drill(rig, lambda r: r.sandbox.faults.fail_next(8, status=502), [RunStatus.FAILED], "sweep")


def test_timeouts_are_retried(rig):
    def arm(r):
        r.app.config["SMARTMOVING_READ_TIMEOUT"] = 1.0
        r.sandbox.faults.timeout_next(2, seconds=2)

    _drill(rig, arm, [RunStatus.SUCCESS])


def test_timeouts_beyond_the_retry_allowance_fail_the_run_cleanly(rig):
    def arm(r):
        r.app.config["SMARTMOVING_READ_TIMEOUT"] = 0.5
        r.sandbox.faults.timeout_next(5, seconds=1)

    _drill(rig, arm, [RunStatus.FAILED], "could not reach")


def test_malformed_json_on_the_sweep_fails_the_run_cleanly(rig):
    _drill(rig, lambda r: r.sandbox.faults.malformed_next(1), [RunStatus.FAILED], "not JSON")


def test_malformed_json_on_an_opportunity_makes_a_partial_run(rig):
    run = _drill(rig, lambda r: r.during_first_detail(lambda: r.sandbox.faults.malformed_next(1)),
                 [RunStatus.PARTIAL])
    assert run.opportunities_failed == 1


@pytest.mark.parametrize("mode", ["half", "missing"])
def test_a_truncated_middle_page_stops_the_sweep_and_removes_nothing(rig, mode):
    run = _drill(rig, lambda r: r.during_sweep_page(2, lambda: r.sandbox.faults.truncate_next(1, mode=mode)),
                 [RunStatus.FAILED], "sweep")
    assert run.removed == 0


# ---------------------------------------------------------------- drills: the data moves during the sweep

def test_records_deleted_and_moved_between_pages_during_the_sweep(rig):
    """After page 1 is read: an opportunity on page 1 is deleted (everything after it shifts one
    place back, so the first customer of page 2 slides onto page 1, already read), a job of page 2
    moves out of the window, and a new booking appears. None of this may lose a live job or mark
    one removed; the next run must converge exactly."""
    def arm(r):
        page_one, page_two = r.opportunities_on_page(1), r.opportunities_on_page(2)
        assert page_one and page_two, "the window must span several sweep pages"
        world = r.world

        def shift():
            world.delete_opportunity(page_one[0])
            world.move_job(world.opportunities[page_two[-1]].job_ids[0], r.end + timedelta(days=3))
            world.add_opportunity(r.start, branch_index=2)

        r.during_sweep_page(1, shift)

    _drill(rig, arm, [RunStatus.SUCCESS, RunStatus.PARTIAL, RunStatus.FAILED])


def test_jobs_rescheduled_within_the_window_during_the_sweep(rig):
    """Jobs of pages 2 and 3 move from today to tomorrow (and back) while page 1 is being read."""
    def arm(r):
        def reschedule():
            for opportunity_id in r.opportunities_on_page(2)[:2] + r.opportunities_on_page(3)[:1]:
                job_id = r.world.opportunities[opportunity_id].job_ids[0]
                job = r.world.jobs[job_id]
                r.world.move_job(job_id, r.end if job.service_date == r.start else r.start)

        r.during_sweep_page(1, reschedule)

    _drill(rig, arm, [RunStatus.SUCCESS, RunStatus.PARTIAL])


# ---------------------------------------------------------------- drills: the database

def _hold_write_lock(app, seconds, held):
    """From another connection, keep the database's write lock for `seconds` (readers go on)."""
    engine = sa.create_engine(app.config["DATABASE_URL"])
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("PRAGMA busy_timeout=10000")
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                held.set()
                time.sleep(seconds)
                connection.exec_driver_sql("COMMIT")
            else:
                with connection.begin():
                    # EXCLUSIVE blocks every writer of these tables but lets readers through.
                    connection.exec_driver_sql("LOCK TABLE truck_journeys, sync_runs IN EXCLUSIVE MODE")
                    held.set()
                    time.sleep(seconds)
    finally:
        engine.dispose()


def test_the_database_locked_mid_run_delays_the_sync_but_boards_keep_answering(rig):
    held = threading.Event()
    reads = []

    def lock_and_read():
        locker = threading.Thread(target=_hold_write_lock, args=(rig.app, 2.0, held))
        locker.start()
        held.wait(5)
        # While a writer holds the lock, reads (a board query, the readiness probe) still answer.
        client = rig.app.test_client()
        reads.append(client.get("/readyz").status_code)
        with rig.app.app_context():
            reads.append(db.session.scalar(sa.select(sa.func.count(TruckJourney.id))))
            db.session.commit()
        rig._locker = locker

    def arm(r):
        r.during_sweep_page(1, lock_and_read)

    _drill(rig, arm, [RunStatus.SUCCESS])
    rig._locker.join(10)
    assert held.is_set()
    assert reads[0] == 200 and reads[1] > 0


# ---------------------------------------------------------------- drills: killed mid-run (kill -9)

def _rows_written_since(app, since):
    """Job rows a sync wrote at or after since (nothing else writes during a drill)."""
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count(TruckJourney.id)).where(TruckJourney.last_sync_at >= since))
        db.session.commit()
    return count


@pytest.mark.parametrize("kill_point,reaper", [("sweep", "next-sync"), ("between-batches", "next-sync"),
                                               ("between-batches", "start-up")])
def test_a_sync_killed_mid_run_is_reaped_at_once_with_an_accurate_count(rig, kill_point, reaper):
    from dashboard.sync import service

    synced = rig.truth()
    _change_world(rig)
    # A second, larger change: most opportunities need detail again, so the run writes several batches.
    for opportunity_id in rig.world.opportunity_ids_in_window(rig.start, rig.end)[4:]:
        rig.world.change_opportunity(opportunity_id)
    for branch_index in range(3):
        rig.world.add_opportunity(rig.end, branch_index=branch_index)
    before = rig.truth()
    if kill_point == "sweep":
        reached, release = block_server_call(rig.world, "customers_page", after_calls=0)
    else:
        reached, release = block_server_call(rig.world, "opportunity_detail",
                                              after_calls=DRILL_WRITE_BATCH)
    # A long lease: "Sync now" must not have to wait it out after kill -9.
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "dashboard", "sync"], cwd=ROOT,
                               env=cli_env(rig, SYNC_LEASE_SECONDS=600), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)
    try:
        if not reached.wait(30):
            process.kill()
            out, err = process.communicate(timeout=10)
            raise AssertionError(f"the sync never reached the kill point: {out.decode()} {err.decode()[-2000:]}")
        # Between batches: the first batch was committed before the call that now hangs was made.
        kill_9(process, timeout=10)
    finally:
        release_and_reap(process, release)
    killed = rig.runs()[-1]
    assert killed.status == RunStatus.RUNNING.value  # it died without a word...
    assert killed.runner_pid == process.pid
    assert_no_damage(rig.app, [synced, before, rig.truth()], set(synced))  # ...but left nothing half-written
    written = _rows_written_since(rig.app, killed.started_at)
    assert (written > 0) == (kill_point == "between-batches")
    with rig.app.app_context():
        assert lease_holder(lease_name_for(rig.company_id)) is not None  # its lease has 10 minutes to go

    if reaper == "start-up":
        with rig.app.app_context():
            assert service.reap_dead_runs() == 1
            assert lease_holder(lease_name_for(rig.company_id)) is None
    # The next sync (the scheduler's, the CLI's, "Sync now") starts at once and completes the data.
    _recover_and_check(rig)
    reaped = next(r for r in rig.runs() if r.id == killed.id)
    assert reaped.status == RunStatus.FAILED.value and reaped.finished_at is not None
    assert "interrupted" in reaped.error.lower() and f"pid {process.pid}" in reaped.error
    assert reaped.created + reaped.updated == written
    if written:
        assert f"{written} job changes it had saved" in reaped.error
    else:
        assert "saved no job changes" in reaped.error


def test_a_trickling_server_trips_the_call_deadline_while_the_lease_holds(rig):
    """A body sent a byte a second: the call's total deadline trips, the lease outlives the slow run,
    and no second sync is accepted meanwhile."""
    from dashboard.models import utcnow
    from dashboard.sync.service import SyncAlreadyRunning
    from dashboard.sync.service import run_sync

    rig.app.config.update(SMARTMOVING_CALL_TIMEOUT=1.0, SYNC_LEASE_SECONDS=1)
    opportunity_id = rig.world.opportunity_ids_in_window(rig.start, rig.end)[0]
    rig.world.change_opportunity(opportunity_id)
    # Two bytes a second: each read is well within the read timeout, only the total deadline can trip.
    rig.sandbox.faults.trickle_next(4, bytes_per_second=2)  # the first sweep page, then 3 of its retries
    done = threading.Event()
    observed = {"refused": 0, "checks": 0}

    def watch():
        with rig.app.app_context():
            while not done.is_set():
                observed["checks"] += 1
                if lease_holder(lease_name_for(rig.company_id)) is None:
                    observed.setdefault("gaps", []).append(utcnow())
                try:
                    observed.setdefault("accepted", []).append(run_sync(rig.company_id))
                except SyncAlreadyRunning:
                    observed["refused"] += 1
                time.sleep(0.2)

    watcher = threading.Thread(target=watch)
    rig.during_sweep_page(1, watcher.start)   # our run holds the lease by then
    started = time.monotonic()
    try:
        run = rig.sync()
    finally:
        done.set()
    took = time.monotonic() - started
    watcher.join(10)
    assert_run_finished(run, [RunStatus.SUCCESS])
    assert took > 3 * rig.app.config["SYNC_LEASE_SECONDS"]   # the run outlived its lease length several times
    # A second sync is accepted only once ours has finished (the watcher may get in before it stops).
    assert all(second.started_at >= run.finished_at for second in observed.get("accepted", []))
    assert observed["refused"] >= 3
    assert all(gap >= run.finished_at for gap in observed.get("gaps", []))   # the lease never lapsed under it
    with rig.app.app_context():
        from dashboard.models import ApiCall
        errors = db.session.scalars(sa.select(ApiCall.error).where(ApiCall.sync_run_id == run.id)).all()
        db.session.commit()
    assert errors.count("CallTimeout") == 4
    assert_db_matches_truth(rig.app, rig.world, rig.start, rig.end)


# ---------------------------------------------------------------- drills: configuration

def test_a_company_without_credentials_gets_a_failed_run_with_a_clear_error(app, monkeypatch):
    """A sync that cannot even build its client must still end its run with the reason, not leave it RUNNING."""
    from dashboard.sync.service import run_sync

    monkeypatch.delenv("KEYLESS_MOVERS_API_KEY", raising=False)
    with app.app_context():
        with db.write_transaction() as session:
            company = Company(name="Keyless Movers", api_key_env="KEYLESS_MOVERS_API_KEY")
            session.add(company)
        try:
            run_sync(company.id, trigger="cli")
        except Exception:  # raising is acceptable; leaving the run RUNNING without a reason is not
            pass
        runs = list(db.session.scalars(sa.select(SyncRun).where(SyncRun.company_id == company.id)))
        db.session.commit()
    assert len(runs) <= 1
    for run in runs:
        assert_run_finished(run, [RunStatus.FAILED], "KEYLESS_MOVERS_API_KEY")


# ---------------------------------------------------------------- drills: removal safety and shapes

def _removed_ids(app):
    return {job["external_id"] for job in stored_jobs(app) if job["sync_status"] == SyncStatus.REMOVED.value}


def _pending_ids(app):
    with app.app_context():
        ids = set(db.session.scalars(sa.select(TruckJourney.external_id).where(
            TruckJourney.removal_pending_at.is_not(None))))
        db.session.commit()
    return ids


def test_a_gateway_404_on_every_detail_call_removes_nothing(rig):
    """APIM answering {"statusCode": 404} to every detail call says nothing about the opportunities."""
    run = _drill(rig, lambda r: setattr(r.sandbox.faults, "gateway_404_paths", {"/api/opportunities/"}),
                 [RunStatus.PARTIAL], "could not be read")
    assert run.removed == 0
    assert run.opportunities_failed >= 1


def test_a_junk_sweep_fails_the_run_with_no_detail_calls_and_no_removals(rig):
    removed_before = _removed_ids(rig.app)
    run = _drill(rig, lambda r: r.sandbox.faults.junk_next(1), [RunStatus.FAILED], "documented shape")
    assert run.removed == 0 and run.jobs_seen == 0
    with rig.app.app_context():
        from dashboard.models import ApiCall
        paths = list(db.session.scalars(sa.select(ApiCall.path).where(ApiCall.sync_run_id == run.id)))
        db.session.commit()
    assert paths and all(path.startswith("/api/customers") or path.startswith("/api/branches")
                         or path.startswith("/api/crew") for path in paths), paths
    assert removed_before <= _removed_ids(rig.app)


def test_a_page_with_some_malformed_customers_is_used_for_the_rest(rig):
    original = rig.world.customers_page

    def with_junk(from_day, to_day, number, page_size, include_opportunities=True):
        total, items = original(from_day, to_day, number, page_size, include_opportunities)
        return total, ([42, {"name": "no id"}, {"id": "c-x", "opportunities": "not a list"}] + items
                       if number == 1 else items)

    rig.world.customers_page = with_junk
    rig.world.change_opportunity(rig.world.opportunity_ids_in_window(rig.start, rig.end)[0])
    run = rig.sync()
    assert_run_finished(run, [RunStatus.PARTIAL], "documented shape")
    assert run.malformed_records == 3
    assert any("malformed customer" in w for w in run.warnings)
    assert run.removed == 0
    assert_db_matches_truth(rig.app, rig.world, rig.start, rig.end)
    rig.world.customers_page = original
    _recover_and_check(rig)


def test_malformed_opportunity_detail_is_a_failed_call_never_a_removal(rig):
    """Detail without its jobs list must not read as "every job of this opportunity is gone"."""
    victim = rig.world.opportunity_ids_in_window(rig.start, rig.end)[0]
    sweep, detail = rig.world.customers_page, rig.world.opportunity_detail

    def sweep_without_victim(*args, **kwargs):
        total, items = sweep(*args, **kwargs)
        for customer in items:
            customer["opportunities"] = [o for o in customer.get("opportunities") or () if o["id"] != victim]
        return total, items

    def detail_without_jobs(opp_id, **kwargs):
        body = detail(opp_id, **kwargs)
        if str(opp_id) == victim:
            body.pop("jobs")
        return body

    rig.world.customers_page, rig.world.opportunity_detail = sweep_without_victim, detail_without_jobs
    run = rig.sync()
    rig.world.customers_page, rig.world.opportunity_detail = sweep, detail
    assert_run_finished(run, [RunStatus.PARTIAL], "documented shape")
    assert run.removed == 0 and not _removed_ids(rig.app)
    assert any("without a jobs list" in w for w in run.warnings)
    _recover_and_check(rig)


def test_mass_removal_is_held_then_confirmed_by_the_next_run(rig):
    truth = rig.truth()
    opportunities = [o for o in rig.world.opportunity_ids_in_window(rig.start, rig.end)   # the hold is per day
                     if {truth[j]["scheduledDate"] for j in rig.world.opportunities[o].job_ids if j in truth}
                     == {rig.start}]
    doomed = opportunities[:8]
    doomed_jobs = {j for o in doomed for j in rig.world.opportunities[o].job_ids if j in rig.truth()}
    for opportunity_id in doomed:
        rig.world.delete_opportunity(opportunity_id)
    run = rig.sync()
    assert_run_finished(run, [RunStatus.PARTIAL], "held")
    assert run.removed == 0 and run.removals_held == len(doomed_jobs)
    assert _pending_ids(rig.app) == doomed_jobs
    assert not _removed_ids(rig.app) & doomed_jobs, "held jobs stay on the board"

    confirm = rig.sync()                               # SmartMoving says the same again: removed now
    assert_run_finished(confirm, [RunStatus.SUCCESS])
    assert confirm.removed == len(doomed_jobs) and confirm.removals_held == 0
    assert not _pending_ids(rig.app)
    assert_db_matches_truth(rig.app, rig.world, rig.start, rig.end)


def test_a_few_removals_go_through_at_once(rig):
    victim = rig.world.opportunity_ids_in_window(rig.start, rig.end)[0]
    rig.world.delete_opportunity(victim)
    run = rig.sync()
    assert_run_finished(run, [RunStatus.SUCCESS])
    assert run.removed >= 1 and run.removals_held == 0
    assert_db_matches_truth(rig.app, rig.world, rig.start, rig.end)


def test_a_held_removal_is_cleared_when_smartmoving_lists_the_job_again(rig):
    some = sorted(rig.truth())[:3]
    with rig.app.app_context():
        db.session.execute(sa.update(TruckJourney).where(TruckJourney.external_id.in_(some))
                           .values(removal_pending_at=sa.func.now(), removal_reason="test"))
        db.session.commit()
    run = rig.sync()
    assert_run_finished(run, [RunStatus.SUCCESS])
    assert not _pending_ids(rig.app)
    assert_db_matches_truth(rig.app, rig.world, rig.start, rig.end)


def _steal_lease(app, company_id, until):
    """Another runner takes the company's lease (as one would after judging ours dead)."""
    from dashboard.models import SyncLease
    with app.app_context():
        with db.write_transaction() as session:
            session.execute(sa.update(SyncLease).where(SyncLease.name == lease_name_for(company_id))
                            .values(owner="another-runner", expires_at=until))


def test_a_run_that_lost_its_lease_stops_writing_and_says_so(rig, make_user):
    from dashboard.models import utcnow
    from tests.support import login_as

    rig.app.config.update(SYNC_LEASE_SECONDS=1)
    synced = rig.truth()
    for opportunity_id in rig.world.opportunity_ids_in_window(rig.start, rig.end):
        rig.world.change_opportunity(opportunity_id)

    def steal():
        _steal_lease(rig.app, rig.company_id, utcnow() + timedelta(minutes=5))
        time.sleep(1.0)   # the first answer comes late: the lease keeper has tried to renew by then

    rig.during_first_detail(steal)
    run = rig.sync()
    assert_run_finished(run, [RunStatus.FAILED], "lost its lease")
    assert _rows_written_since(rig.app, run.started_at) == 0   # not one batch after the lease went
    assert run.created == run.updated == run.removed == 0
    assert_no_damage(rig.app, [synced], set(synced))   # every job still as last synced
    client = rig.app.test_client()
    login_as(client, make_user("ADMIN"))
    assert "lost its lease" in client.get("/sync/").get_data(as_text=True)
    _steal_lease(rig.app, rig.company_id, utcnow() - timedelta(seconds=1))
    _recover_and_check(rig)


def test_a_first_sync_larger_than_the_call_budget_is_partial_and_the_next_run_continues(app, monkeypatch):
    """A company whose first sync needs more calls than one run's budget: PARTIAL, never FAILED,
    nothing removed, and each next run reads what the last one left, first."""
    monkeypatch.setattr("dashboard.smartmoving.client.MAX_PAGE_SIZE", PAGE_SIZE)
    world = SandboxWorld(seed=77, branches=3, jobs_per_day=15)
    sandbox = start_sandbox(world=world, api_key="budget-key-0a1b")
    app.config.update(SMARTMOVING_BASE_URL=sandbox.base_url, SMARTMOVING_API_KEY=sandbox.api_key, DEMO_MODE=False,
                      SMARTMOVING_MIN_INTERVAL=0, SMARTMOVING_CALL_BUDGET=15)
    try:
        with app.app_context():
            company_id = db.session.scalar(sa.select(Company.id).where(Company.is_default.is_(True)))
            db.session.commit()
        rig = Rig(app, world, sandbox, company_id)
        opportunities = len(world.opportunity_ids_in_window(rig.start, rig.end))
        runs = [rig.sync()]
        assert_run_finished(runs[0], [RunStatus.PARTIAL], "budget")
        assert runs[0].removed == 0 and runs[0].opportunities_enriched < opportunities
        stored = {job["external_id"] for job in stored_jobs(app)}
        assert stored == set(rig.truth())          # every job is on the board, from the customer list
        while runs[-1].status == RunStatus.PARTIAL.value and len(runs) < 6:
            runs.append(rig.sync())
        assert runs[-1].status == RunStatus.SUCCESS.value
        assert sum(r.opportunities_enriched for r in runs) == opportunities   # none read twice
        assert_db_matches_truth(app, world, rig.start, rig.end)
    finally:
        sandbox.stop()
