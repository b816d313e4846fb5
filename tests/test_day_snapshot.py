"""Boards are cut from one read of the company's day per change (jobs.day_snapshot), never from an old one."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.db import db
from dashboard.jobs import day_snapshot
from dashboard.jobs.queries import board_version
from dashboard.models import TruckJourney
from dashboard.models import User
from dashboard.models import utcnow
from dashboard.sync import removals
from tests.support import csrf_token_from
from tests.support import login_as
from tests.support import statements_sent
from tests.support.ui import add_job
from tests.support.ui import add_truck
from tests.support.ui import build_world


@pytest.fixture
def world(app, default_company, make_company, make_location, make_user):
    return build_world(app, default_company, make_company, make_location, make_user)


def day_reads(app):
    """Collects the wide reads of a day's jobs (the version and stamp queries read only the index)."""
    return statements_sent(app.extensions["sqlalchemy_engine"], lambda statement: (
        "truck_journeys.customer_name" in statement and "truck_journeys.scheduled_date" in statement))


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
    # The clash is named (who, when) but the other job stays anonymous: "Sam Solo · with a job elsewhere 8 AM–12 PM".
    assert "Conflict" in html and "Sam Solo · with" in html and "a job elsewhere" in html


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
        day_snapshot.forget()
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


def _moved_reads(reads):
    """The day reads that asked for some jobs by id (the jobs whose stamps moved), not the whole day."""
    return [statement for statement in reads if "truck_journeys.id IN" in statement]


def test_after_an_edit_only_the_edited_job_is_read_again(app, client, world):
    login_as(client, world.users["ADMIN"])
    truck = add_truck(app, world.company, "Truck 808", world.loc_a)
    _board(client)   # the day, read whole
    csrf = csrf_token_from(client.get(f"/jobs/{world.job_a}/edit").get_data(as_text=True))
    client.post(f"/jobs/{world.job_a}/edit", data={"csrf_token": csrf, "truck_id": str(truck),
                                                  "dispatch_status": "UNASSIGNED", "notes": "Piano"})
    with day_reads(app) as reads:
        html = _board(client)
    assert "Truck 808" in html and "Bert Beta" in html
    assert len(reads) == 1 and len(_moved_reads(reads)) == 1


def _fragment(client):
    answer = client.get("/", headers={"HX-Request": "true"})
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def _read_cold(client):
    """The fragment drawn from nothing kept: every cache of the boards emptied first."""
    from dashboard.jobs import board as dayboard
    from dashboard.jobs import render_cache
    day_snapshot.forget()
    render_cache.partials.clear()
    dayboard.row_cache.clear()
    return _fragment(client)


def test_a_day_kept_up_job_by_job_draws_as_a_day_read_whole(app, client, world):
    """Edits, syncs, cancellations, removals and new jobs, in random order: every board drawn
    from the kept-up day (clashes, badges, counts, totals) equals one drawn from a whole read."""
    import random

    from dashboard.jobs.dispatch import update_dispatch
    from dashboard.sync.upsert import remove_journeys

    rng = random.Random(20261129)
    people = ["Ann Lift", "Bo Carry", "Cy Pack", "Di Haul"]
    trucks = [add_truck(app, world.company, f"Truck {n}", world.loc_a) for n in (301, 302)]
    jobs = [add_job(app, rng.choice([world.loc_a, world.loc_b]), customer_name=f"Client {n}", job_number=f"K-{n}",
                    arrival_start_hour=rng.choice([8.0, 9.0, 13.0, None]), smartmoving_crew=rng.sample(people, 2),
                    last_sync_at=utcnow())
            for n in range(12)]
    login_as(client, world.users["ADMIN"])
    assert "Client 11" in _read_cold(client)

    def change():
        kind = rng.choice(["dispatch", "dispatch", "sync", "cancel", "remove", "moved", "new"])
        job_id = rng.choice(jobs)
        with app.app_context():
            admin = db.session.get(User, world.users["ADMIN"].id)
            job = db.session.get(TruckJourney, job_id)
            if kind == "dispatch":
                update_dispatch(job, admin, rng.choice(trucks + [None]), rng.sample(people, rng.randint(0, 2)),
                                job.dispatch_status, rng.choice(["", "Call first"]))
            elif kind == "sync":
                hour = rng.choice([7.0, 9.0, 15.0])
                db.session.execute(sa.update(TruckJourney).where(TruckJourney.id == job_id).values(
                    arrival_start_hour=hour, span_start=None, span_end=None, customer_name=f"Renamed {hour}",
                    smartmoving_crew=rng.sample(people, 2), last_sync_at=utcnow()))
            elif kind == "cancel":
                db.session.execute(sa.update(TruckJourney).where(TruckJourney.id == job_id).values(
                    status=rng.choice(["CANCELLED", "BOOKED"]), last_sync_at=utcnow()))
            elif kind == "moved":   # SmartMoving moved the job to tomorrow
                db.session.execute(sa.update(TruckJourney).where(TruckJourney.id == job_id).values(
                    scheduled_date=world.today + timedelta(days=1), last_sync_at=utcnow()))
            elif kind == "remove":
                remove_journeys([job_id], utcnow(), "No longer in SmartMoving for this date.")
            db.session.commit()
        if kind == "new":
            jobs.append(add_job(app, world.loc_a, customer_name=f"Client {len(jobs)}", arrival_start_hour=9.0,
                                smartmoving_crew=rng.sample(people, 2), last_sync_at=utcnow()))
        return kind

    kinds = []
    for _ in range(15):
        kinds += [change(), change()]
        with day_reads(app) as reads:
            _fragment(client)                  # a kept-up read between the two
        kinds.append(change())
        with day_reads(app) as more_reads:
            kept_up = _fragment(client)        # ...and another from that one
        reads += more_reads
        assert _moved_reads(reads) == reads, kinds[-3:]   # never the whole day again
        assert kept_up == _read_cold(client), kinds[-3:]
    assert {"dispatch", "sync", "cancel", "remove", "moved", "new"} <= set(kinds)
    assert "Conflict" in kept_up


def test_a_new_truck_reads_the_whole_day_again(app, client, world):
    login_as(client, world.users["ADMIN"])
    _board(client)
    add_truck(app, world.company, "Truck 919", world.loc_a)
    with day_reads(app) as reads:
        _board(client)
    assert len(reads) == 1 and not _moved_reads(reads)


def test_a_job_rescheduled_away_leaves_the_polled_board_although_a_newer_job_stays(app, client, world):
    # The moved job's new stamp lands on the day it joins; the day it left keeps its newest
    # stamps (the other job's), so only the day's count can tell its board.
    now = utcnow()
    leaving = add_job(app, world.loc_a, customer_name="Leah Leaving", last_sync_at=now - timedelta(hours=2))
    add_job(app, world.loc_a, customer_name="Stan Staying", last_sync_at=now - timedelta(hours=1))
    login_as(client, world.users["ADMIN"])
    poll = {"HX-Request": "true", "HX-Trigger": "board-live"}
    first = client.get("/", headers=poll)
    assert "Leah Leaving" in first.get_data(as_text=True)
    with app.app_context():   # as a sync writes a job SmartMoving moved to tomorrow
        db.session.execute(sa.update(TruckJourney).where(TruckJourney.id == leaving).values(
            scheduled_date=world.today + timedelta(days=1), last_sync_at=now))
        db.session.commit()
    again = client.get("/", headers=poll | {"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200
    html = again.get_data(as_text=True)
    assert "Leah Leaving" not in html and "Stan Staying" in html


def test_a_read_after_an_edit_clashes_do_not_read_keeps_the_days_clashes_and_any_other_change_finds_them_again(
        app, world):
    from datetime import datetime

    from dashboard.models import CrewMember
    from dashboard.models import TimeOff
    from dashboard.timeutil import company_today

    with app.app_context():
        member = CrewMember(company_id=world.company.id, external_id="cm-zed", name="Zed Twice", status="active")
        db.session.add(member)
        db.session.commit()
        member_id = member.id
    first = add_job(app, world.loc_a, crew=["Zed Twice"], crew_member_ids=[member_id], job_number="Z-1")
    second = add_job(app, world.loc_a, crew=["Zed Twice"], crew_member_ids=[member_id], job_number="Z-2")
    with app.app_context():
        admin = db.session.get(User, world.users["ADMIN"].id)
        day = company_today(world.company.timezone)

        def read():
            db.session.commit()   # a new transaction: each read sees the last write
            return day_snapshot.company_day(admin, day)

        def edit(job_id, **values):
            db.session.execute(sa.update(TruckJourney).where(TruckJourney.id == job_id)
                               .values(dispatch_updated_at=utcnow(), **values))
            db.session.commit()

        before = read()
        assert [c.kind for c in before.conflicts[first]] == ["crew"]
        edit(first, notes="Gate code 1234")                 # nothing a clash reads
        after_notes = read()
        assert after_notes is not before and after_notes.conflicts is before.conflicts
        edit(second, crew=["Someone Else"], crew_member_ids=[None])   # the clash goes
        assert first not in read().conflicts
        midnight = datetime.combine(day, datetime.min.time())
        db.session.add(TimeOff(company_id=world.company.id, crew_member_id=member_id, starts_at=midnight,
                               ends_at=midnight + timedelta(days=1), reason="dentist"))
        db.session.commit()                                 # no job stamp moves: only the version
        assert [c.kind for c in read().conflicts[first]] == ["timeoff"]
