"""The crew's personal link and confirmations (issue 18 §3–4): the page, answers, states, readiness, board."""
from datetime import timedelta

import sqlalchemy as sa

from dashboard.confirm import states
from dashboard.confirm.answers import ANSWERS_PER_HOUR
from dashboard.db import db
from dashboard.models import AuditEvent
from dashboard.models import Company
from dashboard.models import TruckJourney
from dashboard.models import utcnow
from dashboard.plans.links import LINK_PATH
from dashboard.plans.links import token_for
from dashboard.plans.models import CrewLink
from dashboard.plans.models import PlanConfirmation
from tests.support.confirm import add_member
from tests.support.confirm import answer_link
from tests.support.confirm import tell_crew


def _open(client, token):
    return client.get(LINK_PATH + token)


_answer = answer_link


def _plan(app, world, with_unsent=False):
    with app.app_context():
        return states.day_plan(world.company_id, world.day, with_unsent=with_unsent)


def _move_truck(app, job_id, truck_id):
    with app.app_context():
        job = db.session.get(TruckJourney, job_id)
        job.truck_id = truck_id
        job.dispatch_updated_at = utcnow()
        db.session.commit()


# -- the link ------------------------------------------------------------------------------------------

def test_tampered_revoked_and_expired_links_are_a_plain_404(app, client, plan_world):
    token = plan_world.tokens[plan_world.ana]
    assert _open(client, token).status_code == 200
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "x", token + "x", "1.abc"):
        response = _open(client, bad)
        assert response.status_code == 404
        assert "Ana" not in response.get_data(as_text=True)
    with app.app_context():
        link_id = db.session.scalar(sa.select(CrewLink.id).where(CrewLink.crew_member_id == plan_world.ana))
        link = db.session.get(CrewLink, link_id)
        link.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert _open(client, token).status_code == 404
    with app.app_context():
        link = db.session.get(CrewLink, link_id)
        link.expires_at = utcnow() + timedelta(hours=1)
        link.revoked_at = utcnow()
        db.session.commit()
    response = _open(client, token)
    assert response.status_code == 404
    assert "J-100" not in response.get_data(as_text=True)
    assert response.headers["Referrer-Policy"] == "no-referrer" and response.headers["Cache-Control"] == "no-store"
    # A link id that was never issued, signed with our key, is still nothing.
    with app.app_context():
        assert _open(client, token_for(987654)).status_code == 404


def test_page_shows_only_their_jobs_without_money_or_customer_contacts(client, plan_world):
    response = _open(client, plan_world.tokens[plan_world.ana])
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "J-100" in html and "8:00 AM - 10:00 AM" in html
    assert "Bo Mover" in html and "(driver)" in html and "(mover)" in html and "<b>you</b>" in html
    assert "Truck 12" in html and "Gate code 4411" in html
    assert "google.com/maps" in html and 'href="tel:+1 416 555 0100"' in html
    # Another job's customer and crew, money, and the customer's contacts never appear.
    for secret in ("J-200", "Zed Elsewhere", "Secret Rd", "Cy Other", "alice@example.test", "1,234", "1234.56",
                   "555 0199", "Alice Private"):
        assert secret not in html
    assert response.headers["Cache-Control"] == "no-store"
    assert "noindex" in response.headers["X-Robots-Tag"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "session=" in response.headers.get("Set-Cookie", "")   # the CSRF token's session


# -- answering ---------------------------------------------------------------------------------------

def test_an_answer_needs_the_csrf_token(client, plan_world):
    response = _answer(client, plan_world.tokens[plan_world.ana], "confirmed", csrf=False)
    assert response.status_code == 400
    assert _plan_count(client.application) == 0


def _plan_count(app):
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(PlanConfirmation.id)))


def test_confirm_is_recorded_audited_and_shown(app, client, plan_world):
    token = plan_world.tokens[plan_world.ana]
    response = _answer(client, token, "confirmed")
    assert response.status_code == 303
    html = _open(client, token).get_data(as_text=True)
    assert "Confirmed v1 — thanks" in html
    plan = _plan(app, plan_world)
    assert plan.state(plan_world.first, plan_world.ana) == states.CONFIRMED
    assert plan.state(plan_world.first, plan_world.bo) == states.SENT
    assert plan.counter() == (1, 4)
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "plan.confirmed"))
        assert event.detail["crew_member_id"] == plan_world.ana and event.detail["version"] == 1
        assert event.detail["day"] == plan_world.day.isoformat()


def test_decline_needs_a_reason_and_shows_on_readiness(app, client, plan_world):
    token = plan_world.tokens[plan_world.bo]
    response = _answer(client, token, "declined", reason="  ")
    assert response.status_code == 422
    assert "Please say why" in response.get_data(as_text=True)
    assert _answer(client, token, "declined", reason="x" * 301).status_code == 422
    assert _answer(client, token, "declined", reason="Sick, sorry").status_code == 303
    assert "can't make it" in _open(client, token).get_data(as_text=True)
    plan = _plan(app, plan_world)
    assert plan.state(plan_world.first, plan_world.bo) == states.DECLINED
    assert plan.marks_of(plan_world.first)[1].reason == "Sick, sorry"
    with app.app_context():
        job = db.session.get(TruckJourney, plan_world.first)
        kinds = {b["kind"]: b for b in states.readiness_blockers(plan_world.company_id, plan_world.day, [job])}
    assert kinds["declined"]["jobId"] == plan_world.first and "Sick, sorry" in kinds["declined"]["message"]
    # They may change their mind.
    assert _answer(client, token, "confirmed").status_code == 303
    assert _plan(app, plan_world).state(plan_world.first, plan_world.bo) == states.CONFIRMED


def test_a_change_after_confirming_shows_changed_and_asks_again(app, client, plan_world):
    token = plan_world.tokens[plan_world.ana]
    _answer(client, token, "confirmed")
    _move_truck(app, plan_world.first, plan_world.truck7)
    plan = _plan(app, plan_world)
    assert plan.state(plan_world.first, plan_world.ana) == states.CHANGED
    html = _open(client, token).get_data(as_text=True)
    assert "Your plan changed since you confirmed v1" in html and "Truck 12 → Truck 7" in html
    with app.app_context():
        job = db.session.get(TruckJourney, plan_world.first)
        # Before PLAN_CONFIRM_BY, so Bo's missing answer is not also `unconfirmed` when the suite runs late.
        deadline = states.confirm_by(plan_world.day, db.session.get(Company, plan_world.company_id).timezone,
                                    app.config["PLAN_CONFIRM_BY"])
        kinds = [b["kind"] for b in states.readiness_blockers(plan_world.company_id, plan_world.day, [job],
                                                              now=deadline - timedelta(hours=6))]
    assert kinds == ["changed"]
    # The changes are sent as version 2 (a new link) and confirmed again.
    with app.app_context():
        _version, tokens = tell_crew(_company(plan_world), plan_world.day)
    assert _open(client, token).status_code == 404          # the old link was revoked
    assert _answer(client, tokens[plan_world.ana], "confirmed").status_code == 303
    assert "Confirmed v2 — thanks" in _open(client, tokens[plan_world.ana]).get_data(as_text=True)
    assert _plan(app, plan_world).state(plan_world.first, plan_world.ana) == states.CONFIRMED


def _company(world):
    return db.session.get(Company, world.company_id)


def test_unsent_until_a_version_names_them(app, plan_world):
    with app.app_context():
        eve = add_member(plan_world.company_id, "Eve New")
        job = db.session.get(TruckJourney, plan_world.second)
        job.crew = [*job.crew, eve.name]
        job.crew_member_ids = [*job.crew_member_ids, eve.id]
        job.dispatch_updated_at = utcnow()
        db.session.commit()
        eve_id = eve.id
    plan = _plan(app, plan_world)
    assert plan.state(plan_world.second, eve_id) == states.UNSENT
    assert plan.state(plan_world.second, plan_world.cy) == states.SENT


def test_answers_are_throttled_per_link(client, plan_world):
    token = plan_world.tokens[plan_world.dee]
    for _ in range(ANSWERS_PER_HOUR):
        assert _answer(client, token, "confirmed").status_code == 303
    response = _answer(client, token, "confirmed")
    assert response.status_code == 429
    assert "call the office" in response.get_data(as_text=True)
    assert _plan_count(client.application) == ANSWERS_PER_HOUR


def test_unconfirmed_is_a_blocker_only_after_plan_confirm_by(app, plan_world):
    with app.app_context():
        company = _company(plan_world)
        deadline = states.confirm_by(plan_world.day, company.timezone, app.config["PLAN_CONFIRM_BY"])
        job = db.session.get(TruckJourney, plan_world.first)
        before = states.readiness_blockers(plan_world.company_id, plan_world.day, [job],
                                           now=deadline - timedelta(minutes=1))
        after = states.readiness_blockers(plan_world.company_id, plan_world.day, [job], now=deadline)
    assert before == []
    assert [b["kind"] for b in after] == ["unconfirmed"]
    assert "Ana Driver" in after[0]["message"] and "Bo Mover" in after[0]["message"]


# -- the board and the API ---------------------------------------------------------------------------

def test_board_shows_each_persons_state_and_the_day_counter_within_one_poll(app, client, plan_world, make_user,
                                                                            login):
    login(make_user("ADMIN"))
    fragment = {"HX-Request": "true"}
    first = client.get("/board/tomorrow", headers=fragment)
    html = first.get_data(as_text=True)
    assert "<b>0 of 4</b> confirmed" in html
    assert 'class="pm pm-sent"' in html and "sent: </span>Ana Driver" in html
    etag = first.headers["ETag"]
    assert client.get("/board/tomorrow", headers=dict(fragment, **{"If-None-Match": etag})).status_code == 304
    with app.test_client() as phone:
        _answer(phone, plan_world.tokens[plan_world.ana], "confirmed")
        _answer(phone, plan_world.tokens[plan_world.bo], "declined", reason="Flat tyre")
    polled = client.get("/board/tomorrow", headers=dict(fragment, **{"If-None-Match": etag}))
    assert polled.status_code == 200
    html = polled.get_data(as_text=True)
    assert "<b>1 of 4</b> confirmed" in html
    assert "confirmed: </span>Ana Driver" in html and "declined: </span>Bo Mover" in html
    assert "Why Bo Mover can't" in html and "Flat tyre" in html
    _move_truck(app, plan_world.first, plan_world.truck7)
    html = client.get("/board/tomorrow", headers=fragment).get_data(as_text=True)
    assert "changed: </span>Ana Driver" in html


def test_job_json_carries_each_slots_confirmation(app, client, plan_world, make_user, login):
    login(make_user("DISPATCHER", locations=[_location(app, plan_world)]))
    with app.test_client() as phone:
        _answer(phone, plan_world.tokens[plan_world.dee], "confirmed")
    body = client.get(f"/api/smartmoving/jobs?date={plan_world.day.isoformat()}").get_json()
    slots = {slot["name"]: slot["confirmation"] for job in body["jobs"] for slot in job["crewSlots"]}
    assert slots == {"Ana Driver": "sent", "Bo Mover": "sent", "Cy Other": "sent", "Dee Lead": "confirmed"}
    one = client.get(f"/api/smartmoving/jobs/{plan_world.second}").get_json()
    assert [slot["confirmation"] for slot in one["crewSlots"]] == ["sent", "confirmed"]


def _location(app, world):
    from dashboard.models import Location
    with app.app_context():
        return db.session.get(Location, world.location_id)


def test_readiness_lists_declined_and_changed_people(app, client, plan_world, make_user, login):
    login(make_user("ADMIN"))
    with app.test_client() as phone:
        _answer(phone, plan_world.tokens[plan_world.cy], "declined", reason="Wedding")
        _answer(phone, plan_world.tokens[plan_world.ana], "confirmed")
    _move_truck(app, plan_world.first, plan_world.truck7)
    body = client.get(f"/api/smartmoving/readiness?date={plan_world.day.isoformat()}").get_json()
    mine = {(b["kind"], b["jobNumber"]) for b in body["blockers"] if b["kind"] in ("declined", "changed")}
    assert mine == {("declined", "J-200"), ("changed", "J-100")}
    assert body["ready"] is False


def test_each_persons_delivery_status_rides_on_their_mark(app, client, plan_world, make_user, login):
    from dashboard.plans.models import OutboxMessage
    with app.app_context():
        for member, status in ((plan_world.ana, "sent"), (plan_world.bo, "failed")):
            db.session.add(OutboxMessage(company_id=plan_world.company_id, plan_version_id=plan_world.version_id,
                                         crew_member_id=member, day=plan_world.day, version=1, channel="email",
                                         recipient="x@example.test", status=status, attempts=1))
        db.session.commit()
    marks = {mark.name: mark.delivery for mark in _plan(app, plan_world).marks_of(plan_world.first)}
    assert marks == {"Ana Driver": "sent", "Bo Mover": "failed"}
    login(make_user("ADMIN"))
    html = client.get("/board/tomorrow", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Ana Driver: sent · message sent" in html
    assert 'Bo Mover<b class="pm-dlv" aria-hidden="true">!</b><span class="sr-only"> (message failed)' in html


def test_taken_off_a_job_after_answering_shows_it_and_offers_no_answer(app, client, plan_world):
    token = plan_world.tokens[plan_world.bo]
    _answer(client, token, "confirmed")
    with app.app_context():
        job = db.session.get(TruckJourney, plan_world.first)
        job.crew, job.crew_member_ids = ["Ana Driver"], [plan_world.ana]
        job.dispatch_updated_at = utcnow()
        db.session.commit()
    html = _open(client, token).get_data(as_text=True)
    assert "No longer on job J-100" in html and "not on any job" in html
    assert "Gate code" not in html and 'value="confirmed"' not in html
    assert _answer(client, token, "confirmed").status_code == 422
