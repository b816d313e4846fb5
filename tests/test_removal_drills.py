"""Removal drills (issue 16, items 1 and 7): one removal rule for every path, revival, complete sweeps,
webhook drains that always move on, and a lease no dead drainer can keep.

Each drill runs the real sync and webhook processing against the sandbox over real HTTP
(the fault drills' rig), on SQLite and, when TEST_DATABASE_URL is set, PostgreSQL.
"""
import subprocess
import time

import pytest
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import AuditEvent
from dashboard.models import RunStatus
from dashboard.models import SyncLease
from dashboard.models import SyncStatus
from dashboard.models import Truck
from dashboard.models import TruckJourney
from dashboard.models import WebhookEvent
from dashboard.models import utcnow
from dashboard.sync import lease
from dashboard.webhooks import processor
from dashboard.webhooks import worker
from tests.support import csrf_token_from
from tests.support import login_as
from tests.support.drills import assert_db_matches_truth
from tests.support.drills import assert_run_finished

SECRET = "whsec-drill-31c9"
URL = "/api/smartmoving/webhooks"


@pytest.fixture
def hooks(rig, monkeypatch):
    """The rig with webhooks on; deliveries are stored by the real route, processing is driven by the test."""
    rig.app.config.update(SMARTMOVING_WEBHOOK_SECRET=SECRET)
    monkeypatch.setattr(worker, "kick", lambda app, company_id: None)
    rig.client = rig.app.test_client()
    return rig


def _deliver(rig, *events):
    for event in events:
        assert rig.client.post(URL, headers={"X-Webhook-Secret": SECRET}, json=event).status_code == 202


def _drain(rig):
    """Process every pending event as the background worker would; the list of outcomes."""
    outcomes = []
    with rig.app.app_context():
        while True:
            outcomes.append(worker.process_pending(rig.company_id))
            if outcomes[-1] != "more":
                return outcomes


def _jobs(rig, opportunity_ids=None):
    """{external_id: TruckJourney} of the company's synced jobs (optionally of some opportunities)."""
    with rig.app.app_context():
        stmt = sa.select(TruckJourney).where(TruckJourney.company_id == rig.company_id,
                                             TruckJourney.external_id.is_not(None))
        if opportunity_ids is not None:
            stmt = stmt.where(TruckJourney.opportunity_external_id.in_(list(opportunity_ids)))
        jobs = {job.external_id: job for job in db.session.scalars(stmt)}
        db.session.commit()
    return jobs


def _events(rig):
    return rig.rows(sa.select(WebhookEvent).order_by(WebhookEvent.id))


def _audits(rig, action):
    return rig.rows(sa.select(AuditEvent).where(AuditEvent.action == action))


def _one_day_opportunities(rig, day):
    """Opportunity ids whose window jobs all fall on day."""
    truth = rig.truth()
    return [o for o in rig.world.opportunity_ids_in_window(rig.start, rig.end)
            if {truth[j]["scheduledDate"] for j in rig.world.opportunities[o].job_ids if j in truth} == {day}]


def _restore(world, opportunity_id):
    """Undo world.delete_opportunity: SmartMoving serves the opportunity again (sweep and detail)."""
    with world._lock:
        opportunity = world.opportunities[opportunity_id]
        opportunity.deleted = False
        for job_id in opportunity.job_ids:
            world._by_date.setdefault(world.jobs[job_id].service_date, {})[job_id] = None
        world._touch()


def _hold(rig, opportunity_ids):
    """Flag the opportunities' jobs "removal pending", as a sync's hold does."""
    with rig.app.app_context():
        db.session.execute(sa.update(TruckJourney).where(TruckJourney.opportunity_external_id.in_(opportunity_ids))
                           .values(removal_pending_at=utcnow(), removal_reason="held by a sync"))
        db.session.commit()


# ---------------------------------------------------------------- item 1: the one rule, also for webhooks

def test_a_flood_of_deletion_webhooks_is_held_like_the_sweeps(hooks):
    """Deletions of most of a day by webhook: the first few go, the rest are held for an admin, none vanish."""
    rig = hooks
    victims = _one_day_opportunities(rig, rig.start)[:9]
    victim_jobs = set(_jobs(rig, victims))
    assert len(victim_jobs) > rig.app.config["REMOVAL_HOLD_MIN_JOBS"] + 1
    for opportunity_id in victims:
        rig.world.delete_opportunity(opportunity_id)
    _deliver(rig, *({"event-type": "opportunity-deleted", "opportunity-id": o} for o in victims))
    _drain(rig)

    jobs = _jobs(rig, victims)
    removed = {j for j, job in jobs.items() if job.sync_status == SyncStatus.REMOVED.value}
    held = {j for j, job in jobs.items() if job.removal_pending_at is not None}
    limit = rig.app.config["REMOVAL_HOLD_MIN_JOBS"]
    assert len(removed) <= limit, f"{len(removed)} jobs of one day removed within minutes"
    assert held and removed | held == victim_jobs and not removed & held
    assert all(job.sync_status != SyncStatus.REMOVED.value for j, job in jobs.items() if j in held)
    assert all(e.status == "PROCESSED" for e in _events(rig))
    assert any("held for an admin" in (e.result or "") for e in _events(rig))

    # A good, complete sweep that confirms them gone is the second opinion the hold waited for.
    run = rig.sync()
    assert_run_finished(run, [RunStatus.SUCCESS])
    assert run.removed == len(held)
    assert_db_matches_truth(rig.app, rig.world, rig.start, rig.end)


def test_one_sync_removing_a_third_of_one_day_is_held_though_the_window_is_twice_as_big(rig):
    day_jobs = [j for j, row in rig.truth().items() if row["scheduledDate"] == rig.start]
    victims, count = [], 0
    for opportunity_id in _one_day_opportunities(rig, rig.start):
        if count * 100 > 25 * len(day_jobs) and count > rig.app.config["REMOVAL_HOLD_MIN_JOBS"]:
            break
        victims.append(opportunity_id)
        count += len([j for j in rig.world.opportunities[opportunity_id].job_ids if j in day_jobs])
    window_jobs = len(rig.truth())
    assert count * 100 <= 20 * window_jobs * 1.5   # a share of the window that the old rule let through
    for opportunity_id in victims:
        rig.world.delete_opportunity(opportunity_id)
    run = rig.sync()
    assert_run_finished(run, [RunStatus.PARTIAL], "held")
    assert run.removed == 0 and run.removals_held == count


# ---------------------------------------------------------------- item 2: a lying webhook, a late one

def test_a_deletion_webhook_for_an_opportunity_that_still_answers_removes_nothing(hooks):
    rig = hooks
    live, held = rig.world.opportunity_ids_in_window(rig.start, rig.end)[:2]
    _hold(rig, [held])
    _deliver(rig, {"event-type": "opportunity-deleted", "opportunity-id": live},
             {"event-type": "opportunity-deleted", "opportunity-id": held})
    _drain(rig)
    jobs = _jobs(rig, [live, held])
    assert jobs and all(job.sync_status == SyncStatus.SYNCED.value for job in jobs.values())
    assert all(e.status == "PROCESSED" and "not taken on the event's word" in e.result for e in _events(rig))
    assert_db_matches_truth(rig.app, rig.world, rig.start, rig.end)


def test_a_late_deletion_webhook_rereads_before_confirming_a_held_removal(hooks):
    """The read fails: the held job stays (held, on the board); SmartMoving's 404 later: confirmed, audited."""
    rig = hooks
    rig.app.config.update(WEBHOOK_MAX_ATTEMPTS=3)
    victim = rig.world.opportunity_ids_in_window(rig.start, rig.end)[0]
    _hold(rig, [victim])
    rig.world.delete_opportunity(victim)
    rig.sandbox.faults.fail_paths = {f"/api/opportunities/{victim}"}
    _deliver(rig, {"event-type": "opportunity-deleted", "opportunity-id": victim})
    _drain(rig)
    [event] = _events(rig)
    assert event.status == "PENDING" and event.error
    jobs = _jobs(rig, [victim])
    assert all(job.sync_status == SyncStatus.SYNCED.value and job.removal_pending_at for job in jobs.values())

    rig.sandbox.faults.reset()
    _drain(rig)
    [event] = _events(rig)
    assert event.status == "PROCESSED" and "removed" in event.result
    assert all(job.sync_status == SyncStatus.REMOVED.value for job in _jobs(rig, [victim]).values())
    [audit] = _audits(rig, "sync.removals_confirmed")
    assert audit.detail["source"] == "webhook" and audit.detail["count"] == len(jobs)


# ---------------------------------------------------------------- item 3: revival

def _dispatch(rig, external_ids):
    """Give jobs a truck, crew, notes and a dispatch status, as a dispatcher would."""
    with rig.app.app_context():
        truck = Truck(company_id=rig.company_id, name="Drill truck 7")
        db.session.add(truck)
        db.session.flush()
        db.session.execute(sa.update(TruckJourney).where(TruckJourney.external_id.in_(external_ids)).values(
            truck_id=truck.id, crew=["Ana", "Bo"], notes="Piano; gate 4411", dispatch_status="ASSIGNED"))
        db.session.commit()
        return truck.id


def test_a_deleted_job_that_smartmoving_serves_again_is_revived_with_its_dispatch(hooks):
    rig = hooks
    first, second = rig.world.opportunity_ids_in_window(rig.start, rig.end)[:2]
    truck_id = _dispatch(rig, list(_jobs(rig, [first, second])))
    for opportunity_id in (first, second):
        rig.world.delete_opportunity(opportunity_id)
    assert rig.sync().removed == len(_jobs(rig, [first, second]))
    assert all(j.sync_status == SyncStatus.REMOVED.value for j in _jobs(rig, [first, second]).values())

    # Back in SmartMoving: the first comes back through a sweep, the second through a webhook's detail read.
    _restore(rig.world, first)
    _restore(rig.world, second)
    _deliver(rig, {"event-type": "opportunity-changed", "opportunity-id": second})
    _drain(rig)
    assert all(j.sync_status == SyncStatus.SYNCED.value for j in _jobs(rig, [second]).values())
    run = rig.sync()
    assert_run_finished(run, [RunStatus.SUCCESS])
    for job in _jobs(rig, [first, second]).values():
        assert (job.sync_status, job.removed_at, job.removal_pending_at) == (SyncStatus.SYNCED.value, None, None)
        assert (job.truck_id, job.crew, job.notes, job.dispatch_status) == (
            truck_id, ["Ana", "Bo"], "Piano; gate 4411", "ASSIGNED")
    revived = _audits(rig, "sync.jobs_revived")
    assert {audit.detail["source"] for audit in revived} == {"detail", "sweep"}
    assert sum(a.detail["count"] for a in revived) == len(_jobs(rig, [first, second]))
    assert_db_matches_truth(rig.app, rig.world, rig.start, rig.end)


def test_the_404_backoff_never_keeps_a_listed_job_removed(rig):
    """Detail answered 404 while the sweep listed it (backing off); the job was removed: the next sweep re-reads it."""
    victim = rig.world.opportunity_ids_in_window(rig.start, rig.end)[0]
    detail = rig.world.opportunity_detail
    rig.world.change_opportunity(victim)
    rig.world.opportunity_detail = lambda opp_id, **kw: None if opp_id == victim else detail(opp_id, **kw)
    assert rig.sync().opportunities_failed == 1            # 404 while listed: kept, backing off
    rig.world.opportunity_detail = detail
    with rig.app.app_context():                             # what the old fault left behind
        db.session.execute(sa.update(TruckJourney).where(TruckJourney.opportunity_external_id == victim)
                           .values(sync_status=SyncStatus.REMOVED.value, removed_at=utcnow()))
        db.session.commit()
    run = rig.sync()
    assert_run_finished(run, [RunStatus.SUCCESS])
    assert all(j.sync_status == SyncStatus.SYNCED.value for j in _jobs(rig, [victim]).values())
    assert_db_matches_truth(rig.app, rig.world, rig.start, rig.end)


# ---------------------------------------------------------------- item 4: short and empty sweeps

def _sweep_served(rig, change):
    """Serve the sweep through change(page, total, items) -> (total, items)."""
    original = rig.world.customers_page

    def served(from_day, to_day, number, page_size, include_opportunities=True):
        total, items = original(from_day, to_day, number, page_size, include_opportunities)
        return change(number, total, items)

    rig.world.customers_page = served
    return original


@pytest.mark.parametrize("fault", ["page 2 blank", "page 2 missing", "empty", "empty + gateway 404"])
def test_short_and_empty_sweeps_fail_the_run_and_remove_nothing(rig, fault):
    held = rig.world.opportunity_ids_in_window(rig.start, rig.end)[-1]
    _hold(rig, [held])
    before = _jobs(rig)
    if fault == "page 2 blank":
        original = _sweep_served(rig, lambda page, total, items: (total, [] if page == 2 else items))
    elif fault == "page 2 missing":   # page 2 answers page 3's customers: one page silently skipped
        original = rig.world.customers_page
        _sweep_served(rig, lambda page, total, items: (total, original(rig.start, rig.end, page + 1, 10)[1]
                                                       if page >= 2 else items))
    else:
        original = _sweep_served(rig, lambda page, total, items: (0, []))
        if fault == "empty + gateway 404":
            rig.sandbox.faults.gateway_404_paths = {"/api/opportunities/"}
    for _attempt in range(2):   # two bad runs in a row are no second opinion for the held job
        run = rig.sync()
        assert_run_finished(run, [RunStatus.FAILED], "customer list")
        assert run.removed == 0
    after = _jobs(rig)
    assert {j for j, job in after.items() if job.sync_status == SyncStatus.REMOVED.value} == {
        j for j, job in before.items() if job.sync_status == SyncStatus.REMOVED.value}
    assert all(after[j].removal_pending_at for j in _jobs(rig, [held]))
    rig.world.customers_page = original
    rig.sandbox.faults.reset()
    assert_run_finished(rig.sync(), [RunStatus.SUCCESS])
    assert_db_matches_truth(rig.app, rig.world, rig.start, rig.end)


# ---------------------------------------------------------------- item 7: drains that move on, lease, costs

def test_webhooks_naming_nothing_we_store_finish_at_once_and_sync_now_still_starts(hooks, make_user):
    """25 customer-updated / job-* events for unknown records arrive during a sync; "Sync now" still starts."""
    rig = hooks
    unknown = ([{"event-type": "customer-updated", "customer-id": f"cust-x{i}"} for i in range(10)]
               + [{"event-type": kind, "job-id": f"job-x{i}"} for i, kind in
                  enumerate(["job-created", "job-finalized", "job-closed", "job-reset", "job-created"] * 3)])
    rig.during_first_detail(lambda: _deliver(rig, *unknown))
    rig.world.change_opportunity(rig.world.opportunity_ids_in_window(rig.start, rig.end)[0])
    started = time.monotonic()
    assert_run_finished(rig.sync(), [RunStatus.SUCCESS])
    assert time.monotonic() - started < 20
    events = _events(rig)
    assert len(events) == 25 and all(e.status == "PROCESSED" for e in events)
    with rig.app.app_context():
        assert lease.lease_holder(lease.lease_name_for(rig.company_id)) is None

    client = rig.app.test_client()
    login_as(client, make_user("ADMIN"))
    token = csrf_token_from(client.get("/sync/").get_data(as_text=True))
    answer = client.post("/sync/run", data={"csrf_token": token}, headers={"Accept": "application/json"})
    assert answer.status_code == 202, answer.get_data(as_text=True)


def test_a_batch_that_finishes_nothing_never_asks_for_more(hooks, monkeypatch):
    """Every read of a full batch fails at once (a fatal error): the drain stops instead of spinning."""
    rig = hooks
    ids = rig.world.opportunity_ids_in_window(rig.start, rig.end)
    _deliver(rig, *({"event-type": "opportunity-changed", "opportunity-id": o, "n": i}
                    for i, o in enumerate((ids * 3)[:processor.BATCH_EVENTS + 3])))
    rig.sandbox.faults.fail_paths = {"/api/opportunities/"}
    rig.app.config["SMARTMOVING_CALL_BUDGET"] = 1
    with rig.app.app_context():
        counts = processor.drain(rig.company_id, "drill-owner")
    assert counts["more"] is False and counts["processed"] == counts["failed"] == 0
    with rig.app.app_context():
        lease.acquire_lease(lease.lease_name_for(rig.company_id), "sync-owner", 30)
        started = time.monotonic()
        worker.drain_quietly(rig.company_id, "sync-owner")
        assert time.monotonic() - started < 5
        lease.release_lease(lease.lease_name_for(rig.company_id), "sync-owner")


def test_deletion_webhooks_for_opportunities_we_never_stored_cost_no_call(hooks):
    rig = hooks
    _deliver(rig, *({"event-type": "opportunity-deleted", "opportunity-id": f"never-stored-{i}"} for i in range(50)))
    _drain(rig)
    assert rig.sandbox.stats.snapshot()["total"] == 0
    assert all(e.status == "PROCESSED" and "do not store" in e.result for e in _events(rig))


def test_a_flood_of_webhooks_is_bounded_by_the_quota_plan(hooks, monkeypatch):
    """Reads beyond the plan's allowance are left to a sweep; the opportunities we store are read first."""
    rig = hooks
    stored = rig.world.opportunity_ids_in_window(rig.start, rig.end)[:2]
    flood = [f"unknown-{i}" for i in range(30)] + stored
    monkeypatch.setattr(processor, "read_allowance", lambda company_id: 2)
    _deliver(rig, *({"event-type": "opportunity-changed", "opportunity-id": o} for o in flood))
    rig.sandbox.faults.reset_stats()
    with rig.app.app_context():
        processor.drain(rig.company_id, "drill-owner", limit=100)
    assert rig.sandbox.stats.snapshot()["total"] == rig.sandbox.stats.snapshot()["by_kind"]["opportunity"] == 2
    read = {e.opportunity_id for e in _events(rig) if "re-read" in (e.result or "")}
    assert read == set(stored)
    assert all(e.status == "PROCESSED" for e in _events(rig))

    # The allowance itself: a month whose calls already reach the plan's budget leaves none.
    monkeypatch.undo()
    from dashboard.models import ApiCall
    rig.app.config["SMARTMOVING_MONTHLY_QUOTA"] = 1000
    with rig.app.app_context():
        db.session.execute(sa.insert(ApiCall), [{"company_id": rig.company_id, "method": "GET", "path": "/api/x",
                                                  "status_code": 200, "called_at": utcnow()} for _ in range(950)])
        db.session.commit()
        assert processor.read_allowance(rig.company_id) == 0
        rig.app.config["SMARTMOVING_MONTHLY_QUOTA"] = 10_000_000
        assert processor.read_allowance(rig.company_id) > 100


@pytest.mark.parametrize("owner", ["host:123:140234:ab12cd34", "webhook:host:123:140234:ab12cd34"])
def test_every_owner_id_form_names_its_process(owner):
    assert lease.owner_process(owner) == ("host", 123)


@pytest.mark.parametrize("owner", [None, "", "another-runner", "a:b:c", "webhook:host:x:1:ab", "host:1:2:"])
def test_other_owner_strings_name_no_process(owner):
    assert lease.owner_process(owner) is None


def _hold_lease_for(app, company_id, pid):
    """A webhook drainer of process pid holds the company's lease for another two minutes."""
    import socket
    owner = f"{worker.OWNER_PREFIX}{socket.gethostname()}:{pid}:1:deadbeef"
    with app.app_context():
        lease.acquire_lease(lease.lease_name_for(company_id), "setup", 1)
        with db.write_transaction() as session:
            session.execute(sa.update(SyncLease).where(SyncLease.name == lease.lease_name_for(company_id))
                            .values(owner=owner, expires_at=utcnow() + __import__("datetime").timedelta(minutes=2)))
    return owner


@pytest.mark.slow
def test_sync_now_answers_at_once_whether_the_drainer_is_dead_or_alive(rig, make_user):
    """A drainer killed with -9 is released as dead (a sync starts); a live one gets a prompt 409, not 15 s."""
    client = rig.app.test_client()
    login_as(client, make_user("ADMIN"))

    def sync_now():
        token = csrf_token_from(client.get("/sync/").get_data(as_text=True))
        started = time.monotonic()
        answer = client.post("/sync/run", data={"csrf_token": token}, headers={"Accept": "application/json"})
        if answer.status_code == 409:   # says why: not a sync, webhook updates
            assert "webhook updates" in answer.get_json()["message"], answer.get_json()
        return answer.status_code, time.monotonic() - started

    alive = subprocess.Popen(["sleep", "60"])
    dead = subprocess.Popen(["sleep", "60"])
    dead.kill()
    dead.wait()
    try:
        _hold_lease_for(rig.app, rig.company_id, alive.pid)
        status, seconds = sync_now()
        assert status == 409 and seconds < 5, (status, seconds)
        _hold_lease_for(rig.app, rig.company_id, dead.pid)
        status, seconds = sync_now()
        assert status == 202 and seconds < 5, (status, seconds)
    finally:
        alive.kill()
        alive.wait()
    with rig.app.app_context():
        deadline = time.monotonic() + 30
        while lease.lease_holder(lease.lease_name_for(rig.company_id)) and time.monotonic() < deadline:
            time.sleep(0.1)
