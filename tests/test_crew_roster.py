"""The roster (/crew), the crew member page and GET /api/smartmoving/crew (issue 17 §1, §5)."""
from datetime import datetime
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.crew import roster
from dashboard.db import db
from dashboard.models import AuditEvent
from dashboard.models import CrewMember
from dashboard.models import TimeOff
from dashboard.models import TruckJourney
from dashboard.models import User
from dashboard.timeutil import company_today
from tests.support import csrf_token_from
from tests.support import login_as
from tests.support import statements_sent
from tests.support.api import bearer


def _at(day, hour):
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=hour)


@pytest.fixture
def crew(app, default_company, make_location, make_company, make_user):
    """Two locations with people, one person without a location, an inactive one; jobs today, tomorrow, this week."""
    north = make_location("North", external_id="b-north")
    south = make_location("South", external_id="b-south")
    other = make_company("Rival Movers")
    with app.app_context():
        today = company_today(default_company.timezone)
        tomorrow = today + timedelta(days=1)
        monday = today - timedelta(days=today.weekday())
        company_id = default_company.id

        def person(name, location, status="Active", role=None, company=company_id):
            member = CrewMember(company_id=company, name=name, external_id=f"sm-{name}", status=status, role=role,
                                location_id=location.id if location else None)
            db.session.add(member)
            db.session.flush()
            return member

        ann = person("Ann North", north, role="driver")
        bob = person("Bob South", south, role="mover")
        cy = person("Cy Nowhere", None)
        old = person("Old Timer", north, status="Inactive")
        rival = person("Rival Rita", None, company=other.id)
        n = 0

        def job(day, start, hours, ours=None, theirs=None, status="BOOKED", company=company_id, location=north):
            nonlocal n
            n += 1
            row = TruckJourney(company_id=company, location_id=location.id, external_id=f"j{n}", job_number=f"J-{n}",
                               customer_name=f"C{n}", scheduled_date=day, status=status,
                               span_start=_at(day, start), span_end=_at(day, start + hours),
                               crew=[m.name for m in ours] if ours else None,
                               crew_member_ids=[m.id for m in ours] if ours else None,
                               smartmoving_crew=[m.name for m in theirs] if theirs else None,
                               smartmoving_crew_ids=[m.id for m in theirs] if theirs else None)
            db.session.add(row)
            db.session.flush()
            return row.id

        jobs = {
            "today": job(today, 8, 4, theirs=[ann, bob]),
            # Ours replaces SmartMoving's: Bob is not on this one, Ann is.
            "tomorrow": job(tomorrow, 9, 3, ours=[ann], theirs=[bob]),
            "cancelled": job(today, 13, 2, theirs=[ann], status="CANCELLED"),
            "monday": job(monday, 7, 2.5, theirs=[cy]),
        }
        off = TimeOff(company_id=company_id, crew_member_id=bob.id, starts_at=_at(tomorrow, 0),
                      ends_at=_at(tomorrow + timedelta(days=1), 0), reason="dentist")
        weekly = TimeOff(company_id=company_id, crew_member_id=cy.id, weekday=tomorrow.weekday(), reason="school run")
        db.session.add_all([off, weekly])
        db.session.commit()
        ids = {"ann": ann.id, "bob": bob.id, "cy": cy.id, "old": old.id, "rival": rival.id, "off": off.id,
               "weekly": weekly.id}
    users = {
        "admin": make_user("ADMIN"),
        "north": make_user("DISPATCHER", locations=[north]),
        "driver": make_user("DRIVER"),
        "auditor": make_user("AUDITOR"),
    }
    return {"today": today, "tomorrow": tomorrow, "monday": monday, "north": north, "south": south,
            "jobs": jobs, "users": users, **ids}


def _user(user_id):
    return db.session.get(User, user_id)


def test_roster_counts_jobs_hours_and_time_off_by_id(app, crew):
    with app.app_context():
        entries = {e.member.name: e for e in roster.roster_entries(
            roster.crew_in_scope(_user(crew["users"]["admin"].id)), crew["today"])}
        ann, bob, cy = entries["Ann North"], entries["Bob South"], entries["Cy Nowhere"]
        assert ann.today_job_ids == [crew["jobs"]["today"]] and ann.tomorrow_job_ids == [crew["jobs"]["tomorrow"]]
        assert bob.today_job_ids == [crew["jobs"]["today"]] and bob.tomorrow_job_ids == []
        assert "Rival Rita" not in entries
        monday, next_monday = roster.week_of(crew["today"])
        expected_ann = 4.0 + (3.0 if crew["tomorrow"] < next_monday else 0.0)   # the cancelled job books nothing
        assert ann.week_hours == pytest.approx(expected_ann)
        assert cy.week_hours == pytest.approx(2.5 if monday <= crew["monday"] else 0)
        assert [entry.id for entry in bob.time_off] == [crew["off"]]
        assert [entry.id for entry in cy.time_off] == [crew["weekly"]]


def test_roster_scope_dispatcher_sees_their_locations_only(app, crew):
    with app.app_context():
        north = {m.name for m in roster.crew_in_scope(_user(crew["users"]["north"].id))}
        everyone = {m.name for m in roster.crew_in_scope(_user(crew["users"]["admin"].id))}
        assert north == {"Ann North", "Old Timer"}                 # no South, no one without a location
        assert everyone == {"Ann North", "Bob South", "Cy Nowhere", "Old Timer"}
        assert roster.crew_in_scope(_user(crew["users"]["driver"].id)) == []
        assert roster.member_for(_user(crew["users"]["north"].id), crew["bob"]) is None
        assert roster.member_for(_user(crew["users"]["admin"].id), crew["rival"]) is None


def test_roster_page_groups_by_location_and_greys_the_inactive(client, crew):
    login_as(client, crew["users"]["admin"])
    html = client.get("/crew").get_data(as_text=True)
    assert html.index(">North") < html.index(">South") < html.index("No location")
    assert 'class="is-disabled"' in html and "Inactive" in html
    assert f'/crew/{crew["ann"]}' in html and "dentist" in html
    login_as(client, crew["users"]["north"])
    html = client.get("/crew").get_data(as_text=True)
    assert "Ann North" in html and "Bob South" not in html and "Cy Nowhere" not in html
    assert client.get(f"/crew?location={crew['south'].id}").status_code == 404
    assert client.get(f"/crew/{crew['bob']}").status_code == 404
    login_as(client, crew["users"]["driver"])
    assert client.get("/crew").status_code == 403


def test_roster_reads_in_a_fixed_number_of_queries(app, crew, client):
    with app.app_context():
        for n in range(40):
            db.session.add(CrewMember(company_id=crew["north"].company_id, name=f"Extra {n}", external_id=f"x{n}",
                                      location_id=crew["north"].id))
        db.session.commit()
    login_as(client, crew["users"]["admin"])
    client.get("/crew")   # warm-up: the session's user and company are loaded once per request anyway
    with statements_sent(app.extensions["sqlalchemy_engine"]) as sent:
        assert client.get("/crew").status_code == 200
    assert len(sent) <= 12, sent


def test_member_page_edits_our_fields_with_validation_and_audit(app, client, crew):
    login_as(client, crew["users"]["admin"])
    url = f"/crew/{crew['ann']}"
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    bad = client.post(url, data={"csrf_token": token, "role": "driver", "phone": "555-0101", "email": "nope",
                                 "notes": ""})
    assert bad.status_code == 422 and "digits, spaces" in bad.get_data(as_text=True)
    bad_mail = client.post(url, data={"csrf_token": token, "role": "driver", "phone": "+1 555 0101",
                                      "email": "not-an-address", "notes": ""})
    assert bad_mail.status_code == 422 and "Not an email address" in bad_mail.get_data(as_text=True)
    long_notes = client.post(url, data={"csrf_token": token, "role": "driver", "notes": "x" * 2001})
    assert long_notes.status_code == 422
    assert client.post(url, data={"role": "foreman"}).status_code in (400, 422)   # no CSRF token
    saved = client.post(url, data={"csrf_token": token, "role": "foreman", "phone": "+1 555 0101",
                                   "email": "ann@example.test", "notes": "Keys to truck 7"})
    assert saved.status_code == 302
    with app.app_context():
        ann = db.session.get(CrewMember, crew["ann"])
        assert (ann.role, ann.phone, ann.email, ann.notes) == ("foreman", "+1 555 0101", "ann@example.test",
                                                              "Keys to truck 7")
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "crew.member_updated")).one()
        assert event.detail["role"] == ["driver", "foreman"] and sorted(event.detail["changed"]) == [
            "email", "notes", "phone", "role"]


def test_member_page_is_read_only_without_edit_jobs(client, crew):
    login_as(client, crew["users"]["auditor"])
    page = client.get(f"/crew/{crew['ann']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="phone"' not in html
    assert client.post(f"/crew/{crew['ann']}", data={"csrf_token": csrf_token_from(html),
                                                     "role": "mover"}).status_code == 403


def test_crew_api_answers_availability_time_off_and_jobs(app, client, crew):
    headers = bearer(app, crew["users"]["admin"])
    body = client.get(f"/api/smartmoving/crew?date={crew['tomorrow']}", headers=headers).get_json()
    assert body["date"] == crew["tomorrow"].isoformat()
    people = {p["name"]: p for p in body["crew"]}
    assert "Old Timer" not in people and "Rival Rita" not in people       # inactive: never offered
    ann, bob, cy = people["Ann North"], people["Bob South"], people["Cy Nowhere"]
    assert ann == {"id": crew["ann"], "externalId": "sm-Ann North", "name": "Ann North", "role": "driver",
                   "location": {"id": crew["north"].id, "name": "North"}, "available": True, "timeOff": [],
                   "jobIds": [crew["jobs"]["tomorrow"]]}
    assert bob["available"] is False and bob["timeOff"][0]["reason"] == "dentist"
    assert bob["timeOff"][0]["from"] == bob["timeOff"][0]["to"] == crew["tomorrow"].isoformat()
    assert cy["available"] is False and cy["timeOff"][0]["id"] == crew["weekly"] and cy["location"] is None
    today = client.get(f"/api/smartmoving/crew?date={crew['today']}", headers=headers).get_json()
    assert {p["name"]: p["available"] for p in today["crew"]}["Bob South"] is True


def test_crew_api_scope_and_bad_input(app, client, crew):
    headers = bearer(app, crew["users"]["north"])
    day = crew["today"].isoformat()
    names = {p["name"] for p in client.get(f"/api/smartmoving/crew?date={day}", headers=headers).get_json()["crew"]}
    assert names == {"Ann North"}
    assert client.get(f"/api/smartmoving/crew?date={day}&location={crew['south'].id}",
                      headers=headers).status_code == 404
    assert client.get(f"/api/smartmoving/crew?date={day}&location=99999", headers=headers).status_code == 404
    assert client.get(f"/api/smartmoving/crew?date={day}&location=abc", headers=headers).status_code == 422
    for bad in ("", "2026-13-01", "tomorrow", "2026-02-30"):
        answer = client.get(f"/api/smartmoving/crew?date={bad}", headers=headers)
        assert answer.status_code == 422 and answer.get_json()["message"]
    assert client.get(f"/api/smartmoving/crew?date={day}").status_code == 401
    assert client.get(f"/api/smartmoving/crew?date={day}",
                      headers=bearer(app, crew["users"]["driver"])).status_code == 403
    assert client.get(f"/smartmoving/crew?date={day}", headers=headers).status_code == 200   # the seed prefix too


def test_roster_flags_a_person_off_but_booked_on_a_day_shown(app, client, crew):
    with app.app_context():
        bob = db.session.get(CrewMember, crew["bob"])
        booked = TruckJourney(company_id=bob.company_id, location_id=crew["south"].id, external_id="j-off",
                              job_number="J-off", customer_name="Off Day", scheduled_date=crew["tomorrow"],
                              status="BOOKED", span_start=_at(crew["tomorrow"], 10), span_end=_at(crew["tomorrow"], 12),
                              smartmoving_crew=[bob.name], smartmoving_crew_ids=[bob.id])
        db.session.add(booked)
        db.session.commit()
        entries = {e.member.name: e for e in roster.roster_entries(
            roster.crew_in_scope(_user(crew["users"]["admin"].id)), crew["today"])}
        assert entries["Bob South"].off_but_booked == [crew["tomorrow"]]   # off all day tomorrow, on J-off
        assert entries["Ann North"].off_but_booked == []                   # booked, not off
        assert entries["Cy Nowhere"].off_but_booked == []                  # off weekly, not booked on the day
    login_as(client, crew["users"]["admin"])
    html = client.get("/crew").get_data(as_text=True)
    assert html.count("Off but booked tomorrow") == 1
    # By id, like the job counts: a namesake's jobs never show.
    assert f'href="/board?date={crew["tomorrow"].isoformat()}&amp;member={crew["bob"]}"' in html
    board = client.get(f'/board?date={crew["tomorrow"].isoformat()}&member={crew["bob"]}').get_data(as_text=True)
    assert "J-off" in board and "Crew member: Bob South" in board
