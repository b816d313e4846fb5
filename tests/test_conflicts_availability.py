"""Time off, trucks out of service, crew size and drivers in the conflict engine; crew ids on save."""
from datetime import date
from datetime import datetime
from datetime import timedelta

import pytest

from dashboard.db import db
from dashboard.jobs import conflicts
from dashboard.jobs import crew_size
from dashboard.jobs import dispatch
from dashboard.jobs.serialize import job_to_dict
from dashboard.models import TruckJourney
from dashboard.models import User
from tests.support.readiness import add_member
from tests.support.readiness import add_off
from tests.support.readiness import at
from tests.support.ui import add_job
from tests.support.ui import add_truck
from tests.support.ui import today_of


@pytest.fixture
def crew_place(app, default_company, make_location, make_user):
    """A location, two trucks, a roster (a driver, two movers, two people called Pat, one inactive) and a dispatcher."""
    class Place:
        pass
    p = Place()
    p.company = default_company
    p.loc = make_location("Alpha")
    p.truck = add_truck(app, default_company, "Truck 7", location=p.loc)
    p.truck_b = add_truck(app, default_company, "Truck 8", location=p.loc)
    p.day = today_of(app)
    p.dana = add_member(app, default_company, "Dana Driver", role="driver", location=p.loc)
    p.mo = add_member(app, default_company, "Mo Mover", role="mover", location=p.loc)
    p.pat1 = add_member(app, default_company, "Pat Same", role="mover", location=p.loc, external_id="pat-1")
    p.pat2 = add_member(app, default_company, "Pat Same", role="driver", location=p.loc, external_id="pat-2")
    p.gone = add_member(app, default_company, "Ira Inactive", role="mover", status="inactive")
    p.dispatcher = make_user("DISPATCHER", locations=[p.loc])

    def job(start, end, **fields):
        fields.setdefault("smartmoving_crew", [])
        return add_job(app, p.loc, span_start=at(p.day, start), span_end=at(p.day, end),
                       arrival_start_hour=float(start), **fields)
    p.job = job
    return p


def kinds(app, place, job_id):
    with app.app_context():
        return sorted(c.kind for c in conflicts.day_conflicts(place.company.id, place.day).get(job_id, []))


def test_a_person_off_during_the_job_is_a_timeoff_conflict_and_outside_it_is_not(app, crew_place):
    p = crew_place
    morning = p.job(8, 12, crew=["Mo Mover"], crew_member_ids=[p.mo])
    evening = p.job(15, 18, crew=["Mo Mover"], crew_member_ids=[p.mo])
    add_off(app, p.company, at(p.day, 7), at(p.day, 9), member_id=p.mo, reason="dentist")
    assert kinds(app, p, morning) == ["timeoff"]
    assert kinds(app, p, evening) == []
    with app.app_context():
        clash = conflicts.day_conflicts(p.company.id, p.day)[morning][0]
        assert clash.name == "Mo Mover" and "dentist" in clash.text
        assert "Mo Mover is off" in conflicts.describe(clash, False)


def test_weekly_time_off_and_a_typed_name_of_a_unique_person_count(app, crew_place):
    p = crew_place
    job = p.job(8, 12, crew=["mo  mover"])       # typed, no id: a unique active name still matches
    add_off(app, p.company, weekday=p.day.weekday(), member_id=p.mo, reason="never on this day")
    assert kinds(app, p, job) == ["timeoff"]


def test_a_truck_out_of_service_during_the_job_is_truck_unavailable(app, crew_place):
    p = crew_place
    job = p.job(8, 12, truck_id=p.truck, crew=["Dana Driver"], crew_member_ids=[p.dana])
    add_off(app, p.company, at(p.day, 11), at(p.day, 14), truck_id=p.truck, reason="brakes")
    add_off(app, p.company, at(p.day, 8), at(p.day, 12), truck_id=p.truck_b, reason="other truck")
    assert kinds(app, p, job) == ["truck-unavailable"]
    with app.app_context():
        user = db.session.get(User, p.dispatcher.id)
        data = job_to_dict(db.session.get(TruckJourney, job), user)
        item = data["conflicts"][0]
        assert item["kind"] == "truck-unavailable" and item["jobNumber"] is None and "brakes" in item["text"]


def test_namesakes_with_ids_never_clash_but_the_same_id_does(app, crew_place):
    p = crew_place
    first = p.job(8, 12, crew=["Pat Same"], crew_member_ids=[p.pat1])
    p.job(9, 11, crew=["Pat Same"], crew_member_ids=[p.pat2])
    assert kinds(app, p, first) == []
    p.job(10, 13, crew=["Pat Same"], crew_member_ids=[p.pat1])
    assert kinds(app, p, first) == ["crew"]


def test_understaffed_and_no_driver_flags(app, crew_place):
    p = crew_place
    short = p.job(8, 12, truck_id=p.truck, crew=["Mo Mover"], crew_member_ids=[p.mo], crew_required=3)
    full = p.job(8, 12, truck_id=p.truck_b, crew=["Dana Driver", "Mo Mover"], crew_member_ids=[p.dana, p.mo],
                 crew_required=2)
    no_truck = p.job(13, 15, crew=["Mo Mover"], crew_member_ids=[p.mo])
    assert kinds(app, p, short) == ["crew", "no-driver", "understaffed"]
    assert kinds(app, p, full) == ["crew"]
    assert kinds(app, p, no_truck) == []
    with app.app_context():
        user = db.session.get(User, p.dispatcher.id)
        data = job_to_dict(db.session.get(TruckJourney, full), user)
        assert data["crewRequired"] == 2
        slots = [{key: slot[key] for key in ("name", "crewMemberId", "role")} for slot in data["crewSlots"]]
        assert slots == [{"name": "Dana Driver", "crewMemberId": p.dana, "role": "driver"},
                                     {"name": "Mo Mover", "crewMemberId": p.mo, "role": "mover"}]


def test_a_company_without_drivers_gets_no_no_driver_flag(app, default_company, make_location, make_company):
    other = make_company("Roleless Movers")
    loc = make_location("Solo", company=other)
    truck = add_truck(app, other, "T1", location=loc)
    add_member(app, other, "Una Untyped")
    day = today_of(app, other)
    job = add_job(app, loc, company=other, truck_id=truck, crew=["Una Untyped"], smartmoving_crew=[])
    with app.app_context():
        assert conflicts.day_conflicts(other.id, day).get(job) is None


def test_the_preview_and_the_stale_panel_check_include_time_off(app, crew_place):
    p = crew_place
    job_id = p.job(8, 12)
    shown = None
    with app.app_context():
        job = db.session.get(TruckJourney, job_id)
        shown = conflicts.clash_keys(conflicts.preview_conflicts(job, p.truck, ["Mo Mover"]))
        assert shown == ""
    add_off(app, p.company, at(p.day, 0), at(p.day, 24), member_id=p.mo, reason="sick")
    with app.app_context():
        job = db.session.get(TruckJourney, job_id)
        preview = conflicts.preview_conflicts(job, p.truck, ["Mo Mover"])
        assert [c.kind for c in preview] == ["timeoff"]
        user = db.session.get(User, p.dispatcher.id)
        with pytest.raises(dispatch.UnacceptedConflicts) as caught:
            dispatch.update_dispatch(job, user, p.truck, ["Mo Mover"], job.dispatch_status, None,
                                     accepted=shown.split())
        assert caught.value.clashes[0].kind == "timeoff"
        db.session.rollback()
        job = db.session.get(TruckJourney, job_id)
        dispatch.update_dispatch(job, user, p.truck, ["Mo Mover"], job.dispatch_status, None,
                                 accepted=conflicts.clash_keys(preview).split())
        db.session.commit()
        assert db.session.get(TruckJourney, job_id).crew == ["Mo Mover"]


def test_saves_write_crew_member_ids_aligned_with_crew(app, crew_place):
    p = crew_place
    job_id = p.job(8, 12)
    with app.app_context():
        user = db.session.get(User, p.dispatcher.id)
        job = db.session.get(TruckJourney, job_id)
        dispatch.update_dispatch(job, user, None, ["  dana DRIVER", "Pat Same", "Walk In"], job.dispatch_status, None)
        db.session.commit()
        job = db.session.get(TruckJourney, job_id)
        # Unique name -> id; a name two people share, or nobody has, stays typed (null).
        assert job.crew == ["dana DRIVER", "Pat Same", "Walk In"]
        assert job.crew_member_ids == [p.dana, None, None]


def test_patch_accepts_crew_member_ids_and_refuses_inactive_people(app, crew_place):
    p = crew_place
    job_id = p.job(8, 12)
    with app.app_context():
        user = db.session.get(User, p.dispatcher.id)
        job = db.session.get(TruckJourney, job_id)
        dispatch.patch_dispatch(job, user, {"crew": [{"crewMemberId": p.pat2}, {"name": "Mo Mover"}, "Walk In"]})
        db.session.commit()
        job = db.session.get(TruckJourney, job_id)
        assert job.crew == ["Pat Same", "Mo Mover", "Walk In"] and job.crew_member_ids == [p.pat2, p.mo, None]
        for body, message in (({"crew": [{"crewMemberId": p.gone}]}, "inactive"),
                              ({"crew": ["Ira Inactive"]}, "inactive"),
                              ({"crew": [{"crewMemberId": 999999}]}, "Unknown crew member"),
                              ({"crew": [{"crewMemberId": "7"}]}, "crewMemberId"),
                              ({"crew": [{"who": 1}]}, "crew must be")):
            with pytest.raises(dispatch.DispatchError, match=message):
                dispatch.patch_dispatch(job, user, body)
        # Saving again without "crew" keeps the ids (the namesake stays the one chosen).
        dispatch.patch_dispatch(job, user, {"notes": "gate 4"})
        db.session.commit()
        assert db.session.get(TruckJourney, job_id).crew_member_ids == [p.pat2, p.mo, None]


def test_patch_over_http_answers_422_for_an_inactive_person(app, client, crew_place, login):
    p = crew_place
    job_id = p.job(8, 12)
    login(p.dispatcher)
    etag = client.get(f"/api/smartmoving/jobs/{job_id}").headers["ETag"]
    answer = client.patch(f"/api/smartmoving/jobs/{job_id}", json={"crew": [{"crewMemberId": p.gone}]},
                          headers={"If-Match": etag, "X-CSRFToken": _csrf(client)})
    assert answer.status_code == 422 and "inactive" in answer.get_json()["message"]


def _csrf(client):
    """The session's CSRF token (the JSON API asks cookie callers for it)."""
    page = client.get("/").get_data(as_text=True)
    marker = 'name="csrf-token" content="'
    if marker in page:
        return page.split(marker, 1)[1].split('"', 1)[0]
    return page.split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize("text,error", [("studio=2,1br=x", "whole number"), ("studio", "pairs"),
                                        ("2br=0", "between")])
def test_crew_size_table_errors_are_one_line(text, error):
    with pytest.raises(ValueError, match=error):
        crew_size.parse_defaults(text)


def test_crew_required_from_smartmoving_or_the_move_size_table():
    table = crew_size.parse_defaults("studio=2,1br=2,2br=3,3br=4,4br=5,small office=3")
    assert crew_size.crew_required({"moveSize": {"name": "3 Bedroom House"}}, None, table) == 4
    assert crew_size.crew_required({"moveSize": {"name": "4+ Bedroom House"}}, None, table) == 5
    assert crew_size.crew_required({"moveSize": {"name": "Small  Office"}}, None, table) == 3
    assert crew_size.crew_required({"moveSize": {"name": "Studio"}}, {"crewSize": 4}, table) == 4
    assert crew_size.crew_required({"moveSize": {"name": "Piano only"}}, None, table) is None
    assert crew_size.crew_required({}, None, table) is None


@pytest.mark.parametrize("text", ["studio=lots", "studio", "1br=0"])
def test_a_bad_crew_size_setting_stops_start_up(tmp_path, text):
    from dashboard import create_app
    from dashboard.config import ConfigError
    with pytest.raises(ConfigError, match="CREW_SIZE_DEFAULTS"):
        create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "INSTANCE_PATH": str(tmp_path),
                    "CREW_SIZE_DEFAULTS": text})


def test_the_sync_writes_crew_required_from_the_detail(app):
    from dashboard.smartmoving import normalize
    opportunity = normalize.sweep_opportunities([{"id": "c1", "name": "Ada", "opportunities": [
        {"id": "o1", "quoteNumber": 1, "status": 3,
         "jobs": [{"id": "j1", "jobNumber": "1-1", "serviceDate": "2026-07-20", "type": 1}]}]}],
        date(2026, 7, 1), date(2026, 7, 31))["o1"]
    detail = {"id": "o1", "moveSize": {"name": "3 Bedroom House"},
              "jobs": [{"id": "j1", "jobNumber": "1-1", "crewMembers": []}]}
    with app.app_context():
        assert app.config["CREW_SIZE_DEFAULTS"]["3br"] == 4
        assert normalize.job_record(opportunity, opportunity.jobs[0], detail)["crew_required"] == 4
        detail["jobs"][0]["crewSize"] = 6
        assert normalize.job_record(opportunity, opportunity.jobs[0], detail)["crew_required"] == 6
        assert "crew_required" not in normalize.job_record(opportunity, opportunity.jobs[0], None)


def test_time_off_of_one_company_never_flags_another(app, crew_place, make_company, make_location):
    p = crew_place
    rival = make_company("Rival")
    rival_loc = make_location("R", company=rival)
    rival_mo = add_member(app, rival, "Mo Mover", role="mover", location=rival_loc)
    add_off(app, rival, at(p.day, 0), at(p.day, 24), member_id=rival_mo)
    job = p.job(8, 12, crew=["Mo Mover"], crew_member_ids=[p.mo])
    assert kinds(app, p, job) == []
    assert datetime.combine(p.day, datetime.min.time()) + timedelta(hours=8) == at(p.day, 8)


def test_the_crew_picker_groups_location_first_then_free_busy_off(app, crew_place, make_location):
    p = crew_place
    far = make_location("Far")
    fay = add_member(app, p.company, "Fay Far", role="mover", location=far)
    job_id = p.job(8, 12, crew=["Dana Driver"], crew_member_ids=[p.dana])
    p.job(9, 10, crew=["Mo Mover"], crew_member_ids=[p.mo])                      # Mo busy
    add_off(app, p.company, at(p.day, 0), at(p.day, 24), member_id=p.pat1, reason="moving house")
    with app.app_context():
        job = db.session.get(TruckJourney, job_id)
        choices = dispatch.crew_choices(job)
    order = [(c.name, c.id, c.group) for c in choices]
    assert order[0] == ("Dana Driver", p.dana, "On this job")
    assert ("Pat Same", p.pat2, "Free · Alpha") in order
    assert order.index(("Pat Same", p.pat2, "Free · Alpha")) < order.index(("Mo Mover", p.mo, "Busy · Alpha")) \
        < order.index(("Pat Same", p.pat1, "Off · Alpha")) < order.index(("Fay Far", fay, "Free · other locations"))
    assert all(c.id != p.gone for c in choices)                                     # inactive: never offered
    mo = next(c for c in choices if c.id == p.mo)
    assert mo.role == "mover" and mo.hours == 1.0 and mo.busy.startswith("busy")
    assert "moving house" in next(c for c in choices if c.id == p.pat1).off


def test_the_truck_picker_lists_trucks_out_of_service_last_and_marked(app, crew_place):
    p = crew_place
    job_id = p.job(8, 12)
    add_off(app, p.company, at(p.day, 10), at(p.day, 16), truck_id=p.truck, reason="brakes")
    with app.app_context():
        choices = dispatch.truck_choices(db.session.get(TruckJourney, job_id))
    assert [(c.id, c.out is not None) for c in choices] == [(p.truck_b, False), (p.truck, True)]
    assert "brakes" in choices[-1].out


def test_the_assign_panel_shows_groups_roles_and_off_people(app, client, crew_place, login):
    p = crew_place
    job_id = p.job(8, 12)
    add_off(app, p.company, at(p.day, 0), at(p.day, 24), member_id=p.mo, reason="flu")
    login(p.dispatcher)
    panel = client.get(f"/jobs/{job_id}/assign", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Free · Alpha" in panel and "Off · Alpha" in panel and "flu" in panel
    assert '<small class="crew-role">driver</small>' in panel and "Ira Inactive" not in panel
    assert panel.index("Dana Driver") < panel.index("Mo Mover")


def test_board_rows_carry_the_new_badges_for_every_role(app, client, crew_place, login, make_user):
    p = crew_place
    p.job(8, 12, truck_id=p.truck, crew=["Mo Mover"], crew_member_ids=[p.mo], crew_required=3)
    add_off(app, p.company, at(p.day, 0), at(p.day, 24), member_id=p.mo, reason="flu")
    add_off(app, p.company, at(p.day, 0), at(p.day, 24), truck_id=p.truck, reason="brakes")
    for user in (p.dispatcher, make_user("ADMIN")):          # a location scope, and the whole company's rows
        login(user)
        for view in ("", "?view=cards", "?view=lanes"):
            board = client.get("/" + view).get_data(as_text=True)
            for badge in ("Understaffed", "No driver", "Crew off", "Truck out"):
                assert f">{badge}</span>" in board, (user.role, view, badge)
            assert ">Conflict</span>" not in board
