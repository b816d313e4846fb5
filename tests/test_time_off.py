"""Time off and trucks out of service (issue 17 §2): parsing, who may edit whom, the read side, the API and pages."""
from datetime import date
from datetime import datetime
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.crew import availability
from dashboard.crew import time_off
from dashboard.crew.time_off import TimeOffError
from dashboard.db import db
from dashboard.demo import seed_demo_time_off
from dashboard.models import AuditEvent
from dashboard.models import Company
from dashboard.models import TimeOff
from dashboard.models import TruckJourney
from dashboard.models import User
from dashboard.timeutil import company_today
from tests.support import csrf_token_from
from tests.support import login_as
from tests.support.api import bearer
from tests.support.time_off import build_time_off_world

D = datetime


@pytest.fixture
def crew_world(app, default_company, make_location, make_company, make_user, cheap_passwords):
    return build_time_off_world(app, default_company, make_location, make_company, make_user)


def _actor(world, key):
    return db.session.get(User, world["users"][key].id)


# ---------------------------------------------------------------- parsing (no database)

@pytest.mark.parametrize(("start", "end", "expected"), [
    ("2026-12-11", None, (D(2026, 12, 11), D(2026, 12, 12))),
    ("2026-12-11", "", (D(2026, 12, 11), D(2026, 12, 12))),
    ("2026-12-11", "2026-12-13", (D(2026, 12, 11), D(2026, 12, 14))),          # D1..D2 inclusive
    ("2026-12-11T08:00", "2026-12-11T12:30", (D(2026, 12, 11, 8), D(2026, 12, 11, 12, 30))),
    ("2026-12-11T08:00", "2026-12-12", (D(2026, 12, 11, 8), D(2026, 12, 13))),
    ("2026-12-11", "2026-12-11T10:00", (D(2026, 12, 11), D(2026, 12, 11, 10))),
    ("2026-01-01", "2027-01-01", (D(2026, 1, 1), D(2027, 1, 2))),               # 366 days: the most allowed
])
def test_parse_range_accepts_days_ranges_and_parts_of_days(start, end, expected):
    assert time_off.parse_range(start, end) == expected


@pytest.mark.parametrize(("start", "end", "says"), [
    ("2026-12-12", "2026-12-11", "after"),                   # reversed
    ("2026-12-11T12:00", "2026-12-11T08:00", "after"),
    ("2026-12-11T08:00", "2026-12-11T08:00", "after"),       # empty
    ("2026-01-01", "2027-01-02", "366"),                     # too long
    ("11/12/2026", None, "YYYY-MM-DD"),
    ("2026-02-30", None, "YYYY-MM-DD"),
    ("2026-12-11T25:00", "2026-12-11T26:00", "YYYY-MM-DD"),
    ("1999-12-31", None, "2000"),
    ("2026-12-11T08:00", None, "to is needed"),
    (20261211, None, "YYYY-MM-DD"),
    ("２０２６-12-11", None, "YYYY-MM-DD"),                   # non-ASCII digits
])
def test_parse_range_refuses_reversed_unparseable_and_long_ranges(start, end, says):
    with pytest.raises(TimeOffError, match=says) as refused:
        time_off.parse_range(start, end)
    assert refused.value.status == 422


def test_reason_weekday_and_form_bounds():
    assert time_off.clean_reason("  dentist \n appt ") == "dentist appt"
    assert time_off.clean_reason(None) == ""
    with pytest.raises(TimeOffError, match="200"):
        time_off.clean_reason("x" * 201)
    with pytest.raises(TimeOffError):
        time_off.clean_reason(5)
    assert [time_off.parse_weekday(v) for v in (6, "6", "sun", "Sunday", "MON")] == [6, 6, 6, 6, 0]
    with pytest.raises(TimeOffError):
        time_off.parse_weekday("7")
    assert time_off.compose_bounds("2026-12-11") == ("2026-12-11", "2026-12-11")
    assert time_off.compose_bounds("2026-12-11", "08:00", "", "12:00") == ("2026-12-11T08:00", "2026-12-11T12:00")
    assert time_off.compose_bounds("2026-12-11", "13:00") == ("2026-12-11T13:00", "2026-12-11")


def test_off_period_text_and_overlaps():
    dentist = availability.OffPeriod(1, D(2026, 12, 11), D(2026, 12, 12), "dentist", False)
    brakes = availability.OffPeriod(2, D(2026, 12, 11, 8), D(2026, 12, 11, 12), "brakes", False, truck=True)
    sundays = availability.OffPeriod(3, D(2026, 12, 13), D(2026, 12, 14), "", True, 6)
    assert dentist.text == "Off Fri 11 Dec (dentist)"
    assert brakes.text == "Out of service Fri 11 Dec 08:00–12:00 (brakes)"
    assert sundays.text == "Off every Sunday"
    periods = [dentist, brakes, sundays]
    assert availability.overlaps(periods, D(2026, 12, 11, 12), D(2026, 12, 11, 16)) == [dentist]  # end is open
    assert availability.overlaps(periods, D(2026, 12, 11, 7), D(2026, 12, 11, 9)) == [dentist, brakes]
    assert availability.overlaps(periods, None, None, date(2026, 12, 13)) == [sundays]   # no span: the whole day
    assert availability.overlaps(periods, None, None) == []


# ---------------------------------------------------------------- service rules (both databases)

def test_dispatch_edits_people_in_scope_only(app, crew_world):
    people = crew_world["people"]
    with app.app_context():
        dispatcher = _actor(crew_world, "dispatcher")
        entry = time_off.add_for_person(dispatcher, people["ann"], "2026-12-11", None, "dentist")
        db.session.commit()
        assert (entry.starts_at, entry.ends_at, entry.reason) == (D(2026, 12, 11), D(2026, 12, 12), "dentist")
        for key, status in (("bob", 403), ("nola", 403), ("rita", 404)):   # other location, no location, rival
            with pytest.raises(TimeOffError) as refused:
                time_off.add_for_person(dispatcher, people[key], "2026-12-11")
            assert refused.value.status == status, key
        with pytest.raises(TimeOffError) as refused:
            time_off.add_for_person(dispatcher, 999999, "2026-12-11")
        assert refused.value.status == 404
        admin = _actor(crew_world, "admin")
        time_off.add_for_person(admin, people["nola"], "2026-12-11")    # company-wide roles: no location too
        with pytest.raises(TimeOffError) as refused:
            time_off.add_for_person(_actor(crew_world, "auditor"), people["ann"], "2026-12-11")
        assert refused.value.status == 403


def test_a_linked_crew_member_edits_themself_only(app, crew_world):
    people = crew_world["people"]
    with app.app_context():
        ann = _actor(crew_world, "ann")
        entry = time_off.add_for_person(ann, people["ann"], "2026-12-11T08:00", "2026-12-11T12:00", "school run")
        db.session.commit()
        with pytest.raises(TimeOffError) as refused:
            time_off.add_for_person(ann, people["bob"], "2026-12-11")
        assert refused.value.status == 403
        with pytest.raises(TimeOffError) as refused:
            time_off.remove(_actor(crew_world, "bob"), entry.id)
        assert refused.value.status == 403
        time_off.remove(ann, entry.id)
        db.session.commit()
        assert db.session.get(TimeOff, entry.id) is None


def test_adds_and_removals_are_audited_and_a_double_tap_adds_once(app, crew_world):
    people, trucks = crew_world["people"], crew_world["trucks"]
    with app.app_context():
        admin = _actor(crew_world, "admin")
        first = time_off.add_for_person(admin, people["ann"], "2026-12-11")
        again = time_off.add_for_person(admin, people["ann"], "2026-12-11", "2026-12-11")
        weekly = time_off.add_weekly(admin, people["ann"], "sun")
        assert time_off.add_weekly(admin, people["ann"], 6).id == weekly.id
        period = time_off.add_for_truck(admin, trucks["t1"], "2026-12-11T08:00", "2026-12-11T12:00", "brakes")
        db.session.commit()
        assert again.id == first.id
        time_off.remove(admin, first.id)
        time_off.remove(admin, period.id)
        db.session.commit()
        actions = list(db.session.scalars(sa.select(AuditEvent.action).where(
            AuditEvent.action.not_like("user.%")).order_by(AuditEvent.id)))
        assert actions == ["crew.time_off_added", "crew.time_off_added", "truck.out_of_service_added",
                           "crew.time_off_removed", "truck.out_of_service_removed"]
        last = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert last.target == f"truck:{trucks['t1']}" and last.detail["reason"] == "brakes"


def test_trucks_are_edited_by_edit_jobs_roles_in_scope(app, crew_world):
    trucks = crew_world["trucks"]
    with app.app_context():
        dispatcher = _actor(crew_world, "dispatcher")
        time_off.add_for_truck(dispatcher, trucks["t1"], "2026-12-11")
        for actor, truck, status in (("dispatcher", "t2", 403), ("dispatcher", "tr", 404), ("ann", "t1", 403),
                                     ("auditor", "t1", 403)):
            with pytest.raises(TimeOffError) as refused:
                time_off.add_for_truck(_actor(crew_world, actor), trucks[truck], "2026-12-11")
            assert refused.value.status == status, (actor, truck)
        assert [t.name for t in time_off.trucks_in_scope(dispatcher)] == ["101"]


def test_off_for_people_and_trucks_read_one_window(app, crew_world):
    people, trucks, company_id = crew_world["people"], crew_world["trucks"], crew_world["company"].id
    with app.app_context():
        admin = _actor(crew_world, "admin")
        time_off.add_for_person(admin, people["ann"], "2026-12-11", None, "dentist")          # Friday
        time_off.add_for_person(admin, people["ann"], "2026-12-20")                            # outside
        time_off.add_weekly(admin, people["bob"], 6)                                           # Sundays
        time_off.add_for_truck(admin, trucks["t1"], "2026-12-12T08:00", "2026-12-12T12:00", "brakes")
        db.session.commit()
        week = availability.off_for_people(company_id, date(2026, 12, 7), date(2026, 12, 14))   # Mon..Sun
        assert [p.text for p in week[people["ann"]]] == ["Off Fri 11 Dec (dentist)"]
        assert [(p.start, p.weekly) for p in week[people["bob"]]] == [(D(2026, 12, 13), True)]
        two_weeks = availability.off_for_people(company_id, D(2026, 12, 7), D(2026, 12, 21))
        assert len(two_weeks[people["bob"]]) == 2 and len(two_weeks[people["ann"]]) == 2
        friday = availability.off_for_people(company_id, D(2026, 12, 11), D(2026, 12, 12))
        assert set(friday) == {people["ann"]}
        saturday = availability.off_for_trucks(company_id, D(2026, 12, 12), D(2026, 12, 13))
        assert [p.text for p in saturday[trucks["t1"]]] == ["Out of service Sat 12 Dec 08:00–12:00 (brakes)"]
        assert availability.off_for_trucks(company_id, D(2026, 12, 12, 12), D(2026, 12, 13)) == {}
        assert availability.off_for_people(crew_world["rival_company"].id, D(2026, 12, 1), D(2026, 12, 31)) == {}


# ---------------------------------------------------------------- JSON API

def _post(client, member_id, body, headers):
    return client.post(f"/api/smartmoving/crew/{member_id}/time-off", json=body, headers=headers)


def test_api_adds_and_deletes_time_off(app, client, crew_world):
    ann_id = crew_world["people"]["ann"]
    dispatch = bearer(app, crew_world["users"]["dispatcher"])
    answer = _post(client, ann_id, {"from": "2026-12-11", "to": "2026-12-12", "reason": "wedding"}, dispatch)
    assert answer.status_code == 201
    entry = answer.get_json()
    assert entry == {"id": entry["id"], "crewMemberId": ann_id, "from": "2026-12-11", "to": "2026-12-12",
                     "reason": "wedding", "weekday": None}
    part = _post(client, ann_id, {"from": "2026-12-14T08:00", "to": "2026-12-14T11:30"},
                 bearer(app, crew_world["users"]["ann"]))   # the person themself, at the seed's prefix too
    assert part.status_code == 201 and part.get_json()["to"] == "2026-12-14T11:30"
    assert client.delete(f"/api/smartmoving/time-off/{entry['id']}", headers=dispatch).status_code == 204
    assert client.delete(f"/api/smartmoving/time-off/{entry['id']}", headers=dispatch).status_code == 404
    seed = client.post(f"/smartmoving/crew/{ann_id}/time-off", json={"from": "2026-12-15"}, headers=dispatch)
    assert seed.status_code == 201


def test_api_refuses_with_403_404_422_never_5xx(app, client, crew_world):
    people = crew_world["people"]
    dispatch = bearer(app, crew_world["users"]["dispatcher"])
    bob = bearer(app, crew_world["users"]["bob"])
    assert _post(client, people["ann"], {"from": "2026-12-11"}, bob).status_code == 403
    assert _post(client, people["bob"], {"from": "2026-12-11"}, dispatch).status_code == 403
    assert _post(client, people["rita"], {"from": "2026-12-11"}, dispatch).status_code == 404
    assert _post(client, 2**31 - 1, {"from": "2026-12-11"}, dispatch).status_code == 404
    for body in ({"from": "2026-12-12", "to": "2026-12-11"}, {"from": "soon"}, {"from": "2026-01-01",
                 "to": "2027-06-01"}, {"to": "2026-12-11"}, {"from": "2026-12-11", "when": "x"}, ["2026-12-11"],
                 {"from": "2026-12-11", "reason": "x" * 201}, {"from": None}, {"from": "2026-12-11", "to": 5}):
        answer = _post(client, people["ann"], body, dispatch)
        assert answer.status_code == 422, body
        assert answer.get_json()["error"] and answer.get_json()["message"]
    assert client.post(f"/api/smartmoving/crew/{people['ann']}/time-off", data="{nope",
                       content_type="application/json", headers=dispatch).status_code == 422
    assert client.post(f"/api/smartmoving/crew/{people['ann']}/time-off",
                       json={"from": "2026-12-11"}).status_code == 401
    entry = _post(client, people["bob"], {"from": "2026-12-11"}, bob).get_json()
    assert client.delete(f"/api/smartmoving/time-off/{entry['id']}", headers=dispatch).status_code == 403
    rival = bearer(app, crew_world["users"]["rival_admin"])
    assert client.delete(f"/api/smartmoving/time-off/{entry['id']}", headers=rival).status_code == 404


def test_api_cookie_writes_need_the_csrf_token(app, client, crew_world):
    login_as(client, crew_world["users"]["ann"])
    answer = _post(client, crew_world["people"]["ann"], {"from": "2026-12-11"}, {})
    assert answer.status_code == 400
    token = csrf_token_from(client.get("/me/availability").get_data(as_text=True))
    answer = _post(client, crew_world["people"]["ann"], {"from": "2026-12-11"}, {"X-CSRFToken": token})
    assert answer.status_code == 201


# ---------------------------------------------------------------- pages

def test_my_availability_marks_a_day_off_toggles_a_weekday_and_removes(app, client, crew_world):
    login_as(client, crew_world["users"]["ann"])
    page = client.get("/me/availability")
    assert page.status_code == 200 and b"My availability" in page.data and b"Ann North" in page.data
    token = csrf_token_from(page.get_data(as_text=True))
    day = date.today() + timedelta(days=3)
    htmx = {"HX-Request": "true"}
    marked = client.post("/me/availability", data={"csrf_token": token, "day": day.isoformat(),
                                                   "reason": "<b>dentist</b>"}, headers=htmx)
    assert marked.status_code == 200
    html = marked.get_data(as_text=True)
    assert "Marked off" in html and "&lt;b&gt;dentist&lt;/b&gt;" in html and "<b>dentist" not in html
    toggled = client.post("/me/availability/weekly/6", data={"csrf_token": token}, headers=htmx)
    assert 'aria-pressed="true"' in toggled.get_data(as_text=True)
    with app.app_context():
        rows = list(db.session.scalars(sa.select(TimeOff).order_by(TimeOff.id)))
        assert [(r.crew_member_id, r.weekday) for r in rows] == [(crew_world["people"]["ann"], None),
                                                                   (crew_world["people"]["ann"], 6)]
        dated_id = rows[0].id
    assert client.post("/me/availability", data={"csrf_token": token}, headers=htmx).status_code == 200  # no day
    removed = client.post(f"/time-off/{dated_id}/remove", data={"csrf_token": token, "view": "me"})
    assert removed.status_code == 302
    assert client.post("/me/availability/weekly/6", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TimeOff)) == 0
    assert client.post("/me/availability/weekly/6", data={}).status_code == 400   # no CSRF token


def test_unlinked_users_see_a_hint_and_cannot_write(app, client, crew_world):
    login_as(client, crew_world["users"]["auditor"])
    page = client.get("/me/availability")
    assert b"not linked to a crew member" in page.data
    token = csrf_token_from(page.get_data(as_text=True))
    assert client.post("/me/availability", data={"csrf_token": token, "day": "2026-12-11"}).status_code == 403
    assert client.get("/trucks/service").status_code == 403


def test_dispatch_adds_time_off_on_the_member_partial_and_trucks_page(app, client, crew_world):
    people, trucks = crew_world["people"], crew_world["trucks"]
    login_as(client, crew_world["users"]["dispatcher"])
    page = client.get("/trucks/service")
    assert page.status_code == 200 and b"101" in page.data and b"202" not in page.data
    token = csrf_token_from(page.get_data(as_text=True))
    htmx = {"HX-Request": "true"}
    friday = date.today() + timedelta(days=7 + (4 - date.today().weekday()) % 7)
    added = client.post(f"/crew/{people['ann']}/time-off", headers=htmx, data={
        "csrf_token": token, "from": friday.isoformat(), "to": (friday + timedelta(days=1)).isoformat(),
        "reason": "wedding"})
    saturday = friday + timedelta(days=1)
    expected = f"Fri {friday.day} {friday:%b} – Sat {saturday.day} {saturday:%b} (wedding)"
    assert added.status_code == 200 and expected in added.get_data(as_text=True)
    bad = client.post(f"/crew/{people['ann']}/time-off", headers=htmx, data={
        "csrf_token": token, "from": "2026-12-12", "to": "2026-12-11"})
    assert "to must come after from" in bad.get_data(as_text=True)
    assert client.post(f"/crew/{people['bob']}/time-off", headers=htmx, data={
        "csrf_token": token, "from": "2026-12-11"}).status_code == 403
    assert client.post(f"/crew/{people['rita']}/time-off", headers=htmx, data={
        "csrf_token": token, "from": "2026-12-11"}).status_code == 404
    weekly = client.post(f"/crew/{people['ann']}/time-off", headers=htmx, data={"csrf_token": token, "weekday": "6"})
    assert "Every Sunday" in weekly.get_data(as_text=True)
    period = client.post("/trucks/service", headers=htmx, data={
        "csrf_token": token, "truck_id": str(trucks["t1"]), "from": friday.isoformat(), "from_time": "08:00",
        "to_time": "12:00", "reason": "brakes"})
    assert f"Fri {friday.day} {friday:%b} 08:00–12:00 (brakes)" in period.get_data(as_text=True)
    assert client.post("/trucks/service", headers=htmx, data={
        "csrf_token": token, "truck_id": str(trucks["t2"]), "from": "2026-12-11"}).status_code == 403


# ---------------------------------------------------------------- demo data

def test_demo_time_off_blocks_tomorrow_once(app, crew_world):
    company = crew_world["company"]
    with app.app_context():
        tomorrow = company_today(company.timezone) + timedelta(days=1)
        job = TruckJourney(company_id=company.id, location_id=crew_world["north"].id, external_id="job-t",
                           job_number="J-t", customer_name="C", scheduled_date=tomorrow, data_source="SMARTMOVING",
                           smartmoving_crew=["Ann North"])
        db.session.add(job)
        db.session.commit()
        for _ in range(2):   # a restart the same day adds nothing
            with db.write_transaction() as session:
                lines = list(seed_demo_time_off(session, session.get(Company, company.id)))
        assert lines == []
        start = time_off.midnight(tomorrow)
        people = availability.off_for_people(company.id, start, start + timedelta(days=1))
        assert crew_world["people"]["ann"] in people                       # assigned tomorrow and off
        assert len(people) >= 2
        trucks = availability.off_for_trucks(company.id, start, start + timedelta(days=1))
        job = db.session.get(TruckJourney, job.id)
        assert list(trucks) == [job.truck_id]                              # the job's truck is out of service
        weekly = db.session.scalars(sa.select(TimeOff).where(TimeOff.weekday == 6)).all()
        assert len(weekly) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TimeOff)) == 4


def test_remove_buttons_redraw_their_own_list(app, client, crew_world):
    people, trucks = crew_world["people"], crew_world["trucks"]
    with app.app_context():
        admin = _actor(crew_world, "admin")
        day = date.today() + timedelta(days=2)
        person = time_off.add_for_person(admin, people["ann"], day.isoformat(), None, "dentist").id
        truck = time_off.add_for_truck(admin, trucks["t1"], day.isoformat(), None, "brakes").id
        db.session.commit()
    login_as(client, crew_world["users"]["dispatcher"])
    token = csrf_token_from(client.get("/trucks/service").get_data(as_text=True))
    htmx = {"HX-Request": "true"}
    answer = client.post(f"/time-off/{person}/remove", headers=htmx, data={"csrf_token": token, "view": "member"})
    assert answer.status_code == 200 and 'id="time-off-' in answer.get_data(as_text=True)
    assert "Removed" in answer.get_data(as_text=True) and "dentist" in answer.get_data(as_text=True)
    answer = client.post(f"/time-off/{truck}/remove", headers=htmx, data={"csrf_token": token})
    assert answer.status_code == 200 and 'id="truck-off"' in answer.get_data(as_text=True)
    assert client.post(f"/time-off/{truck}/remove", data={"csrf_token": token}).status_code == 404
