"""SmartMoving webhooks: the receiver's answers, storing once, and acting on events under the sync lease.

The drills run the real app over real HTTP (a werkzeug server thread, or a `flask run`
subprocess for kill -9) against the sandbox, whose world posts its changes as
SmartMoving Premium would; on SQLite and PostgreSQL (the `app` fixture).
"""
import json
import logging
import socket
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from dashboard.db import db
from dashboard.models import AuditEvent
from dashboard.models import SyncRun
from dashboard.models import SyncStatus
from dashboard.models import TruckJourney
from dashboard.models import WebhookEvent
from dashboard.sync.lease import lease_holder
from dashboard.sync.lease import lease_name_for
from dashboard.webhooks import worker
from tests.support import login_as
from tests.support.drills import ROOT
from tests.support.drills import assert_db_matches_truth
from tests.support.drills import block_server_call
from tests.support.drills import cli_env
from tests.support.drills import kill_9
from tests.support.drills import release_and_reap
from tests.support.drills import wait_until

SECRET = "whsec-test-7f3a"
URL = "/api/smartmoving/webhooks"


def _events(app):
    with app.app_context():
        rows = list(db.session.scalars(sa.select(WebhookEvent).order_by(WebhookEvent.id)))
        db.session.commit()
    return rows


@pytest.fixture
def quiet_kick(monkeypatch):
    """Record kicks instead of processing in a thread, so a test drives processing itself."""
    kicked = []
    monkeypatch.setattr(worker, "kick", lambda app, company_id: kicked.append(company_id))
    return kicked


def test_the_receiver_authenticates_bounds_and_stores_once(app, client, quiet_kick, caplog):
    post = lambda body, secret=SECRET, **kw: client.post(  # noqa: E731
        URL, data=body, headers={"X-Webhook-Secret": secret} if secret is not None else {}, **kw)
    event = json.dumps({"event-type": "opportunity-changed", "opportunity-id": "opp-1", "opportunity-status": 1})

    app.config["SMARTMOVING_WEBHOOK_SECRET"] = None
    assert post(event).status_code == 404
    app.config["SMARTMOVING_WEBHOOK_SECRET"] = SECRET
    for wrong in (None, "", "whsec-test-7f3b", SECRET + "x"):
        answer = post(event, secret=wrong)
        assert answer.status_code == 401 and answer.get_json()["error"] == "unauthorized"
    assert post("x" * (64 * 1024 + 1)).status_code == 413
    for junk in ("not json", "[1, 2]", '"text"', "\xff\xfe", '{"event-type": "job-changed\\u0000"}',
                 '{"event-type": "job-changed", "job-id": "\\ud800"}'):
        answer = post(junk.encode("latin-1"), content_type="application/json")
        assert answer.status_code == 422, junk
    assert not _events(app) and not quiet_kick

    first = post(event, content_type="application/json")
    assert first.status_code == 202 and first.get_json()["duplicate"] is False
    # The same body again (key order aside) is the same event: stored once, counted, not kicked again.
    again = post(json.dumps({"opportunity-status": 1, "opportunity-id": "opp-1", "event-type": "opportunity-changed"}))
    assert again.status_code == 202 and again.get_json() == dict(first.get_json(), duplicate=True)
    # Whatever Content-Type a sender puts on it (a form type included), the body is read as JSON.
    unknown = post(json.dumps({"event-type": "follow-up-created", "follow-up-id": "f-9"}),
                   content_type="application/x-www-form-urlencoded")
    assert unknown.status_code == 202
    stored = _events(app)
    assert [(e.event_type, e.opportunity_id, e.deliveries, e.status) for e in stored] == [
        ("opportunity-changed", "opp-1", 2, "PENDING"), ("follow-up-created", None, 1, "PENDING")]
    assert stored[1].payload == {"event-type": "follow-up-created", "follow-up-id": "f-9"}
    assert len(quiet_kick) == 2

    # Unknown types are kept and logged, never refused; acting on them is a no-op.
    with app.app_context():
        db.session.execute(sa.update(WebhookEvent).where(WebhookEvent.id == stored[0].id).values(status="PROCESSED"))
        db.session.commit()
        with caplog.at_level(logging.WARNING, logger="dashboard.webhooks.processor"):
            assert worker.process_pending(stored[1].company_id) == "done"
    ignored = _events(app)[1]
    assert ignored.status == "IGNORED" and "follow-up-created" in ignored.result
    assert any("follow-up-created" in record.getMessage() for record in caplog.records)


# ---------------------------------------------------------------- drills over real HTTP

@pytest.fixture
def live(rig):
    """The rig's app served over HTTP, with the sandbox announcing its changes there by webhook."""
    rig.app.config.update(SMARTMOVING_WEBHOOK_SECRET=SECRET, WEBHOOK_SWEEP_MINUTES=60)
    server = make_server("127.0.0.1", 0, rig.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    sender = rig.sandbox.send_webhooks_to(f"http://127.0.0.1:{server.server_port}{URL}", SECRET)
    rig.sandbox.faults.reset_stats()
    yield rig, sender
    rig.world.notifier = None
    server.shutdown()
    thread.join(5)


def _settled(app, count):
    """Wait until count events exist and none is PENDING."""
    wait_until(lambda: len(_events(app)) >= count and all(e.status != "PENDING" for e in _events(app)),
                15, "webhook events to be processed")
    return _events(app)


def test_an_edit_reaches_the_board_with_one_detail_call_and_duplicates_are_processed_once(live, make_user):
    rig, sender = live
    opportunity_id = rig.world.opportunity_ids_in_window(rig.start, rig.end)[0]
    new_total = rig.world.change_detail_only(opportunity_id)   # money and crew: invisible to the sweep
    assert sender.flush()
    [event] = _settled(rig.app, 1)
    assert (event.event_type, event.opportunity_id, event.status) == ("opportunity-changed", opportunity_id,
                                                                       "PROCESSED")
    calls = rig.sandbox.stats.snapshot()["by_kind"]
    assert calls["opportunity"] == 1 and calls["customers"] == 0, calls
    assert_db_matches_truth(rig.app, rig.world, rig.start, rig.end)
    with rig.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(SyncRun.id))) == 1   # the baseline only: no sweep

    # SmartMoving delivers the same event twice more: nothing more is asked.
    payload = {"event-type": "opportunity-changed", "opportunity-id": opportunity_id}
    assert [sender.post(payload), sender.post(payload)] == [202, 202]
    time.sleep(0.5)
    [event] = _events(rig.app)
    assert event.deliveries == 3 and event.status == "PROCESSED"
    assert rig.sandbox.stats.snapshot()["by_kind"]["opportunity"] == 1

    # What a manager's board (JSON API) shows now.
    client = rig.app.test_client()
    login_as(client, make_user("ADMIN"))
    jobs = client.get(f"/api/smartmoving/jobs?date={rig.start.isoformat()}").get_json()["jobs"]
    jobs += client.get(f"/api/smartmoving/jobs?date={rig.end.isoformat()}").get_json()["jobs"]
    values = {float(job["estimatedValue"]) for job in jobs if job["externalId"] in
              set(rig.world.opportunities[opportunity_id].job_ids)}
    assert values == {new_total}

    # A job we do not store is done at once (nothing of ours to update) and asks for a sweep:
    # one at once, then at most one per WEBHOOK_SWEEP_MINUTES; no event waits PENDING for one.
    for job_id in ("job-unknown-1", "job-unknown-2"):
        assert sender.post({"event-type": "job-created", "job-id": job_id}) == 202
        wait_until(lambda: not worker._active, 15, "the webhook worker to finish")
    first, second = _events(rig.app)[1:]
    assert first.status == second.status == "PROCESSED" and "sweep was asked for" in first.result
    rig.sync()
    with rig.app.app_context():
        triggers = list(db.session.scalars(sa.select(SyncRun.trigger).order_by(SyncRun.id)))
        db.session.commit()
    assert triggers == ["cli", "webhook", "cli"], triggers

    page = client.get("/sync/").get_data(as_text=True)
    card = page[page.index('id="webhooks-card"'):]
    assert "Received (24 h)</dt><dd>3 <small" in card and "2 repeated deliveries" in card
    assert "<b>job-created</b>" in card and "sweep was asked for" in card


def test_customer_and_deletion_events(live):
    """customer-updated re-reads that customer's stored opportunities; opportunity-deleted confirms a held removal."""
    rig, sender = live
    opportunity_id = rig.world.opportunity_ids_in_window(rig.start, rig.end)[1]
    customer_id = rig.world.opportunities[opportunity_id].customer_id
    rig.world.rename_customer(customer_id, "Renamée <b>Customer</b>")
    assert sender.flush()
    [renamed] = _settled(rig.app, 1)
    in_window = set(rig.world.opportunity_ids_in_window(rig.start, rig.end))
    theirs = [o for o in rig.world.customers[customer_id].opportunity_ids if o in in_window]
    assert renamed.status == "PROCESSED" and rig.sandbox.stats.snapshot()["by_kind"]["opportunity"] == len(theirs)
    assert_db_matches_truth(rig.app, rig.world, rig.start, rig.end)
    rig.sandbox.reset_stats()

    with rig.app.app_context():
        db.session.execute(sa.update(TruckJourney).where(TruckJourney.opportunity_external_id == opportunity_id)
                           .values(removal_pending_at=sa.func.now(), removal_reason="held by a sync"))
        db.session.commit()
    rig.world.delete_opportunity(opportunity_id)
    assert sender.flush()
    event = _settled(rig.app, 2)[1]
    assert event.status == "PROCESSED" and "removed" in event.result
    with rig.app.app_context():
        jobs = list(db.session.scalars(sa.select(TruckJourney).where(
            TruckJourney.opportunity_external_id == opportunity_id)))
        audit = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "sync.removals_confirmed"))
        db.session.commit()
    assert jobs and all(job.sync_status == SyncStatus.REMOVED.value and job.removal_pending_at is None
                        for job in jobs)
    assert audit.detail["source"] == "webhook" and audit.detail["count"] == len(jobs)
    assert rig.sandbox.stats.snapshot()["by_kind"]["customers"] == 0
    assert_db_matches_truth(rig.app, rig.world, rig.start, rig.end)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_a_process_killed_mid_webhook_loses_no_event(rig, tmp_path):
    """kill -9 while the event's detail call is in flight: the event stays PENDING and a later drain does it."""
    import urllib.request

    opportunity_id = rig.world.opportunity_ids_in_window(rig.start, rig.end)[2]
    rig.world.change_detail_only(opportunity_id)
    reached, release = block_server_call(rig.world, "opportunity_detail", after_calls=0)
    port = _free_port()
    log_path = tmp_path / "app.log"
    log_file = log_path.open("wb")   # a file, not a pipe: a full pipe would stall the app's logging
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "dashboard", "run", "--port", str(port), "--no-reload"],
        cwd=ROOT, env=cli_env(rig, SMARTMOVING_WEBHOOK_SECRET=SECRET), stdout=subprocess.DEVNULL,
        stderr=log_file, start_new_session=True)
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{URL}", method="POST", headers={"X-Webhook-Secret": SECRET},
            data=json.dumps({"event-type": "opportunity-changed", "opportunity-id": opportunity_id}).encode())
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    assert answer.status == 202
                break
            except OSError as error:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError(f"the app never answered: {log_path.read_text()[-3000:]}") from error
                time.sleep(0.1)
        assert reached.wait(20), "the event's detail call never started"
        kill_9(process, timeout=10)
    finally:
        release_and_reap(process, release)
        log_file.close()
    [event] = _events(rig.app)
    assert event.status == "PENDING" and event.attempts == 1   # stored and answered, then the process died

    with rig.app.app_context():
        wait_until(lambda: lease_holder(lease_name_for(rig.company_id)) is None, 10, "the dead drain's lease")
        assert worker.process_pending(rig.company_id) == "done"
    [event] = _events(rig.app)
    assert event.status == "PROCESSED" and event.attempts == 2
    assert_db_matches_truth(rig.app, rig.world, rig.start, rig.end)


@pytest.mark.slow
def test_demo_mode_announces_sandbox_edits_to_its_own_webhook_route(backend, tmp_path):
    """Demo mode: a random secret, and the embedded sandbox posts its changes to the serving process."""
    from dashboard.models import Company
    from dashboard.sandbox import embedded
    from dashboard.sync.service import run_sync
    from tests.support import database_url_for
    from tests.support import make_test_app

    app = make_test_app(database_url_for(backend, tmp_path), tmp_path, DEMO_WEBHOOKS=True)
    assert app.config["DEMO_MODE"] and len(app.config["SMARTMOVING_WEBHOOK_SECRET"]) >= 24
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    sandbox = None
    try:
        import urllib.request
        urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/healthz", timeout=5).close()
        with app.app_context():
            company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
            db.session.commit()
            run_sync(company.id, trigger="demo")
            sandbox = embedded.ensure_embedded_sandbox(company.timezone)
        world = sandbox.world
        opportunity_id = world.opportunity_ids_in_window(world.today, world.today)[0]
        sandbox.reset_stats()
        total = world.change_detail_only(opportunity_id)
        assert sandbox.webhooks.flush()
        [event] = _settled(app, 1)
        assert event.status == "PROCESSED" and sandbox.stats.snapshot()["by_kind"]["customers"] == 0
        with app.app_context():
            values = set(db.session.scalars(sa.select(TruckJourney.estimated_value_cents).where(
                TruckJourney.opportunity_external_id == opportunity_id)))
            db.session.commit()
        assert values == {round(total * 100)}
    finally:
        server.shutdown()
        thread.join(5)
        embedded._webhook_target = None
        if sandbox is not None:   # leave the process's demo world as other tests expect it
            sandbox.world.notifier = sandbox.webhooks = None
            sandbox.world.regenerate()
        app.extensions["sqlalchemy_engine"].dispose()


def test_a_deletion_event_answered_by_the_gateways_404_removes_nothing_and_is_retried(rig, quiet_kick):
    """The gateway's 404 says nothing about the opportunity: events are retried, then FAILED; no job leaves."""
    rig.app.config.update(SMARTMOVING_WEBHOOK_SECRET=SECRET, WEBHOOK_MAX_ATTEMPTS=2)
    opportunity_id = rig.world.opportunity_ids_in_window(rig.start, rig.end)[3]
    client = rig.app.test_client()
    for kind in ("opportunity-deleted", "opportunity-changed"):
        answer = client.post(URL, headers={"X-Webhook-Secret": SECRET},
                             json={"event-type": kind, "opportunity-id": opportunity_id})
        assert answer.status_code == 202
    rig.sandbox.faults.gateway_404_paths = {"/api/opportunities/"}
    with rig.app.app_context():
        assert worker.process_pending(rig.company_id) == "done"
        first = [(e.status, e.attempts) for e in _events(rig.app)]
        assert worker.process_pending(rig.company_id) == "done"
    events = _events(rig.app)
    assert first == [("PENDING", 1), ("PENDING", 1)]
    assert [(e.status, e.attempts) for e in events] == [("FAILED", 2), ("FAILED", 2)]
    assert "404" in events[0].error
    # Both events name one opportunity: one detail call per drain, not one per event.
    assert rig.sandbox.stats.snapshot()["by_kind"]["opportunity"] == 2
    assert_db_matches_truth(rig.app, rig.world, rig.start, rig.end)   # nothing removed
