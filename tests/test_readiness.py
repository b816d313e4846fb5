"""Readiness: what still blocks a day, as a service, the board's panel and GET /api/smartmoving/readiness."""
from datetime import timedelta

import pytest

from dashboard.confirm import states
from dashboard.db import db
from dashboard.models import User
from dashboard.readiness import blockers
from tests.support.api import bearer
from tests.support.readiness import add_fresh_sync
from tests.support.readiness import add_member
from tests.support.readiness import add_off
from tests.support.readiness import at
from tests.support.ui import add_job
from tests.support.ui import add_truck
from tests.support.ui import today_of


@pytest.fixture
def ready_place(app, default_company, make_location, make_user, make_company, monkeypatch):
    """Tomorrow at two locations of ours (and a rival's), a roster with a driver and movers, users.

    The clock reads six hours before PLAN_CONFIRM_BY, so `unconfirmed` (tested in test_confirmations)
    never joins these days' blockers when the suite happens to run in the evening.
    """
    class Place:
        pass
    p = Place()
    p.company = default_company
    p.north = make_location("North")
    p.south = make_location("South")
    p.rival = make_company("Rival Movers")
    p.rival_loc = make_location("Rival Depot", company=p.rival)
    p.day = today_of(app) + timedelta(days=1)
    deadline = states.confirm_by(p.day, default_company.timezone, app.config["PLAN_CONFIRM_BY"])
    monkeypatch.setattr(states, "utcnow", lambda: deadline - timedelta(hours=6))
    p.truck = add_truck(app, default_company, "Truck 7", location=p.north)
    p.truck_b = add_truck(app, default_company, "Truck 8", location=p.north)
    p.dana = add_member(app, default_company, "Dana Driver", role="driver", location=p.north)
    p.mo = add_member(app, default_company, "Mo Mover", role="mover", location=p.north)
    p.sal = add_member(app, default_company, "Sal Mover", role="mover", location=p.north)
    p.dispatcher = make_user("DISPATCHER", locations=[p.north])
    p.admin = make_user("ADMIN")
    p.driver = make_user("DRIVER")
    p.rival_admin = make_user("ADMIN", company=p.rival)
    add_fresh_sync(app, default_company)

    def job(start, end, location=None, **fields):
        fields.setdefault("smartmoving_crew", [])
        return add_job(app, location or p.north, day=p.day, span_start=at(p.day, start), span_end=at(p.day, end),
                       arrival_start_hour=float(start), **fields)
    p.job = job
    return p


def ready_job(p, start=8, end=12, **fields):
    """A job with truck, a driver and a mover: nothing blocks it."""
    values = dict(truck_id=p.truck, crew=["Dana Driver", "Mo Mover"], crew_member_ids=[p.dana, p.mo],
                  crew_required=2)
    values.update(fields)
    return p.job(start, end, **values)


def found(app, p, user):
    with app.app_context():
        return blockers.day_blockers(p.company.id, p.day, db.session.get(User, user.id))


def test_a_day_with_every_job_staffed_is_ready(app, ready_place):
    ready_job(ready_place)
    assert found(app, ready_place, ready_place.dispatcher) == []


def test_each_blocker_kind(app, ready_place):
    p = ready_place
    no_truck = p.job(8, 12, crew=["Sal Mover"], crew_member_ids=[p.sal])
    no_crew = p.job(13, 15, truck_id=p.truck_b)
    short = ready_job(p, 8, 12, crew_required=3)                         # understaffed; Dana and Mo
    movers_only = p.job(13, 16, truck_id=p.truck, crew=["Mo Mover"], crew_member_ids=[p.mo])   # no driver
    double = p.job(9, 11, truck_id=p.truck_b, crew=["Dana Driver"], crew_member_ids=[p.dana])  # Dana twice
    add_off(app, p.company, at(p.day, 0), at(p.day, 24), member_id=p.sal, reason="wedding")
    add_off(app, p.company, at(p.day, 14), at(p.day, 18), truck_id=p.truck_b, reason="inspection")
    got = found(app, p, p.dispatcher)
    by_kind = {}
    for blocker in got:
        by_kind.setdefault(blocker["kind"], set()).add(blocker["jobId"])
    assert by_kind["unassigned-truck"] == {no_truck}
    assert no_crew in by_kind["unassigned-crew"]
    assert short in by_kind["understaffed"]
    assert movers_only in by_kind["no-driver"]
    assert {short, double} <= by_kind["conflict"]
    assert by_kind["timeoff"] == {no_truck}
    assert by_kind["truck-unavailable"] == {no_crew}
    assert "stale-sync" not in by_kind
    kinds = [blocker["kind"] for blocker in got]
    assert kinds == sorted(kinds, key=blockers.KIND_ORDER.index)      # grouped in the panel's order
    message = next(b["message"] for b in got if b["kind"] == "timeoff")
    assert "Sal Mover" in message and "wedding" in message


def test_finished_and_cancelled_jobs_block_nothing(app, ready_place):
    p = ready_place
    p.job(8, 12, status="CANCELLED")
    p.job(8, 12, dispatch_status="COMPLETED")
    assert found(app, p, p.dispatcher) == []


def test_a_stale_sync_blocks_the_day(app, default_company, make_user, make_location):
    loc = make_location("Solo")
    user = make_user("ADMIN")
    add_fresh_sync(app, default_company, minutes_ago=600)
    got = found_day(app, default_company, today_of(app), user)
    assert [b["kind"] for b in got] == ["stale-sync"] and got[0]["jobId"] is None
    assert loc


def found_day(app, company, day, user):
    with app.app_context():
        return blockers.day_blockers(company.id, day, db.session.get(User, user.id))


def test_a_dispatcher_sees_only_their_locations(app, ready_place):
    p = ready_place
    mine = p.job(8, 12)
    theirs = p.job(8, 12, location=p.south)
    assert {b["jobId"] for b in found(app, p, p.dispatcher)} == {mine}
    assert {b["jobId"] for b in found(app, p, p.admin)} == {mine, theirs}


def test_a_check_registered_by_another_feature_is_listed(app, ready_place, monkeypatch):
    p = ready_place
    job = ready_job(p)

    def unconfirmed(view):
        return [{"kind": "unconfirmed", "jobId": j.id, "jobNumber": j.job_number, "message": "Nobody confirmed."}
                for j in view.jobs]
    monkeypatch.setattr(blockers, "CHECKS", list(blockers.CHECKS))
    monkeypatch.setattr(blockers, "KIND_ORDER", list(blockers.KIND_ORDER))
    blockers.register(unconfirmed, kinds=["unconfirmed"])
    assert found(app, p, p.dispatcher) == [{"kind": "unconfirmed", "jobId": job, "jobNumber": found_number(app, job),
                                            "message": "Nobody confirmed."}]


def found_number(app, job_id):
    from dashboard.models import TruckJourney
    with app.app_context():
        return db.session.get(TruckJourney, job_id).job_number


def test_api_answers_the_day_scoped_and_refuses_bad_dates(app, client, ready_place):
    p = ready_place
    blocked = p.job(8, 12)
    p.job(8, 12, location=p.south)
    url = f"/api/smartmoving/readiness?date={p.day.isoformat()}"
    answer = client.get(url, headers=bearer(app, p.dispatcher))
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["date"] == p.day.isoformat() and body["ready"] is False
    assert {b["jobId"] for b in body["blockers"]} == {blocked}
    assert set(body["blockers"][0]) == {"kind", "jobId", "jobNumber", "message"}
    for bad in ("", "2026-13-01", "tomorrow", "2026-02-30"):
        response = client.get(f"/api/smartmoving/readiness?date={bad}", headers=bearer(app, p.dispatcher))
        assert response.status_code == 422 and "YYYY-MM-DD" in response.get_json()["message"]
    assert client.get(url).status_code == 401
    assert client.get(url, headers=bearer(app, p.driver)).status_code == 403
    rival = client.get(url, headers=bearer(app, p.rival_admin)).get_json()
    assert blocked not in {b["jobId"] for b in rival["blockers"]}


def test_api_says_ready_for_a_ready_day(app, client, ready_place):
    ready_job(ready_place)
    body = client.get(f"/api/smartmoving/readiness?date={ready_place.day.isoformat()}",
                      headers=bearer(app, ready_place.admin)).get_json()
    assert body == {"date": ready_place.day.isoformat(), "ready": True, "synced": True, "blockers": []}


def test_the_board_panel_counts_groups_and_links_to_the_assign_panel(app, client, ready_place, login):
    p = ready_place
    blocked = p.job(8, 12)
    login(p.dispatcher)
    board = client.get("/board/tomorrow").get_data(as_text=True)
    assert 'id="readiness"' in board and f"/readiness/panel?date={p.day.isoformat()}" in board
    panel = client.get(f"/readiness/panel?date={p.day.isoformat()}").get_data(as_text=True)
    assert "Tomorrow: <b>2</b> blockers" in panel
    assert "No truck" in panel and "No crew" in panel
    assert f'href="/jobs/{blocked}/assign" data-assign' in panel
    assert client.get("/readiness/panel?date=nope").status_code == 422


def test_the_panel_says_ready_in_words(app, client, ready_place, login):
    ready_job(ready_place)
    login(ready_place.dispatcher)
    panel = client.get(f"/readiness/panel?date={ready_place.day.isoformat()}").get_data(as_text=True)
    assert "<b>Ready</b>" in panel and "is-ready" in panel


def test_the_panel_is_for_board_roles_only(app, client, ready_place, login):
    login(ready_place.driver)
    assert client.get(f"/readiness/panel?date={ready_place.day.isoformat()}").status_code == 403


def test_kinds_are_listed_most_urgent_first():
    order = blockers.KIND_ORDER
    urgent = ["declined", "changed", "upstream-change", "conflict", "timeoff", "truck-unavailable", "no-driver",
              "understaffed", "unassigned-truck", "unassigned-crew", "unconfirmed", "stale-sync"]
    assert [kind for kind in order if kind in urgent] == urgent


def test_the_panel_line_drops_the_group_heading_but_the_api_keeps_it(app, client, ready_place, login):
    p = ready_place
    short = ready_job(p, 8, 12, crew_required=5)
    p.job(13, 15)                                                      # no truck, no crew
    login(p.admin)
    api = client.get(f"/api/smartmoving/readiness?date={p.day.isoformat()}").get_json()
    message = next(b["message"] for b in api["blockers"] if b["kind"] == "understaffed")
    assert "Understaffed: " in message                               # the API's message stands on its own
    panel = client.get(f"/readiness/panel?date={p.day.isoformat()}").get_data(as_text=True)
    number = found_number(app, short)
    assert f"{number}: 2 of 5" in panel and f"{number}: Understaffed:" not in panel
    assert panel.index('data-kind="understaffed"') < panel.index('data-kind="unassigned-truck"')
    kinds = [b["kind"] for b in api["blockers"]]
    assert kinds.index("understaffed") < kinds.index("unassigned-truck")   # the API lists in the panel's order


def test_line_under_keeps_messages_without_the_heading():
    blocker = {"kind": "unassigned-truck", "jobId": 3, "jobNumber": "J-3", "message": "J-3 has no truck."}
    assert blockers.line_under("No truck", blocker) == "J-3 has no truck."
    day = {"kind": "no-driver", "jobId": None, "jobNumber": None, "message": "No driver: nobody drives."}
    assert blockers.line_under("No driver", day) == "Nobody drives."
