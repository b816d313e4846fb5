"""Delivering the outbox (issue 18 §2): real SMTP on loopback, Twilio through `responses`, crashes and outages."""
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import responses
import sqlalchemy as sa

from dashboard import scheduler
from dashboard.db import db
from dashboard.models import Company
from dashboard.models import TruckJourney
from dashboard.plans import delivery
from dashboard.plans import settings as delivery_settings
from dashboard.plans import twilio
from dashboard.plans.models import OutboxMessage
from dashboard.plans.publish import publish_day
from dashboard.plans.queries import delivery_by_person
from dashboard.plans.smtp import SmtpSender
from dashboard.sync.lease import acquire_lease
from dashboard.sync.lease import release_lease
from tests.support.mail import free_port
from tests.support.plans import DAY
from tests.support.plans import add_job
from tests.support.plans import add_member
from tests.support.plans import build_plan_world
from tests.support.plans import outbox

TWILIO = {"TWILIO_ACCOUNT_SID": "AC0123", "TWILIO_AUTH_TOKEN": "tok", "TWILIO_FROM": "+15550000000"}


@pytest.fixture
def publish_world(app):
    return build_plan_world(app)


def _company():
    return db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))


def _use(app, **settings):
    app.config.update(delivery_settings.parse({"MAIL_FROM": "Plans <plans@example.test>", **settings}))


def _emails():
    return [m for m in outbox() if m.channel == "email"]


def _make_due(minutes=10):
    """Move every pending retry (and claim) into the past: 'later' without sleeping."""
    for message in outbox():
        if message.next_attempt_at is not None:
            message.next_attempt_at -= timedelta(minutes=minutes)
        if message.claimed_at is not None:
            message.claimed_at -= timedelta(minutes=minutes)
    db.session.commit()


def test_email_goes_out_over_smtp_once_with_text_html_and_the_link(app, app_ctx, publish_world, smtp_server):
    _use(app, SMTP_URL=smtp_server.url)
    publish_day(_company(), DAY, request_origin="http://board.test")
    report = delivery.deliver_due()
    assert (report.claimed, report.sent, report.retry) == (2, 2, 0)
    assert delivery.deliver_due().claimed == 0                      # nothing is sent twice
    assert sorted(m["to"][0] for m in smtp_server.inbox.messages) == ["ana@example.test", "ben@example.test"]
    mail = smtp_server.inbox.to("ana@example.test")[0]["message"]
    assert mail["From"] == "Plans <plans@example.test>" and "your plan for" in mail["Subject"]
    assert mail["Message-ID"].startswith("<plan-")
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "http://board.test/p/" in text and "{link}" not in text and "{link}" not in html
    assert 'href="http://board.test/p/' in html and "Gate code 4411" in html
    rows = _emails()
    assert all(m.status == "sent" and m.sent_at is not None and m.attempts == 1 for m in rows)
    members = publish_world["members"]
    assert delivery_by_person(_company().id, DAY) == {
        members["Ana Driver"]: "sent", members["Ben Mover"]: "sent", members["Cy Nocontact"]: "unsent",
        members["Dee Phone"]: "unsent"}


def test_a_mail_server_that_is_down_delays_messages_and_never_loses_or_doubles_them(
        app, app_ctx, publish_world, smtp_server):
    _use(app, SMTP_URL=f"smtp://127.0.0.1:{free_port()}")             # nobody listens there
    publish_day(_company(), DAY)
    report = delivery.deliver_due()
    assert (report.sent, report.retry) == (0, 2)
    for message in _emails():
        assert message.status == "failed" and message.attempts == 1
        assert "mail server unavailable" in message.last_error
        assert timedelta(seconds=59) < message.next_attempt_at - message.claimed_at < timedelta(seconds=65)
    _use(app, SMTP_URL=smtp_server.url)                               # the server is back...
    assert delivery.deliver_due().claimed == 0                        # ...but the retry is not due yet
    _make_due()
    assert delivery.deliver_due().sent == 2
    _make_due()
    assert delivery.deliver_due().claimed == 0
    assert sorted(m["to"][0] for m in smtp_server.inbox.messages) == ["ana@example.test", "ben@example.test"]
    assert {(m.status, m.attempts, m.last_error) for m in _emails()} == {("sent", 2, None)}


def test_backoff_doubles_and_gives_up_after_the_last_attempt(app, app_ctx, publish_world):
    assert [delivery.backoff(n).total_seconds() / 60 for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    _use(app, SMTP_URL=f"smtp://127.0.0.1:{free_port()}")
    publish_day(_company(), DAY)
    db.session.execute(sa.update(OutboxMessage).where(OutboxMessage.channel == "email")
                       .values(attempts=delivery.MAX_ATTEMPTS - 1))
    db.session.commit()
    assert delivery.deliver_due().failed == 2
    for message in _emails():
        assert (message.status, message.attempts, message.next_attempt_at) == ("failed", delivery.MAX_ATTEMPTS, None)
        assert message.last_error.startswith(f"gave up after {delivery.MAX_ATTEMPTS} attempts")
    _make_due(600)
    assert delivery.deliver_due().claimed == 0


def test_a_permanent_refusal_fails_for_good_at_once(app, app_ctx, publish_world, smtp_server):
    _use(app, SMTP_URL=smtp_server.url)
    smtp_server.inbox.refuse = "554 5.7.1 Message rejected"
    publish_day(_company(), DAY)
    assert delivery.deliver_due().failed == 2
    assert {(m.status, m.next_attempt_at, m.last_error) for m in _emails()} == {
        ("failed", None, "message refused (554)")}


def test_a_worker_killed_mid_delivery_is_replaced_and_nothing_is_lost_or_sent_twice(
        app, app_ctx, publish_world, smtp_server, monkeypatch):
    _use(app, SMTP_URL=smtp_server.url)
    company = _company()
    for number in range(6):   # more people, so the crash lands mid-batch
        member = add_member(company.id, f"Extra {number}", email=f"extra{number}@example.test")
        add_job(company.id, publish_world["north"].id, f"X-{number}", [member])
    db.session.commit()
    publish_day(company, DAY)
    real_send = SmtpSender.send
    sent = []

    def dying_send(self, message):
        if len(sent) == 3:
            raise SystemExit("worker killed")   # the process dies between two messages
        real_send(self, message)
        sent.append(message["To"])
    monkeypatch.setattr(SmtpSender, "send", dying_send)
    with pytest.raises(SystemExit):
        delivery.deliver_due(owner="doomed-worker")
    db.session.rollback()
    monkeypatch.setattr(SmtpSender, "send", real_send)
    stuck = [m for m in _emails() if m.status == "sending"]
    assert len(stuck) == 5 and {m.claimed_by for m in stuck} == {"doomed-worker"}
    # A replacement worker leaves a fresh claim alone (its owner may only be slow)...
    assert delivery.deliver_due(owner="replacement").claimed == 0
    # ...and takes the rows over once the claim is stale.
    _make_due(delivery.CLAIM_STALE_MINUTES + 1)
    assert delivery.deliver_due(owner="replacement").sent == 5
    addresses = [m["to"][0] for m in smtp_server.inbox.messages]
    assert len(addresses) == 8 and len(set(addresses)) == 8
    assert {m.status for m in _emails()} == {"sent"}


def test_two_workers_at_once_send_each_message_once(app, app_ctx, publish_world, smtp_server):
    _use(app, SMTP_URL=smtp_server.url)
    company = _company()
    for number in range(10):
        member = add_member(company.id, f"Crowd {number}", email=f"crowd{number}@example.test")
        add_job(company.id, publish_world["north"].id, f"C-{number}", [member])
    db.session.commit()
    publish_day(company, DAY)
    reports = []

    def worker(name):
        with app.app_context():
            reports.append(delivery.deliver_due(limit=5, owner=name))
            reports.append(delivery.deliver_due(limit=5, owner=name))
            reports.append(delivery.deliver_due(limit=5, owner=name))
    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    addresses = [m["to"][0] for m in smtp_server.inbox.messages]
    assert sum(r.sent for r in reports) == 12 and len(addresses) == 12 and len(set(addresses)) == 12


@responses.activate
def test_sms_goes_through_twilio_with_the_link(app, app_ctx, publish_world):
    _use(app, **TWILIO)
    publish_day(_company(), DAY, request_origin="https://board.test")
    responses.add(responses.POST, twilio.messages_url("AC0123"), json={"sid": "SM1"}, status=201)
    assert delivery.deliver_due().sent == 2
    bodies = {call.request.body for call in responses.calls}
    assert len(bodies) == 2
    request = responses.calls[0].request
    assert request.headers["Authorization"].startswith("Basic ")
    assert "To=%2B1416555000" in request.body and "From=%2B15550000000" in request.body
    assert "https%3A%2F%2Fboard.test%2Fp%2F" in request.body


@responses.activate
def test_twilio_errors_retry_or_fail_by_their_status(app, app_ctx, publish_world):
    _use(app, **TWILIO)
    publish_day(_company(), DAY)
    members = publish_world["members"]
    responses.add(responses.POST, twilio.messages_url("AC0123"), status=503)
    responses.add(responses.POST, twilio.messages_url("AC0123"), status=400,
                  json={"message": "The 'To' number is not a valid phone number."})
    report = delivery.deliver_due()
    assert (report.retry, report.failed) == (1, 1)
    states = {m.crew_member_id: (m.status, m.next_attempt_at is not None, m.last_error)
              for m in outbox() if m.channel == "sms"}
    assert states[members["Ben Mover"]] == ("failed", True, "Twilio answered 503")
    assert states[members["Dee Phone"]] == (
        "failed", False, "Twilio refused (400): The 'To' number is not a valid phone number.")


def test_a_message_superseded_by_a_newer_version_is_not_sent(app, app_ctx, publish_world, smtp_server):
    _use(app, SMTP_URL=smtp_server.url)
    company = _company()
    publish_day(company, DAY)
    job = db.session.get(TruckJourney, publish_world["jobs"]["J-1"])
    job.notes = "New gate code 7788"
    db.session.commit()
    publish_day(company, DAY, changes_only=True)
    report = delivery.deliver_due()
    assert (report.sent, report.superseded) == (2, 2)
    assert all("7788" in m["message"].get_body(("plain",)).get_content() for m in smtp_server.inbox.messages)
    old = [m for m in _emails() if m.version == 1]
    assert {(m.status, m.last_error) for m in old} == {("unsent", "not sent: superseded by plan v2")}


@pytest.mark.parametrize("settings, name", [
    ({"SMTP_URL": "http://mail.example.com"}, "SMTP_URL"),
    ({"SMTP_URL": "smtp://mail.example.com:99999"}, "SMTP_URL"),
    ({"SMTP_URL": "smtp://mail.example.com?tls=1", "MAIL_FROM": "a@b.c"}, "SMTP_URL"),
    ({"SMTP_URL": "smtp://mail.example.com"}, "MAIL_FROM"),
    ({"TWILIO_ACCOUNT_SID": "AC1"}, "TWILIO_ACCOUNT_SID"),
    ({"PUBLIC_BASE_URL": "board.example.com"}, "PUBLIC_BASE_URL"),
])
def test_malformed_delivery_settings_stop_start_up_with_one_line(tmp_path, settings, name):
    from dashboard import create_app
    from dashboard.config import ConfigError
    with pytest.raises(ConfigError, match=name) as caught:
        create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "INSTANCE_PATH": str(tmp_path), **settings})
    assert "\n" not in str(caught.value) and "secret" not in str(caught.value)


def test_smtp_url_forms_are_understood():
    parse = delivery_settings.parse_smtp_url
    assert parse("smtp://u%40x:p%3Aw@mail.test:587?starttls=1") == ("mail.test", 587, "u@x", "p:w", "starttls")
    assert parse("smtps://mail.test") == ("mail.test", 465, None, None, "ssl")
    assert parse("smtp://mail.test") == ("mail.test", 25, None, None, None)
    assert parse(None) is None


def test_the_scheduler_tick_delivers_under_the_company_lease(app, app_ctx, publish_world, smtp_server):
    _use(app, SMTP_URL=smtp_server.url)
    company = _company()
    publish_day(company, DAY)
    assert delivery.companies_with_due_messages() == [company.id]
    # Another worker holds this company's delivery lease: the tick leaves its messages alone.
    assert acquire_lease(delivery.lease_name_for(company.id), "other-worker", 60)
    scheduler.run_scheduled_delivery(app)
    assert smtp_server.inbox.messages == []
    release_lease(delivery.lease_name_for(company.id), "other-worker")
    scheduler.run_scheduled_delivery(app)
    assert len(smtp_server.inbox.messages) == 2 and delivery.companies_with_due_messages() == []


def test_a_real_flask_deliver_killed_mid_batch_loses_nothing(app, app_ctx, publish_world, smtp_server):
    """The drill with a real process: `flask deliver` is SIGKILLed while it sends, a new worker finishes.

    Nothing is lost; the one message the server may have accepted just before the kill (its row still says
    'sending') is the only one that can arrive twice, and then with the same Message-ID."""
    _use(app, SMTP_URL=smtp_server.url)
    company = _company()
    for number in range(6):
        member = add_member(company.id, f"Drill {number}", email=f"drill{number}@example.test")
        add_job(company.id, publish_world["north"].id, f"D-{number}", [member])
    db.session.commit()
    publish_day(company, DAY)
    smtp_server.inbox.delay = 0.4
    env = {key: value for key, value in os.environ.items() if key not in ("TEST_DATABASE_URL", "FLASK_DEBUG")}
    env.update({"DATABASE_URL": app.config["DATABASE_URL"], "SMTP_URL": smtp_server.url,
                "MAIL_FROM": "plans@example.test", "SECRET_KEY": "drill-secret-of-at-least-32-characters!",
                "SMARTMOVING_API_KEY": "drill-key-not-used", "SYNC_INTERVAL_MINUTES": "0", "PYTHONUNBUFFERED": "1"})
    worker = subprocess.Popen([str(Path(sys.executable).parent / "flask"), "--app", "dashboard", "deliver"],
                              env=env, cwd=str(Path(__file__).resolve().parent.parent), start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while len(smtp_server.inbox.messages) < 3 and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.05)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
    assert len(smtp_server.inbox.messages) >= 3, worker.stderr.read().decode()[-2000:]
    emails = _emails()
    assert any(m.status == "sending" for m in emails)        # the dead worker's claim is still on its rows
    smtp_server.inbox.delay = 0
    _make_due(delivery.CLAIM_STALE_MINUTES + 1)
    delivery.deliver_due(owner="replacement")
    emails = _emails()
    assert {m.status for m in emails} == {"sent"} and len(emails) == 8
    received = [(m["to"][0], m["message"]["Message-ID"]) for m in smtp_server.inbox.messages]
    assert {address for address, _ in received} == {m.recipient for m in emails}   # nobody lost
    assert len(received) - len(set(received)) <= 1                                   # at most the one in flight
    assert len({address for address, _ in received}) == len(set(received))           # a repeat is the same message
