"""Publishing a day's plan (issue 18 §1): one version, one message per person, links, and "send changes"."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import AuditEvent
from dashboard.models import Company
from dashboard.models import TruckJourney
from dashboard.models import utcnow
from dashboard.plans import links
from dashboard.plans import publish
from dashboard.plans import settings as delivery_settings
from dashboard.plans.models import CrewLink
from dashboard.plans.models import OutboxMessage
from dashboard.plans.models import PlanAssignment
from dashboard.plans.models import PlanVersion
from dashboard.plans.publish import OutOfScope
from dashboard.plans.publish import publish_day
from dashboard.plans.snapshot import describe_changes
from dashboard.readiness import summary
from tests.support import csrf_token_from
from tests.support.api import bearer
from tests.support.plans import DAY
from tests.support.plans import build_plan_world
from tests.support.plans import outbox


@pytest.fixture
def publish_world(app):
    return build_plan_world(app)


def _company():
    return db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))


def _configure_channels(app):
    app.config.update(delivery_settings.parse({
        "SMTP_URL": "smtp://127.0.0.1:2525", "MAIL_FROM": "plans@example.test",
        "TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "secret", "TWILIO_FROM": "+15550000000"}))


def _by_member(messages, world):
    names = {member_id: name for name, member_id in world["members"].items()}
    found = {}
    for message in messages:
        found.setdefault(names[message.crew_member_id], []).append(message)
    return found


def test_publish_freezes_a_version_and_writes_one_message_per_person(app_ctx, publish_world):
    result = publish_day(_company(), DAY, request_origin="http://board.test")
    assert result.as_json() == {"date": DAY.isoformat(), "version": 1, "messages": 4,
                                "unreachable": ["Cy Nocontact", "Temp Tom"]}
    version = db.session.scalar(sa.select(PlanVersion))
    assert (version.version, version.location_ids, version.messages, version.base_url) == (
        1, None, 4, "http://board.test")
    pairs = set(db.session.execute(sa.select(PlanAssignment.crew_member_id, PlanAssignment.journey_id)))
    members, jobs = publish_world["members"], publish_world["jobs"]
    assert pairs == {(members["Ana Driver"], jobs["J-1"]), (members["Ben Mover"], jobs["J-1"]),
                     (members["Cy Nocontact"], jobs["J-2"]), (members["Dee Phone"], jobs["J-3"])}
    messages = _by_member(outbox(), publish_world)
    # No channel configured (the demo): every message waits in the outbox, saying why.
    assert {name: [(m.channel, m.status, m.last_error) for m in rows] for name, rows in messages.items()} == {
        "Ana Driver": [("none", "unsent", "not sent: no channel")],
        "Ben Mover": [("none", "unsent", "not sent: no channel")],
        "Cy Nocontact": [("none", "unsent", "not reachable: no e-mail or phone")],
        "Dee Phone": [("none", "unsent", "not sent: no channel")]}
    ana = messages["Ana Driver"][0]
    for piece in ("Job J-1, arrive 8-10 AM", "12 Main St, Toronto", "99 Queen St W, Toronto",
                  "https://www.google.com/maps/search/?api=1&query=12+Main+St%2C+Toronto",
                  "Ana Driver (driver), Ben Mover (mover)", "Truck 12", "Gate code 4411", "416-555-0100",
                  links.LINK_PLACEHOLDER):
        assert piece in ana.body_text, piece
    assert "Customer J-1" not in ana.body_text   # the crew is told the job, not the customer's details
    link = db.session.get(CrewLink, ana.crew_link_id)
    assert link.crew_member_id == members["Ana Driver"] and link.day == DAY and link.revoked_at is None
    url = links.link_url(link, version.base_url)
    assert url.startswith("http://board.test/p/") and links.resolve(url.rsplit("/", 1)[1], now=utcnow()).id == link.id
    assert db.session.scalar(sa.select(AuditEvent.target).where(AuditEvent.action == "plan.publish")) == \
        f"plan:{DAY.isoformat()}:v1"


def test_configured_channels_queue_email_and_sms(app, app_ctx, publish_world):
    _configure_channels(app)
    publish_day(_company(), DAY)
    messages = _by_member(outbox(), publish_world)
    shape = {name: sorted((m.channel, m.recipient, m.status) for m in rows) for name, rows in messages.items()}
    assert shape == {
        "Ana Driver": [("email", "ana@example.test", "queued")],
        "Ben Mover": [("email", "ben@example.test", "queued"), ("sms", "+14165550001", "queued")],
        "Cy Nocontact": [("none", "", "unsent")],
        "Dee Phone": [("sms", "+14165550002", "queued")]}
    sms = messages["Dee Phone"][0]
    assert len(sms.body_text) < 320 and sms.body_text.endswith(links.LINK_PLACEHOLDER) and sms.body_html is None
    assert all(m.next_attempt_at is not None for rows in messages.values() for m in rows if m.status == "queued")


def test_send_changes_reaches_only_the_people_whose_jobs_changed(app_ctx, publish_world):
    company = _company()
    publish_day(company, DAY)
    first_link = db.session.scalar(sa.select(CrewLink.id).where(
        CrewLink.crew_member_id == publish_world["members"]["Ana Driver"]))
    job = db.session.get(TruckJourney, publish_world["jobs"]["J-1"])
    job.truck_id = publish_world["trucks"]["7"]
    job.notes = "Gate code 9999"
    db.session.commit()
    result = publish_day(company, DAY, changes_only=True)
    assert (result.version, result.messages) == (2, 2)
    fresh = [m for m in outbox() if m.version == 2]
    assert sorted(m.crew_member_id for m in fresh) == sorted(
        [publish_world["members"]["Ana Driver"], publish_world["members"]["Ben Mover"]])
    assert "Truck 12 → Truck 7" in fresh[0].body_text and "Notes changed: Gate code 9999" in fresh[0].body_text
    assert "changed" in fresh[0].subject
    assert links.resolve(links.token_for(first_link)) is None           # the v1 link is revoked
    assert links.resolve(links.token_for(fresh[0].crew_link_id)) is not None
    # Nothing changed since: no version, no message.
    again = publish_day(company, DAY, changes_only=True)
    assert (again.version, again.messages, again.created) == (2, 0, False)
    # Ben is taken off J-1: only he hears, and only that he is off it.
    job.crew, job.crew_member_ids = ["Ana Driver"], [publish_world["members"]["Ana Driver"]]
    db.session.commit()
    third = publish_day(company, DAY, changes_only=True)
    assert third.version == 3
    told = {m.crew_member_id: m for m in outbox() if m.version == 3}
    ben = told[publish_world["members"]["Ben Mover"]]
    assert "no longer on J-1" in ben.subject and ben.crew_link_id is None
    assert "Crew: removed Ben Mover (mover)" in told[publish_world["members"]["Ana Driver"]].body_text
    assert publish_day(company, DAY, changes_only=True).messages == 0   # Ben is not told twice


def test_a_dispatcher_publishes_only_their_locations(app_ctx, publish_world, make_user):
    dispatcher = make_user("DISPATCHER", locations=[publish_world["north"]])
    result = publish_day(_company(), DAY, user=db.session.merge(dispatcher))
    assert result.messages == 3
    assert publish_world["members"]["Dee Phone"] not in {m.crew_member_id for m in outbox()}
    assert db.session.scalar(sa.select(PlanVersion.location_ids)) == [publish_world["north"].id]
    with pytest.raises(OutOfScope):
        publish_day(_company(), DAY, user=db.session.merge(dispatcher), location_id=publish_world["south"].id)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PlanVersion)) == 1


def test_customer_and_notes_text_is_escaped_in_html_and_plain_in_text(app_ctx, publish_world):
    job = db.session.get(TruckJourney, publish_world["jobs"]["J-1"])
    job.notes = '<script>alert("x")</script> & <b>bold</b>'
    job.origin_address = '1 "Quote" <Ave>'
    db.session.commit()
    publish_day(_company(), DAY)
    message = next(m for m in outbox() if m.crew_member_id == publish_world["members"]["Ana Driver"])
    assert "<script>" not in message.body_html and "&lt;script&gt;" in message.body_html
    assert "&lt;b&gt;bold&lt;/b&gt;" in message.body_html and "&#34;Quote&#34; &lt;Ave&gt;" in message.body_html
    assert '<script>alert("x")</script> & <b>bold</b>' in message.body_text


def test_the_outbox_key_refuses_a_second_copy_of_a_message(app_ctx, publish_world):
    publish_day(_company(), DAY)
    original = outbox()[0]
    db.session.add(OutboxMessage(company_id=original.company_id, plan_version_id=original.plan_version_id,
                                 crew_member_id=original.crew_member_id, day=original.day,
                                 version=original.version, channel=original.channel))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_links_refuse_tampering_revocation_and_expiry(app_ctx, publish_world):
    publish_day(_company(), DAY)
    link = db.session.scalar(sa.select(CrewLink))
    token = links.token_for(link.id)
    assert links.resolve(token, now=link.expires_at - timedelta(seconds=1)).id == link.id
    assert links.resolve(token, now=link.expires_at) is None
    assert links.resolve(token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]) is None
    assert links.resolve("x" * 500) is None and links.resolve("") is None
    # The link expires at the end of the day in company time (Toronto: 05:00 UTC the next day in March).
    assert link.expires_at.date() == DAY + timedelta(days=1) and link.expires_at.hour in (4, 5)


def test_describe_changes_says_what_changed():
    old = {"jobNumber": "J-1", "window": "8-10 AM", "start": None, "origin": "A", "destination": "B",
           "crew": [{"name": "Ana", "role": "driver"}], "truck": "Truck 12", "notes": "gate 1"}
    new = {**old, "window": "1-3 PM", "truck": "Truck 7", "notes": "gate code 4411",
           "crew": [{"name": "Ana", "role": "driver"}, {"name": "Ben", "role": None}]}
    assert describe_changes(old, new) == ["Arrival 8-10 AM → 1-3 PM", "Crew: added Ben", "Truck 12 → Truck 7",
                                          "Notes changed: gate code 4411"]
    assert describe_changes(old, old) == []
    assert describe_changes(None, old) == ["New job J-1"] and describe_changes(old, None) == ["No longer on job J-1"]


# ---------------------------------------------------------------- the JSON API, the pages and the CLI

def test_api_publish_answers_202_and_checks_date_scope_and_role(app, client, publish_world, make_user):
    dispatcher = make_user("DISPATCHER", locations=[publish_world["north"]])
    headers = bearer(app, dispatcher)
    url = f"/api/smartmoving/plans/{DAY.isoformat()}/publish"
    answer = client.post(url, headers=headers)
    assert answer.status_code == 202
    assert answer.get_json() == {"date": DAY.isoformat(), "version": 1, "messages": 3,
                                 "unreachable": ["Cy Nocontact", "Temp Tom"]}
    again = client.post(url + "?changes=1", headers=headers)
    assert again.status_code == 202 and again.get_json()["messages"] == 0
    assert client.post(f"/smartmoving/plans/{DAY.isoformat()}/publish", headers=headers).status_code == 202
    assert client.post("/api/smartmoving/plans/2031-02-30/publish", headers=headers).status_code == 422
    assert client.post(url + "?location=abc", headers=headers).status_code == 422
    refused = client.post(url + f"?location={publish_world['south'].id}", headers=headers)
    assert refused.status_code == 404 and refused.get_json()["error"]
    assert client.post(url + "?location=999999", headers=headers).status_code == 404
    assert client.post(url, headers=bearer(app, make_user("AUDITOR"))).status_code == 403
    assert client.post(url).status_code == 401


def test_the_send_plan_panel_previews_then_sends_with_csrf(app, client, publish_world, make_user, login):
    login(make_user("DISPATCHER", locations=[publish_world["north"], publish_world["south"]]))
    panel = client.get(f"/plans/{DAY.isoformat()}/publish", headers={"HX-Request": "true"})
    html = panel.get_data(as_text=True)
    assert panel.status_code == 200 and "<b>4</b> people" in html and "Temp Tom" in html and "Cy Nocontact" in html
    assert "Send changes" not in html
    assert client.get(f"/plans/{DAY.isoformat()}/publish?location=999999").status_code == 404
    assert client.post(f"/plans/{DAY.isoformat()}/publish", data={}).status_code == 400   # no CSRF token
    token = csrf_token_from(client.get(f"/plans/{DAY.isoformat()}/publish").get_data(as_text=True))
    sent = client.post(f"/plans/{DAY.isoformat()}/publish", data={"csrf_token": token, "location": ""},
                       headers={"HX-Request": "true"})
    body = sent.get_data(as_text=True)
    assert sent.status_code == 200 and sent.headers["HX-Trigger"] == "board-changed"
    assert "Plan v1 ready for 4 people, 2 not reachable: no e-mail or SMS is set up" in body and "Send changes" in body
    board = client.get(f"/board?date={DAY.isoformat()}").get_data(as_text=True)
    assert "Send plan" in board and "publish-panel" in board


def test_the_outbox_shows_admins_each_message_as_delivered_and_nobody_else(
        app, client, publish_world, make_user, login):
    with app.app_context():
        job = db.session.get(TruckJourney, publish_world["jobs"]["J-1"])
        job.notes = "<img src=x onerror=alert(1)>"
        db.session.commit()
        publish_day(_company(), DAY, request_origin="http://board.test")
    login(make_user("DISPATCHER", locations=[publish_world["north"]]))
    assert client.get("/outbox").status_code == 403
    login(make_user("ADMIN"))
    page = client.get("/outbox").get_data(as_text=True)
    assert "Ana Driver" in page and "Not sent" in page and "not sent: no channel" in page
    assert '<a href="http://board.test/p/' in page and "{link}" not in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "Outbox" in client.get("/outbox?status=unsent&day=nonsense").get_data(as_text=True)


def test_flask_publish_and_deliver(app, runner, publish_world, smtp_server):
    app.config.update(delivery_settings.parse({"SMTP_URL": smtp_server.url, "MAIL_FROM": "plans@example.test"}))
    result = runner.invoke(args=["publish", "--date", DAY.isoformat(), "--location", "North"])
    assert result.exit_code == 0, result.output
    assert "Plan v1 queued for 2 of 3 people, 2 not reachable; 1 waits in the outbox" in result.output
    assert "Temp Tom" in result.output
    assert runner.invoke(args=["publish", "--date", "tomorrow"]).exit_code == 2
    assert runner.invoke(args=["publish", "--date", DAY.isoformat(), "--location", "Nowhere"]).exit_code == 2
    delivered = runner.invoke(args=["deliver"])
    assert delivered.exit_code == 0 and "2 sent" in delivered.output
    assert len(smtp_server.inbox.messages) == 2


def test_a_day_with_nobody_on_its_jobs_makes_no_version(app_ctx, publish_world):
    result = publish_day(_company(), DAY + timedelta(days=1))
    assert (result.version, result.messages, result.created) == (None, 0, False)
    assert "nothing sent" in publish.describe(result)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PlanVersion)) == 0


def test_the_send_plan_panel_says_what_still_blocks_the_day_but_lets_you_send(
        app, client, publish_world, make_user, login):
    login(make_user("ADMIN"))
    html = client.get(f"/plans/{DAY.isoformat()}/publish", headers={"HX-Request": "true"}).get_data(as_text=True)
    api = client.get(f"/api/smartmoving/readiness?date={DAY.isoformat()}").get_json()
    count = len(api["blockers"])
    assert count                                                       # the plan world's day is not ready
    assert f'data-blockers="{count}"' in html and f"{count} blocker" in html
    assert html.index("publish-blockers") < html.index("Send plan</button>")   # said before the button
    assert f'/board?date={DAY.isoformat()}#readiness' in html
    assert '<button type="submit" class="btn btn-primary">Send plan' in html   # not disabled by blockers


def test_the_readiness_sentence_names_the_most_urgent_kinds_by_jobs():
    found = [{"kind": "unassigned-truck", "jobId": n, "jobNumber": f"J-{n}", "message": "x"} for n in range(5)]
    found += [{"kind": "conflict", "jobId": 1, "jobNumber": "J-1", "message": "a"},
              {"kind": "conflict", "jobId": 1, "jobNumber": "J-1", "message": "b"},
              {"kind": "understaffed", "jobId": 2, "jobNumber": "J-2", "message": "c"},
              {"kind": "stale-sync", "jobId": None, "jobNumber": None, "message": "d"}]
    assert summary.sentence(found) == ("9 blockers remain — 1 job double booked, 1 job understaffed, "
                                       "5 jobs without a truck…")
    assert summary.sentence([]) == ""
