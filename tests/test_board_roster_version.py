"""The board's version follows the crew roster and what frames the rows (migration 0015, jobs.board_frame).

A role edited on /crew reaches every open board on its next poll, with no job touched; a
sync's writes and the role defaults it fills move the roster's stamp too; the frame (locations,
last sync, "Not synced") is kept across job edits but follows a sync.
"""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.confirm import states
from dashboard.db import db
from dashboard.jobs.crew_roster import fingerprint
from dashboard.jobs.queries import VERSION_CREW
from dashboard.jobs.queries import board_version
from dashboard.models import CrewMember
from dashboard.models import SyncRun
from dashboard.models import TruckJourney
from dashboard.models import User
from dashboard.models import utcnow
from dashboard.sync.upsert import fill_empty_crew_roles
from dashboard.sync.upsert import upsert_crew
from tests.support import csrf_token_from
from tests.support import login_as
from tests.support.confirm import answer_link
from tests.support.ui import add_job
from tests.support.ui import add_truck
from tests.support.ui import build_world

LIVE = {"HX-Request": "true", "HX-Trigger": "board-live"}


@pytest.fixture
def world(app, default_company, make_company, make_location, make_user):
    return build_world(app, default_company, make_company, make_location, make_user)


def _people(app, company_id, *named):
    """CrewMembers (name, role) of company_id; returns their ids."""
    with app.app_context():
        members = [CrewMember(company_id=company_id, external_id=f"sm-{name}", name=name, status="Active", role=role)
                   for name, role in named]
        db.session.add_all(members)
        db.session.commit()
        return [member.id for member in members]


def _version(app, user_id, day):
    with app.app_context():
        return board_version(db.session.get(User, user_id), day)


def test_a_role_edited_on_the_crew_page_reaches_the_polled_board_with_no_job_touched(app, client, world):
    # The company uses roles (someone drives), so a truck crewed by two movers has no driver.
    _driver, pat, _lee = _people(app, world.company.id, ("Dee Driver", "driver"), ("Pat Porter", "mover"),
                                 ("Lee Lifter", "mover"))
    truck = add_truck(app, world.company, "Truck 515", world.loc_a)
    add_job(app, world.loc_a, customer_name="Rolf Roles", job_number="R-515100", truck_id=truck,
            crew=["Pat Porter", "Lee Lifter"])
    admin = world.users["ADMIN"]
    login_as(client, admin)
    first = client.get("/", headers=LIVE)
    assert first.status_code == 200 and "f-no-driver" in first.get_data(as_text=True)
    etag = first.headers["ETag"]
    assert client.get("/", headers={**LIVE, "If-None-Match": etag}).status_code == 304
    with app.app_context():
        jobs_before = db.session.execute(sa.select(TruckJourney.id, TruckJourney.dispatch_updated_at,
                                                   TruckJourney.last_sync_at)).all()

    token = csrf_token_from(client.get(f"/crew/{pat}").get_data(as_text=True))
    assert client.post(f"/crew/{pat}", data={"csrf_token": token, "role": "driver", "phone": "", "email": "",
                                             "notes": ""}).status_code == 302

    polled = client.get("/", headers={**LIVE, "If-None-Match": etag})
    assert polled.status_code == 200   # the version moved: not a 304
    assert "f-no-driver" not in polled.get_data(as_text=True)
    with app.app_context():   # and no job was written to get there
        assert db.session.execute(sa.select(TruckJourney.id, TruckJourney.dispatch_updated_at,
                                            TruckJourney.last_sync_at)).all() == jobs_before


def test_every_roster_write_moves_the_roster_part_of_the_version(app, world):
    admin = world.users["ADMIN"]
    day = world.today
    seen = [_version(app, admin.id, day)[VERSION_CREW]]

    def moved():
        now = _version(app, admin.id, day)[VERSION_CREW]
        assert now != seen[-1]
        seen.append(now)

    with app.app_context():   # a sync brings someone new (an insert)
        upsert_crew(world.company.id, [{"external_id": "sm-new", "name": "Nia New", "status": "Active",
                                        "role_name": "Driver"}], utcnow())
        db.session.commit()
    moved()
    with app.app_context():   # the sync's role default (a Core UPDATE of our column)
        fill_empty_crew_roles(world.company.id, {"sm-new": "driver"})
        db.session.commit()
    moved()
    with app.app_context():   # a sync renames them (a Core UPDATE through the upsert)
        upsert_crew(world.company.id, [{"external_id": "sm-new", "name": "Nia Renamed", "status": "Active",
                                        "role_name": "Driver"}], utcnow() + timedelta(seconds=1))
        db.session.commit()
    moved()
    with app.app_context():   # our own edit through the ORM
        member = db.session.scalars(sa.select(CrewMember).where(CrewMember.external_id == "sm-new")).one()
        member.phone = "+1 416 555 0199"
        db.session.commit()
    moved()
    with app.app_context():   # the part is the roster's own fingerprint: one cache entry serves both readers
        assert tuple(seen[-1]) == fingerprint(world.company.id)
    other = _people(app, world.other_company.id, ("Rival Ron", "mover"))
    assert other and _version(app, admin.id, day)[VERSION_CREW] == seen[-1]   # another company's roster is not ours


def test_the_frame_survives_a_job_edit_and_follows_a_sync(app, client, world):
    login_as(client, world.users["ADMIN"])
    assert "Never synced" in client.get("/", headers=LIVE).get_data(as_text=True)
    assert "outside the synced window" in client.get("/").get_data(as_text=True)
    with app.app_context():   # a job edit: the rows change, the frame (no sync yet) does not
        job = db.session.get(TruckJourney, world.job_a)
        job.notes, job.dispatch_updated_at = "Ring twice", utcnow()
        db.session.commit()
    edited = client.get("/", headers=LIVE).get_data(as_text=True)
    assert "Ring twice" in edited and "Never synced" in edited
    with app.app_context():   # a successful sync over today: the header says so on the next poll
        now = utcnow()
        db.session.add(SyncRun(company_id=world.company.id, trigger="manual", status="SUCCESS",
                               window_start=world.today, window_end=world.today + timedelta(days=1),
                               started_at=now - timedelta(seconds=30), finished_at=now))
        db.session.commit()
    synced = client.get("/", headers=LIVE).get_data(as_text=True)
    assert "Last synced" in synced and "Never synced" not in synced
    assert "outside the synced window" not in client.get("/").get_data(as_text=True)


def test_a_refresh_that_changes_nobody_leaves_the_roster_stamp_and_a_change_stamps_only_that_person(app, world):
    record = {"external_id": "sm-steady", "name": "Stu Steady", "status": "Active", "role_name": "Mover"}
    with app.app_context():
        upsert_crew(world.company.id, [record, {**record, "external_id": "sm-other", "name": "Oda Other"}],
                    utcnow(), stamp=utcnow())
        db.session.commit()
    before = _version(app, world.users["ADMIN"].id, world.today)[VERSION_CREW]
    with app.app_context():   # the same records again: nothing written, nothing stamped
        assert upsert_crew(world.company.id, [record], utcnow(), stamp=utcnow() + timedelta(hours=1))[:2] == (0, 0)
        db.session.commit()
    assert _version(app, world.users["ADMIN"].id, world.today)[VERSION_CREW] == before
    later = utcnow() + timedelta(hours=2)
    with app.app_context():   # one renamed: only that row takes the refresh's stamp
        upsert_crew(world.company.id, [{**record, "name": "Stu Renamed"}], utcnow(), stamp=later)
        db.session.commit()
        stamps = dict(db.session.execute(sa.select(CrewMember.external_id, CrewMember.changed_at).where(
            CrewMember.external_id.in_(["sm-steady", "sm-other"]))).all())
    assert stamps["sm-steady"] == later and stamps["sm-other"] < later
    assert _version(app, world.users["ADMIN"].id, world.today)[VERSION_CREW][1] == later


def test_a_role_edited_alone_after_confirming_marks_the_confirmed_person_changed(app, client, plan_world, make_user,
                                                                               login):
    assert answer_link(client, plan_world.tokens[plan_world.ana], "confirmed").status_code == 303
    login(make_user("ADMIN"))
    fragment = {"HX-Request": "true"}
    first = client.get("/board/tomorrow", headers=fragment)
    assert "confirmed: </span>Ana Driver" in first.get_data(as_text=True)
    with app.app_context():   # Bo, on Ana's job, becomes the foreman: what Ana was told ("Bo Mover, mover") changed
        db.session.get(CrewMember, plan_world.bo).role = "foreman"
        db.session.commit()
        plan = states.day_plan(plan_world.company_id, plan_world.day)
    assert plan.state(plan_world.first, plan_world.ana) == states.CHANGED
    assert plan.state(plan_world.second, plan_world.cy) == states.SENT   # the other job's crew was told nothing else
    polled = client.get("/board/tomorrow", headers={**fragment, "If-None-Match": first.headers["ETag"]})
    assert polled.status_code == 200 and "changed: </span>Ana Driver" in polled.get_data(as_text=True)
