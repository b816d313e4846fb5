"""The crew pickers name people by id (issue 17: never by name): two people called Sam Lee, the assign panel
and the job edit form each save the one chosen, and only that one's linked user sees the job on My jobs."""
import re

import pytest

from dashboard.auth.users import link_crew_member
from dashboard.db import db
from dashboard.jobs.crew_pick import value_of
from dashboard.models import CrewMember
from dashboard.models import TruckJourney
from dashboard.models import User
from tests.support import csrf_token_from
from tests.support import login_as
from tests.support.ui import add_job

HX = {"HX-Request": "true"}


def _member(company_id, name, external_id, location_id, role):
    member = CrewMember(company_id=company_id, name=name, external_id=external_id, location_id=location_id,
                        role=role, status="Active")
    db.session.add(member)
    db.session.flush()
    return member.id


@pytest.fixture
def namesakes(app, default_company, make_location, make_user):
    """Sam Lee of Toronto (mover) and Sam Lee of Buffalo (driver), each linked to a driver's account; a job
    at Toronto with nobody on it; a dispatcher of both branches."""
    toronto = make_location("Toronto", external_id="b-tor")
    buffalo = make_location("Buffalo", external_id="b-buf")
    with app.app_context():
        first = _member(default_company.id, "Sam Lee", "sm-tor", toronto.id, "mover")
        second = _member(default_company.id, "Sam Lee", "sm-buf", buffalo.id, "driver")
        db.session.commit()
    job_id = add_job(app, toronto, job_number="SAM-1", smartmoving_crew=[])
    users = {"first": make_user("DRIVER", email="first-sam@example.test"),
             "second": make_user("DRIVER", email="second-sam@example.test")}
    with app.app_context():
        for key, member_id in (("first", first), ("second", second)):
            link_crew_member(db.session.get(User, users[key].id), db.session.get(CrewMember, member_id))
        db.session.commit()
    dispatcher = make_user("DISPATCHER", locations=[toronto, buffalo])
    return {"first": first, "second": second, "job": job_id, "users": users, "dispatcher": dispatcher,
            "toronto": toronto, "buffalo": buffalo}


def _saved_crew(app, job_id):
    with app.app_context():
        job = db.session.get(TruckJourney, job_id)
        return job.crew, job.crew_member_ids


def _my_jobs(client, user):
    login_as(client, user)
    return client.get("/my-jobs").get_data(as_text=True)


def _form_fields(html):
    """csrf_token and version of a rendered dispatch form."""
    return {"csrf_token": csrf_token_from(html),
            "version": re.search(r'name="version" type="hidden" value="([^"]*)"', html).group(1)}


def test_the_assign_panel_saves_the_namesake_chosen_and_only_they_see_the_job(app, client, namesakes):
    login_as(client, namesakes["dispatcher"])
    panel = client.get(f"/jobs/{namesakes['job']}/assign", headers=HX).get_data(as_text=True)
    second = value_of("Sam Lee", namesakes["second"])
    # Both offered, each box carrying its person's id and told apart by branch and role.
    assert f'value="{value_of("Sam Lee", namesakes["first"])}"' in panel and f'value="{second}"' in panel
    assert "(Buffalo, driver)" in panel and "(Toronto, mover)" in panel
    saved = client.post(f"/jobs/{namesakes['job']}/assign", headers=HX, data={
        **_form_fields(panel), "truck_id": "0", "crew": [second], "crew_other": "",
        "dispatch_status": "UNASSIGNED", "notes": ""})
    assert saved.status_code == 200 and "Saved SAM-1." in saved.get_data(as_text=True)
    assert _saved_crew(app, namesakes["job"]) == (["Sam Lee"], [namesakes["second"]])
    assert "SAM-1" in _my_jobs(client, namesakes["users"]["second"])
    assert "SAM-1" not in _my_jobs(client, namesakes["users"]["first"])
    # Drawn again, the panel ticks that Sam Lee, not the other.
    login_as(client, namesakes["dispatcher"])
    again = client.get(f"/jobs/{namesakes['job']}/assign", headers=HX).get_data(as_text=True)
    assert f'value="{second}" checked' in again
    assert f'value="{value_of("Sam Lee", namesakes["first"])}" checked' not in again


def test_the_job_edit_form_saves_the_namesake_chosen(app, client, namesakes):
    login_as(client, namesakes["dispatcher"])
    page = client.get(f"/jobs/{namesakes['job']}/edit").get_data(as_text=True)
    first = value_of("Sam Lee", namesakes["first"])
    assert "Sam Lee (Toronto, mover)" in page and "Sam Lee (Buffalo, driver)" in page
    answer = client.post(f"/jobs/{namesakes['job']}/edit", data={
        **_form_fields(page), "truck_id": "0", "crew": [first], "crew_other": "Walk In",
        "dispatch_status": "UNASSIGNED", "notes": ""})
    assert answer.status_code == 302
    assert _saved_crew(app, namesakes["job"]) == (["Sam Lee", "Walk In"], [namesakes["first"], None])
    assert "SAM-1" in _my_jobs(client, namesakes["users"]["first"])
    assert "SAM-1" not in _my_jobs(client, namesakes["users"]["second"])


def test_a_plain_name_still_works_and_a_shared_one_stays_unlinked(app, client, namesakes):
    login_as(client, namesakes["dispatcher"])
    page = client.get(f"/jobs/{namesakes['job']}/edit").get_data(as_text=True)
    # A script posting the name: typed, as before; shared, so nobody's id (neither Sam gets the job).
    answer = client.post(f"/jobs/{namesakes['job']}/edit", data={
        **_form_fields(page), "truck_id": "0", "crew": ["Sam Lee"], "dispatch_status": "UNASSIGNED"})
    assert answer.status_code == 302
    assert _saved_crew(app, namesakes["job"]) == (["Sam Lee"], [None])


@pytest.mark.parametrize("value", ["member:999999", "member:abc", "member:-1", "Nobody Known"])
def test_an_unknown_id_or_name_is_refused(app, client, namesakes, value):
    login_as(client, namesakes["dispatcher"])
    page = client.get(f"/jobs/{namesakes['job']}/edit").get_data(as_text=True)
    answer = client.post(f"/jobs/{namesakes['job']}/edit", data={
        **_form_fields(page), "truck_id": "0", "crew": [value], "dispatch_status": "UNASSIGNED"})
    assert answer.status_code == 422 and "not a valid choice" in answer.get_data(as_text=True)
    assert _saved_crew(app, namesakes["job"]) == (None, None)


def test_the_conflicts_preview_follows_the_id_not_the_name(app, client, namesakes):
    # The Buffalo Sam is busy at the same hours on another job; the Toronto Sam is free.
    add_job(app, namesakes["buffalo"], job_number="BUSY-1", crew=["Sam Lee"], crew_member_ids=[namesakes["second"]],
            smartmoving_crew=[])
    login_as(client, namesakes["dispatcher"])
    url = f"/jobs/{namesakes['job']}/assign/preview"
    busy = client.get(url, query_string={"crew": value_of("Sam Lee", namesakes["second"])}).get_data(as_text=True)
    free = client.get(url, query_string={"crew": value_of("Sam Lee", namesakes["first"])}).get_data(as_text=True)
    assert "Sam Lee is also on job BUSY-1" in busy
    assert "BUSY-1" not in free


def test_a_picker_value_is_an_id_only_when_it_says_so():
    from dashboard.jobs.crew_pick import member_id_of
    assert member_id_of("member:12") == 12
    assert [member_id_of(v) for v in ("12", "member:", "member:1x", "member:٣", "member:0", f"member:{2**31}",
                                      "Member:3", None)] == [None] * 8
    assert value_of("Ann", None) == "Ann" and value_of("Ann", 7) == "member:7"
