"""What is kept piles up: sync runs (thousands a month) and every past day's jobs. What a board
poll, a board and the sync page ask of them must not grow with that history."""
import contextlib
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.db import db
from dashboard.jobs.queries import board_version
from dashboard.models import SyncRun
from dashboard.models import TruckJourney
from dashboard.models import User
from dashboard.models import utcnow
from tests.support import login_as
from tests.support.ui import build_world


@pytest.fixture
def world(app, default_company, make_company, make_location, make_user):
    return build_world(app, default_company, make_company, make_location, make_user)


def add_runs(app, company_id, count, newest, window_days=2, every=timedelta(minutes=10)):
    """count finished runs, every apart, the last finishing at newest; one in 50 failed.

    Each run sweeps the window_days starting on its own day, as the scheduler's runs do: a
    history where thousands of runs all swept one day would make that day's lookups read
    them all, and whether "today" fell in that window depended on the hour the test ran.
    """
    with app.app_context():
        rows = []
        for n in range(count):
            finished = newest - n * every
            rows.append(dict(company_id=company_id, trigger="scheduled", window_start=finished.date(),
                             window_end=finished.date() + timedelta(days=window_days - 1),
                             status="FAILED" if n % 50 == 0 else "SUCCESS",
                             started_at=finished - timedelta(seconds=40), finished_at=finished, pages_fetched=3))
        db.session.execute(sa.insert(SyncRun), rows)
        db.session.commit()


@contextlib.contextmanager
def sqlite_steps(engine, every=50):
    """Counts (in units of every) the SQLite virtual machine's steps run inside the block."""
    steps = [0]

    def count():
        steps[0] += every
        return 0   # go on

    def on_checkout(dbapi_connection, record, proxy):
        dbapi_connection.set_progress_handler(count, every)

    def on_checkin(dbapi_connection, record):
        dbapi_connection.set_progress_handler(None, every)

    sa.event.listen(engine, "checkout", on_checkout)
    sa.event.listen(engine, "checkin", on_checkin)
    try:
        yield steps
    finally:
        sa.event.remove(engine, "checkout", on_checkout)
        sa.event.remove(engine, "checkin", on_checkin)


def test_the_board_version_ends_with_the_newest_successful_or_partial_run(app, world):
    now = utcnow().replace(microsecond=0)
    with app.app_context():
        admin = db.session.get(User, world.users["ADMIN"].id)
        db.session.add_all([
            SyncRun(company_id=world.company.id, trigger="t", window_start=world.today, window_end=world.today,
                    status=status, started_at=now - timedelta(minutes=minutes + 1),
                    finished_at=None if status == "RUNNING" else now - timedelta(minutes=minutes))
            for status, minutes in (("SUCCESS", 30), ("PARTIAL", 20), ("FAILED", 10), ("RUNNING", 0))])
        # Another company's newer success is not this company's.
        db.session.add(SyncRun(company_id=world.other_company.id, trigger="t", window_start=world.today,
                               window_end=world.today, status="SUCCESS", started_at=now, finished_at=now))
        db.session.commit()
        assert board_version(admin, world.today)[-1] == now - timedelta(minutes=20)


def test_a_poll_a_board_and_the_sync_page_cost_the_same_after_a_year_of_runs(app, client, backend, world):
    if backend != "sqlite":
        pytest.skip("counts the SQLite virtual machine's steps")
    engine = app.extensions["sqlalchemy_engine"]
    now = utcnow()
    # A day of recent runs, all sweeping today and tomorrow together (so the search for a
    # one-day sweep's cost finds none among them).
    add_runs(app, world.company.id, 150, newest=now)
    login_as(client, world.users["ADMIN"])
    poll = {"HX-Request": "true", "HX-Trigger": "board-live"}
    etag = client.get("/", headers=poll).headers["ETag"]
    far_day = (world.today + timedelta(days=60)).isoformat()

    def costs():
        measured = {}
        for name, path, headers, status in (("poll", "/", poll | {"If-None-Match": etag}, 304),
                                            ("unsynced board", f"/board?date={far_day}", {}, 200),
                                            ("sync page", "/sync/", {}, 200)):
            client.get(path, headers=headers)   # anything read once per process is read by now
            with sqlite_steps(engine) as steps:
                assert client.get(path, headers=headers).status_code == status
            measured[name] = steps[0]
        return measured

    before = costs()
    add_runs(app, world.company.id, 6000, newest=now - timedelta(days=2))   # six weeks more, older
    after = costs()
    for name in before:
        assert after[name] <= before[name] * 1.2 + 500, (name, before, after)


def test_a_super_admins_poll_costs_the_same_after_a_year_of_jobs_in_every_company(app, client, backend, world):
    if backend != "sqlite":
        pytest.skip("counts the SQLite virtual machine's steps")
    engine = app.extensions["sqlalchemy_engine"]
    login_as(client, world.users["SUPER_ADMIN"])
    poll = {"HX-Request": "true", "HX-Trigger": "board-live"}

    def poll_cost():
        etag = client.get("/", headers=poll).headers["ETag"]
        with sqlite_steps(engine) as steps:
            assert client.get("/", headers=poll | {"If-None-Match": etag}).status_code == 304
        return steps[0]

    before = poll_cost()
    with app.app_context():   # past days' jobs of both companies, as a year of syncs leaves them
        db.session.execute(sa.insert(TruckJourney), [
            dict(company_id=location.company_id, location_id=location.id,
                 scheduled_date=world.today - timedelta(days=1 + n % 365),
                 external_id=f"past-{location.id}-{n}", customer_name=f"Past {n}", status="COMPLETED")
            for location in (world.loc_a, world.loc_c) for n in range(3000)])
        db.session.commit()
    after = poll_cost()
    assert after <= before * 1.2 + 500, (before, after)
