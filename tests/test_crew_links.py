"""Users linked to crew members by id: My jobs, the driver's API, the admin form, the CLI (issue 17 §1)."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.auth.users import CrewMemberChoiceError
from dashboard.auth.users import UserError
from dashboard.auth.users import find_crew_member
from dashboard.auth.users import link_crew_member
from dashboard.db import db
from dashboard.jobs.queries import board_jobs_for_day
from dashboard.jobs.queries import jobs_for_day
from dashboard.models import AuditEvent
from dashboard.models import Company
from dashboard.models import CrewMember
from dashboard.models import TruckJourney
from dashboard.models import User
from dashboard.permissions import can_see_journey
from dashboard.timeutil import company_today
from tests.support import csrf_token_from
from tests.support import login_as
from tests.support.api import bearer


def _member(company_id, name, external_id, location_id=None, status="Active"):
    member = CrewMember(company_id=company_id, name=name, external_id=external_id, location_id=location_id,
                        status=status)
    db.session.add(member)
    db.session.flush()
    return member


def _job(company_id, location_id, day, number, crew_ids=None, sm_ids=None, crew=None, sm_crew=None):
    job = TruckJourney(company_id=company_id, location_id=location_id, external_id=f"job-{number}",
                       job_number=number, customer_name=f"Customer {number}", scheduled_date=day,
                       crew=crew, crew_member_ids=crew_ids, smartmoving_crew=sm_crew, smartmoving_crew_ids=sm_ids)
    db.session.add(job)
    db.session.flush()
    return job


@pytest.fixture
def twins(app, default_company, make_location, make_user):
    """Two crew members called Sam Lee, each on one job (SmartMoving's crew for one, ours for the other)."""
    north = make_location("North", external_id="b-north")
    with app.app_context():
        today = company_today(default_company.timezone)
        first = _member(default_company.id, "Sam Lee", "sm-1", north.id)
        second = _member(default_company.id, "Sam Lee", "sm-2", north.id)
        job_one = _job(default_company.id, north.id, today, "TWIN-JOB-1", sm_ids=[first.id], sm_crew=["Sam Lee"])
        job_two = _job(default_company.id, north.id, today, "TWIN-JOB-2", crew_ids=[second.id], crew=["Sam Lee"],
                       sm_ids=[first.id], sm_crew=["Sam Lee"])
        db.session.commit()
        ids = {"first": first.id, "second": second.id, "one": job_one.id, "two": job_two.id, "today": today}
    driver_one = make_user("DRIVER", email="one@example.test")
    driver_two = make_user("DRIVER", email="two@example.test")
    with app.app_context():
        for email, key in (("one@example.test", "first"), ("two@example.test", "second")):
            user = db.session.scalar(sa.select(User).where(User.email == email))
            link_crew_member(user, db.session.get(CrewMember, ids[key]))
        db.session.commit()
    return {**ids, "driver_one": driver_one, "driver_two": driver_two, "north": north}


def test_two_people_with_the_same_name_never_see_each_others_jobs(app, twins):
    with app.app_context():
        one = db.session.get(User, twins["driver_one"].id)
        two = db.session.get(User, twins["driver_two"].id)
        # Job 2 has our crew (the second Sam), which replaces SmartMoving's (the first Sam).
        assert [job.id for job in jobs_for_day(one, twins["today"])] == [twins["one"]]
        assert [job.id for job in jobs_for_day(two, twins["today"])] == [twins["two"]]
        assert [job.id for job in board_jobs_for_day(two, twins["today"])] == [twins["two"]]
        assert not can_see_journey(one, db.session.get(TruckJourney, twins["two"]))
        assert can_see_journey(two, db.session.get(TruckJourney, twins["two"]))


def test_my_jobs_and_the_api_follow_the_link(app, client, twins):
    login_as(client, twins["driver_two"])
    html = client.get("/my-jobs").get_data(as_text=True)
    assert "TWIN-JOB-2" in html and "TWIN-JOB-1" not in html
    headers = bearer(app, twins["driver_one"])
    body = client.get(f"/api/smartmoving/jobs?date={twins['today']}", headers=headers).get_json()
    assert [job["id"] for job in body["jobs"]] == [twins["one"]]
    assert client.get(f"/api/smartmoving/jobs/{twins['two']}", headers=headers).status_code == 404


def test_an_unlinked_driver_sees_no_job_and_is_told_why(app, client, twins, make_user):
    driver = make_user("DRIVER", full_name="Sam Lee")   # same name, no link: names never match
    login_as(client, driver)
    html = client.get("/my-jobs").get_data(as_text=True)
    assert "not linked to a crew member" in html
    assert "TWIN-JOB-1" not in html and "TWIN-JOB-2" not in html
    with app.app_context():
        assert jobs_for_day(db.session.get(User, driver.id), twins["today"]) == []


def test_board_jobs_carry_the_crew_id_columns(app, twins, make_user):
    admin = make_user("ADMIN")
    with app.app_context():
        jobs = {job.id: job for job in board_jobs_for_day(db.session.get(User, admin.id), twins["today"])}
        two = jobs[twins["two"]]
        assert two.crew_member_ids == (twins["second"],) and two.smartmoving_crew_ids == (twins["first"],)
        assert two.effective_crew_ids == [twins["second"]]
        assert jobs[twins["one"]].crew_member_ids is None


def test_a_crew_member_links_to_one_active_user_only_and_links_are_audited(app, twins, make_user):
    third = make_user("MOVER", email="three@example.test")
    with app.app_context():
        user = db.session.get(User, third.id)
        with pytest.raises(UserError, match="already linked to one@example.test"):
            link_crew_member(user, db.session.get(CrewMember, twins["first"]))
        db.session.rollback()
        # Once the holder is disabled, the person may be linked again.
        holder = db.session.get(User, twins["driver_one"].id)
        holder.is_active_user = False
        db.session.commit()
        user = db.session.get(User, third.id)
        assert link_crew_member(user, db.session.get(CrewMember, twins["first"])) is True
        assert link_crew_member(user, db.session.get(CrewMember, twins["first"])) is False
        db.session.commit()
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "user.crew_link",
                                                                AuditEvent.target == "three@example.test")).all()
        assert [event.detail["crew_member_id"] for event in events] == [[None, twins["first"]]]


def test_a_crew_member_of_another_company_is_refused(app, twins, make_company, make_user):
    other = make_company("Other Movers")
    stranger = make_user("DRIVER", company=other)
    with app.app_context(), pytest.raises(UserError, match="own company"):
        link_crew_member(db.session.get(User, stranger.id), db.session.get(CrewMember, twins["second"]))


def test_find_crew_member_by_id_name_or_candidates(app, twins, default_company):
    with app.app_context():
        company = db.session.get(Company, default_company.id)
        _member(company.id, "Kim  Park", "sm-3")
        assert find_crew_member(company, str(twins["second"])).id == twins["second"]
        assert find_crew_member(company, "kim park").external_id == "sm-3"
        with pytest.raises(CrewMemberChoiceError) as ambiguous:
            find_crew_member(company, "SAM LEE")
        assert sorted(m.id for m in ambiguous.value.candidates) == sorted([twins["first"], twins["second"]])
        with pytest.raises(CrewMemberChoiceError) as unknown:
            find_crew_member(company, "Sam")
        assert {m.name for m in unknown.value.candidates} == {"Sam Lee"}


def test_cli_links_by_id_or_unique_name_and_lists_candidates(app, runner, twins):
    password = "a-long-password\n" * 2
    ambiguous = runner.invoke(args=["create-user", "a@example.test", "--role", "MOVER", "--crew-member", "Sam Lee"],
                              input=password)
    assert ambiguous.exit_code == 2
    assert f"#{twins['first']} Sam Lee" in ambiguous.output and f"#{twins['second']} Sam Lee" in ambiguous.output
    unknown = runner.invoke(args=["create-user", "a@example.test", "--role", "MOVER", "--crew-name", "Nobody"],
                            input=password)
    assert unknown.exit_code == 2 and "No crew member" in unknown.output
    taken = runner.invoke(args=["create-user", "a@example.test", "--role", "MOVER",
                                "--crew-member", str(twins["first"])], input=password)
    assert taken.exit_code == 2 and "already linked" in taken.output
    with app.app_context():
        spare = _member(db.session.get(User, twins["driver_one"].id).company_id, "Ola Nord", "sm-9")
        db.session.commit()
        spare_id = spare.id
    made = runner.invoke(args=["create-user", "a@example.test", "--role", "MOVER", "--crew-name", "ola nord"],
                         input=password)
    assert made.exit_code == 0, made.output
    with app.app_context():
        assert db.session.scalar(sa.select(User.crew_member_id).where(User.email == "a@example.test")) == spare_id
        assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.email == "a@example.test")) == 1


def test_admin_form_links_and_unlinks_a_crew_member(app, client, twins, make_user):
    admin = make_user("ADMIN")
    mover = make_user("MOVER", email="m@example.test")
    login_as(client, admin)
    page = client.get(f"/admin/users/{mover.id}/edit").get_data(as_text=True)
    assert "— none —" in page and f'value="{twins["first"]}"' in page
    form = {"csrf_token": csrf_token_from(page), "email": "m@example.test", "full_name": "Mo", "role": "MOVER",
            "company_id": str(mover.company_id)}
    refused = client.post(f"/admin/users/{mover.id}/edit", data={**form, "crew_member_id": str(twins["first"])})
    assert refused.status_code == 422 and "already linked" in refused.get_data(as_text=True)
    with app.app_context():
        spare_id = _member(mover.company_id, "Ola Nord", "sm-9").id
        db.session.commit()
    assert client.post(f"/admin/users/{mover.id}/edit",
                       data={**form, "crew_member_id": str(spare_id)}).status_code == 302
    listing = client.get("/admin/users").get_data(as_text=True)
    assert f"#{spare_id} Ola Nord" in listing
    assert client.post(f"/admin/users/{mover.id}/edit", data={**form, "crew_member_id": "0"}).status_code == 302
    with app.app_context():
        assert db.session.get(User, mover.id).crew_member_id is None
        actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.target == "m@example.test")).all()
        assert actions.count("user.crew_link") == 2


def test_tomorrows_job_shows_under_tomorrow(app, client, twins):
    with app.app_context():
        _job(db.session.get(User, twins["driver_two"].id).company_id, twins["north"].id,
             twins["today"] + timedelta(days=1), "TWIN-JOB-3", sm_ids=[twins["second"]], sm_crew=["Sam Lee"])
        db.session.commit()
    login_as(client, twins["driver_two"])
    html = client.get("/my-jobs").get_data(as_text=True)
    # The section, not the jump bar.
    assert html.index("TWIN-JOB-2") < html.index('id="day-tomorrow"') < html.index("TWIN-JOB-3")


def test_new_user_form_refuses_a_taken_crew_member_on_its_field(app, client, twins, make_user):
    login_as(client, make_user("ADMIN"))
    page = client.get("/admin/users/new").get_data(as_text=True)
    answer = client.post("/admin/users/new", data={
        "csrf_token": csrf_token_from(page), "email": "late@example.test", "full_name": "Late", "role": "DRIVER",
        "company_id": str(twins["driver_one"].company_id), "password": "long-enough-pass",
        "crew_member_id": str(twins["first"])})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "already linked to one@example.test" in html
    assert html.index("already linked") > html.index('name="crew_member_id"')
    with app.app_context():
        assert db.session.scalar(sa.select(User.id).where(User.email == "late@example.test")) is None


def test_re_enabling_a_user_whose_person_was_relinked_unlinks_them(app, client, twins, make_user):
    admin = make_user("ADMIN")
    with app.app_context():
        one = db.session.get(User, twins["driver_one"].id)
        one.is_active_user = False
        db.session.commit()
        newcomer = db.session.get(User, make_user("DRIVER", email="new@example.test").id)
        link_crew_member(newcomer, db.session.get(CrewMember, twins["first"]))
        db.session.commit()
    login_as(client, admin)
    token = csrf_token_from(client.get("/admin/users").get_data(as_text=True))
    assert client.post(f"/admin/users/{twins['driver_one'].id}/active", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        one = db.session.get(User, twins["driver_one"].id)
        assert one.is_active_user and one.crew_member_id is None
        holders = db.session.scalars(sa.select(User.email).where(User.crew_member_id == twins["first"],
                                                                 User.is_active_user.is_(True))).all()
        assert holders == ["new@example.test"]
