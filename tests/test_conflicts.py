"""Spans, time-aware conflicts and the dispatch rules built on them."""
from datetime import date
from datetime import datetime
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.db import db
from dashboard.jobs import conflicts
from dashboard.jobs import dispatch
from dashboard.jobs import spans
from dashboard.models import AuditEvent
from dashboard.models import TruckJourney
from dashboard.models import User
from tests.support.ui import add_crew_member
from tests.support.ui import add_job
from tests.support.ui import add_truck
from tests.support.ui import today_of

DAY = date(2026, 11, 28)


# ----- spans (pure) -----------------------------------------------------------------------------------------

def test_span_is_labour_plus_travel_from_the_arrival_start():
    job_time = {"laborTime": {"estimated": 3.5, "actual": None}, "travelTime": {"estimated": 0.75}}
    assert spans.compute_span(DAY, 8.5, job_time, 4) == (datetime(2026, 11, 28, 8, 30), datetime(2026, 11, 28, 12, 45))


@pytest.mark.parametrize("job_time", [None, {}, {"laborTime": {"estimated": None}, "travelTime": {"estimated": 1}},
                                      {"laborTime": {"estimated": "soon"}}, {"laborTime": {"estimated": -2}},
                                      {"laborTime": 0}, "junk"])
def test_without_a_labour_estimate_the_default_hours_apply(job_time):
    assert spans.compute_span(DAY, 13, job_time, 4) == (datetime(2026, 11, 28, 13), datetime(2026, 11, 28, 17))


def test_labour_alone_and_absurd_estimates_are_capped_at_a_day():
    assert spans.compute_span(DAY, 8, {"laborTime": {"estimated": 2}}, 4)[1] == datetime(2026, 11, 28, 10)
    assert spans.compute_span(DAY, 8, {"laborTime": {"estimated": 500}}, 4)[1] == datetime(2026, 11, 29, 8)


@pytest.mark.parametrize("start", [None, "x", -1, 24, 99])
def test_no_usable_start_means_no_span(start):
    assert spans.compute_span(DAY, start, None, 4) == (None, None)


@pytest.mark.parametrize("text,hour", [("8:30 - 10:30", 8.5), ("8:00 AM – 10:00 AM", 8.0), ("1 PM-3 PM", 13.0),
                                       ("12:30 pm", 12.5), ("12 am", 0.0), ("14h15", 14.25), ("07.45", 7.75),
                                       ("morning", None), ("", None), (None, None), ("25:00", None),
                                       ("13 PM", None)])
def test_typed_arrival_windows_give_a_start_hour(text, hour):
    assert spans.parse_start_hour(text) == hour


def test_clock_shows_the_midnight_that_ends_the_day_as_24():
    assert spans.clock(datetime(2026, 11, 29), DAY) == "24:00"
    assert spans.clock(datetime(2026, 11, 28, 9, 5), DAY) == "09:05"


# ----- conflicts on a real database ---------------------------------------------------------------------------

@pytest.fixture
def place(app, default_company, make_location):
    """Two locations of the default company, a truck, and a helper for timed jobs today."""
    class Place:
        pass
    p = Place()
    p.company = default_company
    p.alpha = make_location("Alpha")
    p.beta = make_location("Beta")
    p.truck = add_truck(app, default_company, "Truck 101", location=p.alpha)
    p.truck_b = add_truck(app, default_company, "Truck 202", location=p.beta)
    p.day = today_of(app)

    def job(start, end, location=None, **fields):
        begin = datetime.combine(p.day, datetime.min.time())
        return add_job(app, location or p.alpha, span_start=begin + timedelta(hours=start),
                       span_end=begin + timedelta(hours=end), arrival_start_hour=float(start), **fields)
    p.job = job
    return p


def clashes_of(app, place):
    with app.app_context():
        return conflicts.day_conflicts(place.company.id, place.day)


def test_touching_spans_do_not_clash_overlapping_ones_do(app, place):
    early = place.job(8, 10, truck_id=place.truck, smartmoving_crew=[])
    late = place.job(10, 12, truck_id=place.truck, smartmoving_crew=[])
    overlap = place.job(9, 11, truck_id=place.truck, smartmoving_crew=[], job_number="J-9")
    found = clashes_of(app, place)
    assert {c.other_id for c in found[early]} == {overlap}
    assert {c.other_id for c in found[late]} == {overlap}
    assert {c.other_id for c in found[overlap]} == {early, late}
    clash = found[early][0]
    assert (clash.kind, clash.name, clash.other_job_number) == ("truck", "Truck 101", "J-9")
    assert conflicts.describe(clash, True) == "Truck 101 is also on job J-9 (09:00–11:00)."


def test_cancelled_completed_and_removed_jobs_never_clash_or_need_anything(app, place):
    live = place.job(8, 12, truck_id=place.truck, smartmoving_crew=["Ann"])
    dead = [place.job(8, 12, truck_id=place.truck, smartmoving_crew=["Ann"], status="CANCELLED"),
            place.job(8, 12, truck_id=place.truck, smartmoving_crew=["Ann"], status="COMPLETED"),
            place.job(8, 12, truck_id=place.truck, smartmoving_crew=["Ann"], dispatch_status="COMPLETED"),
            place.job(8, 12, truck_id=place.truck, smartmoving_crew=["Ann"], sync_status="REMOVED")]
    assert clashes_of(app, place) == {}
    with app.app_context():
        for job_id in dead:
            job = db.session.get(TruckJourney, job_id)
            job.truck_id, job.smartmoving_crew = None, []
            assert not conflicts.is_live(job) and not conflicts.needs_truck(job) and not conflicts.needs_crew(job)
            assert conflicts.preview_conflicts(job, place.truck, ["Ann"]) == []
        job = db.session.get(TruckJourney, live)
        assert conflicts.is_live(job) and not conflicts.needs_truck(job) and not conflicts.needs_crew(job)


def test_crew_matches_case_and_spacing_insensitively_on_the_effective_crew(app, place):
    ours = place.job(8, 12, crew=["ann  LIFTER"], smartmoving_crew=["Bob"])
    theirs = place.job(11, 13, smartmoving_crew=["Ann Lifter", "Bob"])
    found = clashes_of(app, place)
    # Ours replaces SmartMoving's crew on the first job, so Bob is not doubly booked.
    assert [(c.kind, c.name) for c in found[ours]] == [("crew", "ann LIFTER")]
    assert [(c.kind, c.name) for c in found[theirs]] == [("crew", "Ann Lifter")]


def test_a_job_without_a_time_is_busy_all_day(app, place):
    timed = place.job(15, 17, truck_id=place.truck, smartmoving_crew=[])
    untimed = add_job(app, place.alpha, arrival_start_hour=None, truck_id=place.truck, smartmoving_crew=[])
    found = clashes_of(app, place)
    assert found[timed][0].other_id == untimed and not found[timed][0].timed
    assert (conflicts.describe(found[timed][0], False)
            == "Truck 101 is also on a job in another location (time not set).")


def test_jobs_without_a_stored_span_use_the_default_hours(app, place):
    first = add_job(app, place.alpha, arrival_start_hour=8.0, truck_id=place.truck, smartmoving_crew=[])
    second = add_job(app, place.alpha, arrival_start_hour=11.5, truck_id=place.truck, smartmoving_crew=[])
    third = add_job(app, place.alpha, arrival_start_hour=12.0, truck_id=place.truck, smartmoving_crew=[])
    found = clashes_of(app, place)
    assert {c.other_id for c in found[first]} == {second}  # 08:00-12:00 ends as the third begins
    assert {c.other_id for c in found[third]} == {second}


def test_other_companies_and_days_never_clash(app, place, make_company, make_location):
    other = make_company("Other Movers")
    loc = make_location("Gamma", company=other)
    mine = place.job(8, 12, smartmoving_crew=["Ann"])
    add_job(app, loc, company=other, arrival_start_hour=8.0, smartmoving_crew=["Ann"])
    add_job(app, place.alpha, day=place.day + timedelta(days=1), arrival_start_hour=8.0, smartmoving_crew=["Ann"])
    assert mine not in clashes_of(app, place)


def test_clashes_in_locations_out_of_scope_stay_anonymous(app, place, make_user):
    mine = place.job(8, 12, truck_id=place.truck, smartmoving_crew=["Dan Driver"])
    hidden = place.job(9, 10, location=place.beta, truck_id=place.truck, smartmoving_crew=[], job_number="S-1")
    dispatcher = make_user("DISPATCHER", locations=[place.alpha])
    admin = make_user("ADMIN")
    driver = make_user("DRIVER", crew_name="dan driver")
    with app.app_context():
        clash = conflicts.day_conflicts(place.company.id, place.day)[mine][0]
        assert clash.other_id == hidden
        company = place.company.id
        assert not conflicts.visible_to(db.session.get(User, dispatcher.id), clash, company)
        assert conflicts.visible_to(db.session.get(User, admin.id), clash, company)
        assert not conflicts.visible_to(db.session.get(User, driver.id), clash, company)
        assert "S-1" not in conflicts.describe(clash, False)


def test_preview_shows_clashes_before_saving(app, place):
    booked = place.job(9, 11, truck_id=place.truck, smartmoving_crew=["Ann Lifter"], job_number="J-7")
    place.job(13, 15, truck_id=place.truck, smartmoving_crew=["Ann Lifter"])
    job_id = place.job(8, 10, smartmoving_crew=["Bob"])
    with app.app_context():
        job = db.session.get(TruckJourney, job_id)
        preview = conflicts.preview_conflicts(job, place.truck, ["ANN LIFTER"])
        assert [(c.kind, c.name, c.other_id) for c in preview] == [("truck", "Truck 101", booked),
                                                                  ("crew", "ANN LIFTER", booked)]
        assert conflicts.preview_conflicts(job, place.truck_b, []) == []  # Bob (SmartMoving's) is free


def test_truck_and_crew_choices_put_the_job_first_and_mark_busy(app, place):
    add_crew_member(app, place.company, "Zed Zulu")
    place.job(9, 11, location=place.beta, truck_id=place.truck_b, smartmoving_crew=["Zed Zulu"])
    job_id = place.job(8, 10, smartmoving_crew=["Mo Mover", "Dan Driver"])
    with app.app_context():
        job = db.session.get(TruckJourney, job_id)
        trucks = dispatch.truck_choices(job)
        assert [(t.name, t.same_location, t.busy) for t in trucks] == [
            ("Truck 101", True, None), ("Truck 202", False, "busy 09:00–11:00")]
        crew = dispatch.crew_choices(job)
        assert [(c.name, c.on_job, c.busy) for c in crew] == [
            ("Mo Mover", True, None), ("Dan Driver", True, None), ("Zed Zulu", False, "busy 09:00–11:00")]


def test_truck_and_crew_make_a_job_assigned_yet_the_status_stays_editable(app, place, make_user):
    job_id = place.job(8, 10, smartmoving_crew=[])
    actor = make_user("DISPATCHER", locations=[place.alpha])
    with app.app_context():
        job, who = db.session.get(TruckJourney, job_id), db.session.get(User, actor.id)
        dispatch.update_dispatch(job, who, place.truck, [], "UNASSIGNED", None)
        assert job.dispatch_status == "UNASSIGNED"  # no crew yet
        dispatch.update_dispatch(job, who, place.truck, ["Ann"], "UNASSIGNED", None)
        assert job.dispatch_status == "ASSIGNED"
        dispatch.update_dispatch(job, who, place.truck, ["Ann"], "UNASSIGNED", None)
        assert job.dispatch_status == "UNASSIGNED"  # set back by hand: kept
        dispatch.update_dispatch(job, who, place.truck, ["Ann"], "ON_HOLD", None)
        assert job.dispatch_status == "ON_HOLD"


def test_accepting_smartmoving_crew_copies_it_and_audits_each_job(app, place, make_user):
    with_crew = place.job(8, 10, smartmoving_crew=["Dan Driver", "Mo Mover"], truck_id=place.truck)
    already = place.job(8, 10, smartmoving_crew=["Ann"], crew=["Ann"])
    without = place.job(8, 10, smartmoving_crew=[])
    actor = make_user("MANAGER", locations=[place.alpha])
    with app.app_context():
        jobs = list(db.session.scalars(sa.select(TruckJourney).where(
            TruckJourney.id.in_([with_crew, already, without]))))
        assert dispatch.accept_smartmoving_crew(jobs, db.session.get(User, actor.id)) == 1
        db.session.commit()
        job = db.session.get(TruckJourney, with_crew)
        assert job.crew == ["Dan Driver", "Mo Mover"]
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "job.dispatch")).all()
        assert [e.target for e in events] == [f"job:{with_crew}"]


def test_manual_jobs_get_a_span_from_their_typed_window(app, place, make_user):
    actor = make_user("ADMIN")
    with app.app_context():
        from dashboard.models import Location
        job = dispatch.create_manual_job(db.session.get(User, actor.id), db.session.get(Location, place.alpha.id),
                                         place.day, "Walk In", arrival_window="1:30 PM - 3:30 PM")
        start = datetime.combine(place.day, datetime.min.time())
        assert (job.arrival_start_hour, job.span_start, job.span_end) == (
            13.5, start + timedelta(hours=13.5), start + timedelta(hours=17.5))


# ----- settings ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("settings, name", [
    ({"DEFAULT_JOB_HOURS": "four"}, "DEFAULT_JOB_HOURS"), ({"DEFAULT_JOB_HOURS": "0"}, "DEFAULT_JOB_HOURS"),
    ({"DEFAULT_JOB_HOURS": "25"}, "DEFAULT_JOB_HOURS"), ({"BOARD_DAY_START": "6am"}, "BOARD_DAY_START"),
    ({"BOARD_DAY_END": "24:30"}, "BOARD_DAY_END"), ({"BOARD_DAY_START": "21:00"}, "BOARD_DAY_START"),
])
def test_bad_span_and_lane_settings_stop_start_up_with_the_name(tmp_path, settings, name):
    from dashboard import create_app
    from dashboard.config import ConfigError
    with pytest.raises(ConfigError, match=name):
        create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "INSTANCE_PATH": str(tmp_path), **settings})


def test_span_and_lane_settings_are_parsed(tmp_path, monkeypatch):
    from dashboard import create_app
    monkeypatch.setenv("DEFAULT_JOB_HOURS", "3.5")
    monkeypatch.setenv("BOARD_DAY_START", "7:30")
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "INSTANCE_PATH": str(tmp_path)})
    assert (app.config["DEFAULT_JOB_HOURS"], app.config["BOARD_DAY_START"], app.config["BOARD_DAY_END"]) == (
        3.5, "07:30", "20:00")
    with app.app_context():
        assert spans.compute_span(DAY, 8, None) == (datetime(2026, 11, 28, 8), datetime(2026, 11, 28, 11, 30))
        assert spans.board_day(DAY) == (datetime(2026, 11, 28, 7, 30), datetime(2026, 11, 28, 20))


def test_clashes_found_among_a_boards_jobs_equal_the_days_own_query(app, place, make_company, make_location,
                                                                    make_user):
    """An unfiltered company-wide board reuses the jobs it read; it must find exactly what day_conflicts finds."""
    from dashboard.jobs.board import day_conflicts_for
    from dashboard.jobs.queries import board_jobs_for_day
    from dashboard.models import User

    place.job(8, 10, truck_id=place.truck, smartmoving_crew=["Ann"])
    place.job(10, 12, truck_id=place.truck, smartmoving_crew=["ann "])           # touches: no clash
    place.job(9, 11, truck_id=place.truck, crew=["ANN"], smartmoving_crew=["Bob"])
    place.job(9, 11, truck_id=place.truck, smartmoving_crew=["Ann"], status="CANCELLED")
    place.job(9, 11, location=place.beta, truck_id=place.truck_b, smartmoving_crew=["Bob"], sync_status="REMOVED")
    add_job(app, place.beta, arrival_start_hour=None, truck_id=place.truck_b, smartmoving_crew=["Bob"])
    add_job(app, place.beta, arrival_start_hour=13.0, truck_id=place.truck_b, smartmoving_crew=["Cy"])
    other = make_company("Other Movers")   # the same crew name at another company is another person
    add_job(app, make_location("Gamma", company=other), company=other, arrival_start_hour=8.0,
            smartmoving_crew=["Ann", "Cy"])
    add_job(app, make_location("Delta", company=other), company=other, arrival_start_hour=9.0, smartmoving_crew=["Cy"])
    for role in ("SUPER_ADMIN", "ADMIN"):
        user_id = make_user(role).id
        with app.app_context():
            jobs = board_jobs_for_day(db.session.get(User, user_id), place.day)
            shared = day_conflicts_for(jobs, place.day, complete=True)
            queried = day_conflicts_for(jobs, place.day, complete=False)
        assert shared == queried and len(shared) >= 4, role
