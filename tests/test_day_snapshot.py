"""Boards are cut from one read of the company's day per change (jobs.day_snapshot), never from an old one."""
import contextlib

import pytest
import sqlalchemy as sa

from conftest import csrf_token_from
from conftest import login_as
from dashboard.db import db
from dashboard.jobs import day_snapshot
from dashboard.jobs.queries import board_version
from dashboard.models import TruckJourney
from dashboard.models import User
from dashboard.models import utcnow
from dashboard.sync import removals
from ui_helpers import add_job
from ui_helpers import add_truck
from ui_helpers import build_world


@pytest.fixture
def world(app, default_company, make_company, make_location, make_user):
    return build_world(app, default_company, make_company, make_location, make_user)


@contextlib.contextmanager
def day_reads(app):
    """Counts the wide reads of a day's jobs (the version query reads only the index)."""
    reads = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        if "truck_journeys.customer_name" in statement and "truck_journeys.scheduled_date" in statement:
            reads.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        yield reads
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)


def _board(client, **query):
    answer = client.get("/", query_string=query)
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def test_other_cuts_of_an_unchanged_day_read_nothing_again(app, client, world):
    login_as(client, world.users["ADMIN"])
    with day_reads(app) as reads:
        assert "Alice Able" in _board(client)
        assert len(reads) == 1
        searched = _board(client, q="Bert")
        sorted_lanes = _board(client, view="lanes", sort="-customer")
        login_as(client, world.users["DISPATCHER"])   # another role, bound to Alpha Branch
        theirs = _board(client)
        assert len(reads) == 1   # one read of the day served all four boards
    assert "Bert Beta" in searched and "Alice Able" not in searched
    assert "Alice Able" in sorted_lanes
    assert "Alice Able" in theirs and "Bert Beta" not in theirs
    assert "Carl Other" not in theirs   # another company's day is never in the snapshot


def test_an_edit_is_on_the_next_board(app, client, world):
    login_as(client, world.users["ADMIN"])
    truck = add_truck(app, world.company, "Truck 808", world.loc_a)
    assert "Truck 808" not in _board(client)
    csrf = csrf_token_from(client.get(f"/jobs/{world.job_a}/edit").get_data(as_text=True))
    answer = client.post(f"/jobs/{world.job_a}/edit", data={"csrf_token": csrf, "truck_id": str(truck),
                                                           "dispatch_status": "UNASSIGNED", "notes": ""})
    assert answer.status_code == 302
    with day_reads(app) as reads:
        assert "Truck 808" in _board(client)
        assert len(reads) == 1   # the version moved, so the day was read again


def test_a_location_bound_viewer_sees_a_clash_with_a_hidden_job_anonymously(app, client, world):
    # Sam is on Alpha's job and, at the same hour, on one in Beta, which the dispatcher cannot see.
    add_job(app, world.loc_a, customer_name="Ann Alpha", job_number="A-101", smartmoving_crew=["Sam Solo"])
    add_job(app, world.loc_b, customer_name="Hidden Beta", job_number="B-999", smartmoving_crew=["Sam Solo"])
    login_as(client, world.users["DISPATCHER"])
    html = _board(client)
    assert "Ann Alpha" in html and "Hidden Beta" not in html and "B-999" not in html
    assert "Conflict" in html and "a job in another location" in html


def test_holding_and_keeping_removals_move_the_board_version(app, world):
    with app.app_context():
        admin = db.session.get(User, world.users["ADMIN"].id)
        before = board_version(admin, world.today)
        removals.hold([world.job_a], utcnow(), "held")
        db.session.commit()
        held = board_version(admin, world.today)
        removals.keep(admin.company_id, admin, job_ids=[world.job_a])
        db.session.commit()
        kept = board_version(admin, world.today)
        assert before != held != kept
        assert db.session.get(TruckJourney, world.job_a).removal_pending_at is None


def test_a_crew_read_twice_is_one_tuple_not_a_shared_list(app, world):
    with app.app_context():
        day_snapshot.snapshots.clear()
        admin = db.session.get(User, world.users["ADMIN"].id)
        job = next(j for j in day_snapshot.company_day(admin, world.today).jobs if j.id == world.job_a)
        assert job.smartmoving_crew == ("Dan Driver", "Mo Mover")
        assert job.effective_crew == ["Dan Driver", "Mo Mover"]   # callers get their own list
        assert job.scheduled_date == world.today and job.created_at is not None


def test_a_truck_added_or_taken_out_of_service_moves_the_board_version(app, client, world):
    with app.app_context():
        admin = db.session.get(User, world.users["ADMIN"].id)
        before = board_version(admin, world.today)
    truck = add_truck(app, world.company, "Truck 909", world.loc_a)
    login_as(client, world.users["ADMIN"])
    assert "Truck 909" in _board(client, view="lanes")
    with app.app_context():
        added = board_version(admin, world.today)
    csrf = csrf_token_from(client.get("/admin/trucks").get_data(as_text=True))
    answer = client.post(f"/admin/trucks/{truck}/active", data={"csrf_token": csrf}, follow_redirects=True)
    assert "Truck 909 is out of service." in answer.get_data(as_text=True)   # not "Truck Truck 909"
    with app.app_context():
        retired = board_version(admin, world.today)
    assert before != added != retired
    assert "Truck 909" not in _board(client, view="lanes")   # the lanes list trucks in service
