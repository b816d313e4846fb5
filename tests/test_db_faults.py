"""Database faults: errors that carry no data, a lock order without deadlocks, outages and dropped connections."""
import logging
import os
import re
import socket
import sqlite3
import threading
import time

import psycopg
import pytest
import sqlalchemy as sa

from dashboard.db import db
from dashboard.logs import JsonFormatter
from dashboard.models import RunStatus
from dashboard.models import SyncRun
from dashboard.models import utcnow
from dashboard.sandbox.server import start_sandbox
from dashboard.sandbox.world import SandboxWorld
from dashboard.sync import unfinished
from dashboard.sync import upsert
from dashboard.sync.service import reap_dead_runs
from tests.support import PG_URL
from tests.support import csrf_token_from
from tests.support import database_url_for
from tests.support import login_as
from tests.support import make_test_app
from tests.support.api import bearer
from tests.support.syncing import sync
from tests.support.ui import add_job

TZ = "America/Toronto"
SECRET_NAME = "Zelda Quux-Secretname"
SECRET_PHONE = "+1 555 0199 8877"
SECRET_EMAIL = "zelda.private@example.org"


@pytest.fixture
def sandbox_world():
    """A smaller world than the shared sandbox's (the `sandbox` and `sync_app` fixtures are tests/conftest.py's)."""
    return {"seed": 11, "branches": 2, "jobs_per_day": 6}


def give_every_customer_the_secret(world):
    for customer in world.customers.values():
        customer.name, customer.phone, customer.email = SECRET_NAME, SECRET_PHONE, SECRET_EMAIL


def leaks(text, code_lines=False):
    """What of the customer's data or the SQL text shows in text (a traceback's code lines may say SELECT)."""
    sql = ("[SQL", "[parameters") + (() if code_lines else ("SELECT ", "UPDATE ", "INSERT "))
    return [word for word in (SECRET_NAME, SECRET_PHONE, SECRET_EMAIL, "Secretname") + sql if word in text]


def test_a_database_error_during_a_sync_stores_and_shows_no_data_and_logs_none(sync_app, sandbox, monkeypatch,
                                                                                caplog, make_user, client):
    give_every_customer_the_secret(sandbox.world)
    real_upsert = upsert.upsert_journeys

    def upsert_then_fail(company_id, records, *args, **kwargs):
        result = real_upsert(company_id, records, *args, **kwargs)   # whatever else the syncer passes along
        # A statement that fails in the database while carrying a batch's customer values.
        record = records[0]
        db.session.execute(sa.text("SELECT * FROM no_such_table WHERE name = :name AND phone = :phone "
                                   "AND email = :email"), {"name": record["customer_name"],
                                                           "phone": record["customer_phone"],
                                                           "email": record["customer_email"]})
        return result

    monkeypatch.setattr(upsert, "upsert_journeys", upsert_then_fail)
    caplog.set_level(logging.INFO, logger="dashboard")
    run = sync(sync_app)

    assert run.status == "FAILED"
    assert run.error.startswith("Unexpected error: ") and ("OperationalError" in run.error
                                                           or "UndefinedTable" in run.error), run.error
    assert leaks(run.error) == []
    with sync_app.app_context():
        assert leaks(db.session.scalar(sa.select(SyncRun.error).where(SyncRun.id == run.id))) == []
    # The logs as they are written (JSON lines, tracebacks included).
    formatter = JsonFormatter()
    logged = "\n".join(formatter.format(record) for record in caplog.records)
    assert "sync run" in logged and "Traceback" in logged
    assert leaks(logged, code_lines=True) == []
    assert "no_such_table WHERE" not in logged.replace('no_such_table WHERE name = :name', '')
    # What a dispatcher of another location reads: the sync page and the API.
    login_as(client, make_user("DISPATCHER"))
    page = client.get("/sync/").get_data(as_text=True)
    assert "Unexpected error" in page and leaks(page) == []
    status = client.get("/api/smartmoving/sync/status").get_json()
    assert status["runs"][0]["error"] == run.error


def test_describe_error_keeps_the_class_and_drops_sql_values_and_details():
    from dashboard.error_text import describe_error

    class FakeDriverError(Exception):
        pass

    original = FakeDriverError('duplicate key value violates unique constraint "uq_x"\n'
                               f"DETAIL:  Key (name)=({SECRET_NAME}) already exists.")
    error = sa.exc.IntegrityError("UPDATE truck_journeys SET customer_name=%(name)s", {"name": SECRET_NAME}, original)
    assert describe_error(error) == 'FakeDriverError: duplicate key value violates unique constraint "uq_x"'
    driver_error = FakeDriverError(f'invalid input syntax for type integer: "{SECRET_NAME}"')
    quoted = sa.exc.DataError("SELECT 1", {}, driver_error)
    assert describe_error(quoted) == "FakeDriverError: invalid input syntax for type integer"
    assert describe_error(ValueError("bad\nsecond line")) == "ValueError: bad"
    assert describe_error(KeyError()) == "KeyError"


# ---------------------------------------------------------------- one lock order: no deadlocks

def test_syncs_rewriting_jobs_while_dispatchers_patch_them_never_deadlock(backend, tmp_path, monkeypatch,
                                                                        make_user):
    """PATCH locked the job row and then the company's stamp lock; sync batches take them the other way round."""
    if backend != "postgresql":
        pytest.skip("SQLite's single writer lock cannot deadlock")
    server = start_sandbox(SandboxWorld(seed=3, timezone=TZ, branches=2, jobs_per_day=16))
    app = make_test_app(database_url_for(backend, tmp_path), tmp_path, SMARTMOVING_BASE_URL=server.base_url,
                        SMARTMOVING_API_KEY=server.api_key, DASHBOARD_TIMEZONE=TZ, SYNC_WRITE_BATCH=4,
                        OPPORTUNITY_REFRESH_MINUTES=0, SMARTMOVING_MONTHLY_QUOTA=0)
    try:
        first = sync(app)
        assert first.status == "SUCCESS", first.error
        with app.app_context():
            job_ids = list(db.session.scalars(sa.text("SELECT id FROM truck_journeys ORDER BY id")))
        headers = bearer(app, make_user("ADMIN"))
        stop = time.monotonic() + 4
        answers, runs, errors = [], [], []

        def patcher(offset):
            client = app.test_client()
            n = 0
            try:
                while time.monotonic() < stop:
                    job_id = job_ids[(offset + n) % len(job_ids)]
                    n += 1
                    read = client.get(f"/api/smartmoving/jobs/{job_id}", headers=headers)
                    answers.append(read.status_code)
                    answer = client.patch(f"/api/smartmoving/jobs/{job_id}", json={"notes": f"note {offset}-{n}"},
                                          headers={**headers, "If-Match": read.headers.get("ETag", "*")})
                    answers.append(answer.status_code)
            except Exception as error:  # pragma: no cover - reported below
                errors.append(error)

        def syncer():
            customers = server.world.customers
            n = 0
            try:
                while time.monotonic() < stop:
                    n += 1
                    for customer in list(customers.values()):   # every job's customer changes: every row rewritten
                        customer.phone = f"+1 555 01{n % 100:02d}"
                    runs.append(sync(app))
            except Exception as error:  # pragma: no cover - reported below
                errors.append(error)

        threads = [threading.Thread(target=patcher, args=(i,)) for i in range(6)]
        threads += [threading.Thread(target=syncer)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []
        assert runs and answers.count(200) > 10
        assert [code for code in answers if code >= 500] == []
        assert [(run.status, run.error) for run in runs if run.status == "FAILED"] == []
        assert sum(run.updated for run in runs) > 0
    finally:
        server.stop()
        app.extensions["sqlalchemy_engine"].dispose()


# ---------------------------------------------------------------- a database outage mid-sync

def outage_message(engine):
    """What the driver says when its database goes away."""
    return "disk I/O error" if engine.dialect.name == "sqlite" else "server closed the connection unexpectedly"


class Outage:
    """The database goes away (every statement fails as a lost connection) and comes back."""

    def __init__(self, engine):
        self.engine, self.down, self.refused = engine, False, 0
        self.back_after = None   # statements refused before the database answers again (None: stays down)
        sa.event.listen(engine, "before_cursor_execute", self.check)

    def check(self, conn, cursor, statement, parameters, context, executemany):
        if not self.down:
            return
        self.refused += 1
        if self.back_after is not None and self.refused > self.back_after:
            self.down = False
            return
        raise self.engine.dialect.dbapi.OperationalError(outage_message(self.engine))

    def remove(self):
        sa.event.remove(self.engine, "before_cursor_execute", self.check)


def fail_the_second_batch(monkeypatch, outage, back_after):
    real_upsert = upsert.upsert_journeys
    calls = []

    def upsert_during_an_outage(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            outage.down, outage.back_after = True, back_after
        return real_upsert(*args, **kwargs)

    monkeypatch.setattr(upsert, "upsert_journeys", upsert_during_an_outage)


@pytest.fixture
def outage(sync_app, monkeypatch):
    monkeypatch.setattr(unfinished, "RETRY_DELAYS", (0.01, 0.01, 0.01))
    outage = Outage(sync_app.extensions["sqlalchemy_engine"])
    yield outage
    outage.remove()


def company_id_of(app):
    with app.app_context():
        return db.session.scalar(sa.text("SELECT id FROM companies WHERE is_default"))


def test_an_outage_mid_sync_records_the_real_cause_once_the_database_answers_and_frees_the_lease(
        sync_app, outage, monkeypatch):
    from dashboard.sync.lease import lease_holder
    from dashboard.sync.lease import lease_name_for

    sync_app.config["SYNC_WRITE_BATCH"] = 2
    fail_the_second_batch(monkeypatch, outage, back_after=4)   # down for a few statements, then back
    run = sync(sync_app)     # before: raised out of the run, which stayed RUNNING with its lease held

    assert run.status == "FAILED"
    assert run.error == ("Unexpected error: OperationalError: "
                         + outage_message(sync_app.extensions["sqlalchemy_engine"]))
    with sync_app.app_context():
        assert lease_holder(lease_name_for(run.company_id)) is None
    assert sync(sync_app).status == "SUCCESS"   # "Sync now" is not blocked


def test_an_outage_that_outlasts_the_run_is_recorded_by_the_next_run_not_as_a_stopped_process(
        sync_app, outage, monkeypatch):
    sync_app.config["SYNC_WRITE_BATCH"] = 2
    fail_the_second_batch(monkeypatch, outage, back_after=None)
    with pytest.raises(sa.exc.OperationalError):
        sync(sync_app)        # the database never answered while the run ended
    outage.down = False       # ... and now it does
    monkeypatch.undo()

    second = sync(sync_app)   # not refused as "already running": the first run's lease is freed at once
    assert second.status == "SUCCESS", second.error
    with sync_app.app_context():
        first = db.session.scalar(sa.select(SyncRun).order_by(SyncRun.id).limit(1))
        assert first.status == "FAILED"
        assert first.error == ("Unexpected error: OperationalError: "
                               + outage_message(sync_app.extensions["sqlalchemy_engine"]))
        assert "stopped before finishing" not in first.error
        assert first.finished_at is not None and first.phase == "done"


# ---------------------------------------------------------------- dropped connections and a locked database

@pytest.fixture
def dispatch_world(app, make_location, make_user, cheap_passwords):
    location = make_location("North")
    job_id = add_job(app, location)
    return {"job": job_id, "user": make_user("DISPATCHER", locations=[location])}


def edit_form(client, job_id, notes):
    page = client.get(f"/jobs/{job_id}/edit").get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="([^"]*)"', page).group(1)
    return {"truck_id": "0", "dispatch_status": "UNASSIGNED", "notes": notes, "crew_other": "",
            "csrf_token": csrf_token_from(page), "version": version}


def test_a_database_that_stays_away_answers_503_with_retry_after_in_each_callers_format(app, client, dispatch_world):
    login_as(client, dispatch_world["user"])
    job_id = dispatch_world["job"]
    form = edit_form(client, job_id, "Bring the piano dolly")
    api = bearer(app, dispatch_world["user"])
    outage = Outage(app.extensions["sqlalchemy_engine"])
    outage.down = True
    try:
        page = client.post(f"/jobs/{job_id}/edit", data=form)
        fragment = client.post(f"/jobs/{job_id}/assign", data=form, headers={"HX-Request": "true"})
        answer = client.get(f"/api/smartmoving/jobs/{job_id}", headers=api)
        board = client.get("/")
    finally:
        outage.remove()
    for response in (page, fragment, answer, board):   # before: 500, the traceback logged with its SQL
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) > 0
    assert answer.get_json() == {"error": "unavailable", "message": answer.get_json()["message"]}
    assert "<html" not in fragment.get_data(as_text=True) and "try again" in fragment.get_data(as_text=True)
    html = page.get_data(as_text=True)
    assert 'value="Bring the piano dolly"' in html and "Send again" in html   # the typed form, ready to resend
    assert client.get("/").status_code == 200          # and when the database is back, all is well


def test_a_read_whose_connection_dropped_is_read_again_once(app, client, dispatch_world, backend):
    if backend != "postgresql":
        pytest.skip("a SQLite file has no connection to drop")
    login_as(client, dispatch_world["user"])
    engine = app.extensions["sqlalchemy_engine"]
    dropped = []

    def drop_mid_request(conn, cursor, statement, parameters, context, executemany):
        if not dropped:   # the server ends this very connection under the request's first statement
            pid = conn.connection.dbapi_connection.info.backend_pid
            with psycopg.connect(PG_URL.replace("postgresql+psycopg", "postgresql")) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
            dropped.append(pid)

    sa.event.listen(engine, "before_cursor_execute", drop_mid_request)
    try:
        response = client.get(f"/jobs/{dispatch_world['job']}")   # before: 500
    finally:
        sa.event.remove(engine, "before_cursor_execute", drop_mid_request)
    assert dropped and response.status_code == 200


@pytest.fixture
def short_sqlite_wait(monkeypatch):
    """SQLite writers wait 0.3 s, not 10 s, for another's lock (set before the app's engine is built)."""
    import dashboard.db as database
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 300)


def test_a_save_while_sqlite_is_locked_answers_503_with_retry_after_not_500(short_sqlite_wait, app, client,
                                                                         dispatch_world, backend, tmp_path):
    if backend != "sqlite":
        pytest.skip("PostgreSQL has no database-wide writer lock")
    login_as(client, dispatch_world["user"])
    job_id = dispatch_world["job"]
    form = edit_form(client, job_id, "Second floor, no lift")
    holder = sqlite3.connect(str(tmp_path / "test.sqlite"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")    # a long writer holds the database
    try:
        response = client.post(f"/jobs/{job_id}/edit", data=form)   # before: 500 once busy_timeout ran out
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert 'value="Second floor, no lift"' in response.get_data(as_text=True)


def test_a_patch_chosen_as_a_deadlock_victim_is_run_again_once(app, client, dispatch_world, backend):
    if backend != "postgresql":
        pytest.skip("SQLite's single writer lock cannot deadlock")
    job_id = dispatch_world["job"]
    headers = bearer(app, dispatch_world["user"])
    etag = client.get(f"/api/smartmoving/jobs/{job_id}", headers=headers).headers["ETag"]
    engine = app.extensions["sqlalchemy_engine"]
    victims = []

    def deadlock_once(conn, cursor, statement, parameters, context, executemany):
        if "FOR UPDATE" in statement and not victims:
            victims.append(statement)
            raise psycopg.errors.DeadlockDetected("deadlock detected")

    sa.event.listen(engine, "before_cursor_execute", deadlock_once)
    try:
        answer = client.patch(f"/api/smartmoving/jobs/{job_id}", json={"notes": "Fragile"},
                              headers={**headers, "If-Match": etag})
    finally:
        sa.event.remove(engine, "before_cursor_execute", deadlock_once)
    assert victims and answer.status_code == 200, answer.get_json()
    assert answer.get_json()["notes"] == "Fragile"


def test_only_the_databases_state_counts_as_unavailable_not_a_bug():
    from dashboard.db import is_unavailable
    locked = sa.exc.OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))
    missing = sa.exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("no such table: jobs"))
    gone = sa.exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("server closed the connection"))
    assert is_unavailable(locked) and is_unavailable(gone)
    assert not is_unavailable(missing)
    assert not is_unavailable(sa.exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE")))


def test_start_up_records_the_outcome_a_run_left_when_the_database_was_away(app_ctx):
    company_id = db.session.scalar(sa.text("SELECT id FROM companies"))
    run = SyncRun(company_id=company_id, trigger="test", window_start=utcnow().date(), window_end=utcnow().date(),
                  status=RunStatus.RUNNING.value, phase="enrich", runner_host=socket.gethostname(),
                  runner_pid=os.getpid())
    db.session.add(run)
    db.session.commit()
    unfinished.leave(run.id, "gone-owner", {"status": "FAILED", "phase": "done", "created": 3,
                                            "error": "Unexpected error: OperationalError: the server went away"})

    assert reap_dead_runs() == 1
    db.session.expire_all()
    run = db.session.get(SyncRun, run.id)
    assert (run.status, run.created, run.phase) == ("FAILED", 3, "done")
    assert run.error == "Unexpected error: OperationalError: the server went away"
    assert run.finished_at is not None and unfinished.left(run.id) is None
