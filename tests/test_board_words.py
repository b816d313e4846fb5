"""The board says in words what a badge means (issue 20 §3, §7): clashes name what and with which job,
the other job linked only for viewers who may see it; the Crew column says whose crew it is."""
import pytest

from dashboard.db import db
from dashboard.models import TruckJourney
from tests.support import login_as
from tests.support.ui import add_job
from tests.support.ui import add_truck
from tests.support.ui import build_world


@pytest.fixture
def world(app, default_company, make_company, make_location, make_user):
    return build_world(app, default_company, make_company, make_location, make_user)


def _row(board, job_id):
    """The table row of job_id in a board page."""
    row = board[board.index(f'<tr id="job-{job_id}"'):]
    return row[:row.index("</tr>")]


def test_a_clash_names_the_truck_and_the_other_job_linked_only_when_visible(app, client, world):
    truck = add_truck(app, world.company, "7")
    with app.app_context():
        for job_id in (world.job_a, world.job_b):   # Alpha's A-100 and Beta's B-200, both 8:00 today
            db.session.get(TruckJourney, job_id).truck_id = truck
        db.session.commit()
    login_as(client, world.users["ADMIN"])
    row = _row(client.get("/?group=none").get_data(as_text=True), world.job_a)
    assert f'<span class="sr-only">Conflict: </span>Truck 7 · with\n<a href="/jobs/{world.job_b}">B-200</a> 8' in row
    login_as(client, world.users["DISPATCHER"])                  # Alpha only: Beta's job stays anonymous
    row = _row(client.get("/").get_data(as_text=True), world.job_a)
    assert "Truck 7 · with\na job elsewhere" in row and "B-200" not in row and f"/jobs/{world.job_b}" not in row


def test_the_crew_column_says_whose_crew_it_is(app, client, world):
    accepted = add_job(app, world.loc_a, job_number="A-101", crew=["Mo Mover", "Dan Driver"],
                       smartmoving_crew=["Dan Driver", "Mo Mover"])
    ours = add_job(app, world.loc_a, job_number="A-102", crew=["Mo Mover"], smartmoving_crew=["Dan Driver"])
    login_as(client, world.users["DISPATCHER"])
    board = client.get("/").get_data(as_text=True)
    assert ">SM<span class=\"sr-only\"> (SmartMoving's crew, not accepted yet)" in _row(board, world.job_a)
    assert 'class="sm sm-accepted"' in _row(board, accepted) and "SM ✓" in _row(board, accepted)
    assert 'class="sm sm-ours" title="Our crew; SmartMoving has Dan Driver">Ours' in _row(board, ours)
