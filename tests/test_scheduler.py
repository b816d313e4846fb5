"""The in-process scheduler: who starts it, how its job is configured, what the job does."""
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import click
import pytest
import sqlalchemy as sa
from flask import current_app

from dashboard import scheduler as sched
from dashboard.db import db
from dashboard.models import Company
from tests.support import make_test_app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def clean_env(monkeypatch):
    """No trace of a server, the CLI or the reloader in the environment."""
    for name in ("SERVER_SOFTWARE", "FLASK_RUN_FROM_CLI", "WERKZEUG_RUN_MAIN", "WERKZEUG_SERVER_FD",
                 "FLASK_DEBUG", "DASHBOARD_GUNICORN_HOOKS", "SYNC_INTERVAL_SECONDS", "SCHEDULER_AUTOSTART",
                 "SCHEDULER_FIRST_RUN_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def serving_app(tmp_path, clean_env):
    """An app configured like production scheduling (10 minutes), but not in testing mode."""
    app = make_test_app("sqlite:///" + str(tmp_path / "s.sqlite"), tmp_path, SYNC_INTERVAL_MINUTES=10)
    app.testing = False
    app.config["TESTING"] = False
    yield app
    sched.stop_scheduler()
    app.extensions["sqlalchemy_engine"].dispose()


def _in_cli_command(name, **params):
    """A click context as the flask CLI would have while running command name."""
    command = click.Command(name)
    ctx = click.Context(command, info_name=name)
    ctx.params.update(params)
    return ctx


# ---------------------------------------------------------------- who starts it

def test_interval_comes_from_minutes_and_seconds_override_it(serving_app, clean_env):
    assert sched.interval_seconds(serving_app) == 600
    serving_app.config["SYNC_INTERVAL_MINUTES"] = 0
    assert sched.interval_seconds(serving_app) == 0
    clean_env.setenv("SYNC_INTERVAL_SECONDS", "3")
    assert sched.interval_seconds(serving_app) == 3


def test_a_wsgi_server_process_starts_it(serving_app):
    assert sched.should_start_scheduler(serving_app)


def test_interval_zero_turns_it_off(serving_app):
    serving_app.config["SYNC_INTERVAL_MINUTES"] = 0
    assert not sched.should_start_scheduler(serving_app)
    assert sched.start_scheduler_if_serving(serving_app) is None
    assert sched.start_scheduler(serving_app) is None


def test_tests_never_start_it(serving_app):
    serving_app.testing = True
    assert not sched.should_start_scheduler(serving_app)


def test_autostart_can_be_switched_off(serving_app, clean_env):
    clean_env.setenv("SCHEDULER_AUTOSTART", "false")
    assert not sched.should_start_scheduler(serving_app)


@pytest.mark.parametrize("command", ["init-db", "sync", "create-user", "shell", "routes"])
def test_flask_cli_commands_other_than_run_do_not_start_it(serving_app, clean_env, command):
    clean_env.setenv("FLASK_RUN_FROM_CLI", "true")
    with _in_cli_command(command):
        assert not sched.should_start_scheduler(serving_app)


def test_the_flask_group_loading_the_app_does_not_start_it(serving_app, clean_env):
    # FlaskGroup loads the app while it looks up an app command, in the group's own context.
    clean_env.setenv("FLASK_RUN_FROM_CLI", "true")
    with _in_cli_command("flask"):
        assert not sched.should_start_scheduler(serving_app)


def test_flask_run_without_reloader_starts_it(serving_app, clean_env):
    clean_env.setenv("FLASK_RUN_FROM_CLI", "true")
    with _in_cli_command("run", reload=False):
        assert sched.should_start_scheduler(serving_app)
    with _in_cli_command("run", reload=None):  # no --debug: no reloader
        assert sched.should_start_scheduler(serving_app)


def test_the_reloaders_watcher_process_does_not_start_it_its_child_does(serving_app, clean_env):
    clean_env.setenv("FLASK_RUN_FROM_CLI", "true")
    with _in_cli_command("run", reload=True):
        assert not sched.should_start_scheduler(serving_app)
    clean_env.setenv("FLASK_DEBUG", "1")
    with _in_cli_command("run", reload=None):  # --debug turns the reloader on
        assert not sched.should_start_scheduler(serving_app)
    clean_env.setenv("WERKZEUG_RUN_MAIN", "true")
    with _in_cli_command("run", reload=None):
        assert sched.should_start_scheduler(serving_app)


def test_under_gunicorn_the_factory_leaves_it_to_the_worker_hook(serving_app, clean_env):
    clean_env.setenv("SERVER_SOFTWARE", "gunicorn/27.0.1")
    clean_env.setenv("DASHBOARD_GUNICORN_HOOKS", "1")
    assert not sched.should_start_scheduler(serving_app)  # maybe the master (--preload)
    assert sched.should_start_in_gunicorn_worker(serving_app)  # post_worker_init, after the fork
    serving_app.config["SYNC_INTERVAL_MINUTES"] = 0
    assert not sched.should_start_in_gunicorn_worker(serving_app)


# ---------------------------------------------------------------- the scheduler and its jobs

def test_the_job_has_a_fixed_id_coalesces_runs_one_at_a_time_with_half_interval_grace(serving_app):
    scheduler = sched.start_scheduler(serving_app, first_run_seconds=3600)
    try:
        job = scheduler.get_job(sched.JOB_ID)
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time == 300
        assert job.trigger.interval == timedelta(minutes=10)
        assert str(scheduler.timezone) == "America/Toronto"
        # Fires on multiples of the interval, so every process fires at the same instants.
        assert job.next_run_time.timestamp() % 600 == 0
        startup = scheduler.get_job(sched.STARTUP_JOB_ID)
        assert startup.next_run_time > datetime.now(UTC) + timedelta(minutes=50)
        assert [j.id for j in scheduler.get_jobs()].count(sched.JOB_ID) == 1
    finally:
        sched.stop_scheduler()


def test_starting_twice_returns_the_running_scheduler_and_stop_stops_it(serving_app):
    first = sched.start_scheduler(serving_app, first_run_seconds=3600)
    assert sched.start_scheduler(serving_app, first_run_seconds=3600) is first
    assert sched.get_scheduler() is first
    sched.stop_scheduler()
    assert not first.running
    assert sched.get_scheduler() is None
    sched.stop_scheduler()  # idempotent


def test_the_timezone_is_the_dashboards(serving_app):
    serving_app.config["DASHBOARD_TIMEZONE"] = "America/Vancouver"
    scheduler = sched.start_scheduler(serving_app, first_run_seconds=3600)
    try:
        assert str(scheduler.timezone) == "America/Vancouver"
    finally:
        sched.stop_scheduler()


class FakeSync:
    """Stands in for dashboard.sync.service.run_sync and records what it was asked."""

    def __init__(self, fail_for=(), busy_for=()):
        self.calls, self.windows = [], []
        self.fail_for, self.busy_for = set(fail_for), set(busy_for)
        self.called = threading.Event()

    def __call__(self, company_id, day=None, trigger="cli", user_id=None, client=None, days=2):
        from dashboard.models import SyncRun
        from dashboard.sync.service import SyncAlreadyRunning
        assert current_app  # the job runs inside an app context
        self.calls.append((company_id, trigger))
        self.windows.append((day, days))
        self.called.set()
        if company_id in self.busy_for:
            raise SyncAlreadyRunning(company_id)
        if company_id in self.fail_for:
            raise RuntimeError("boom")
        now = datetime(2030, 1, 1)
        return SyncRun(id=len(self.calls), company_id=company_id, trigger=trigger, status="SUCCESS",
                       window_start=now.date(), window_end=now.date(), started_at=now, finished_at=now,
                       jobs_seen=0, created=0, updated=0, unchanged=0, removed=0, opportunities_enriched=0,
                       opportunities_to_enrich=0, api_calls=0, rate_limited=0)


@pytest.fixture
def fake_sync(monkeypatch):
    fake = FakeSync()
    monkeypatch.setattr("dashboard.sync.service.run_sync", fake)
    return fake


def _add_company(name, api_key_env=None):
    with db.write_transaction() as session:
        company = Company(name=name, api_key_env=api_key_env)
        session.add(company)
    return company.id


def test_the_job_syncs_the_default_company_and_those_with_a_key(app, fake_sync, monkeypatch):
    with app.app_context():
        default_id = sched.companies_to_sync()[0]
        keyed = _add_company("Keyed Movers", "KEYED_MOVERS_API_KEY")
        _add_company("No Key Movers", "NO_KEY_MOVERS_API_KEY")
    monkeypatch.setenv("KEYED_MOVERS_API_KEY", "k-123456")
    monkeypatch.delenv("NO_KEY_MOVERS_API_KEY", raising=False)
    outcomes = sched.run_scheduled_sync(app)
    assert outcomes == {default_id: "synced", keyed: "synced"}
    # Order rotates each interval and companies run in parallel (issue 21): the set is what counts.
    assert sorted(fake_sync.calls) == [(default_id, "scheduled"), (keyed, "scheduled")]


def test_one_slot_one_run_however_many_schedulers_fire(app, fake_sync):
    now = datetime(2030, 1, 1, 10, 0, 1, tzinfo=UTC)
    first = sched.run_scheduled_sync(app, now=now)
    again = sched.run_scheduled_sync(app, now=now + timedelta(seconds=30))  # another worker, same interval
    later = sched.run_scheduled_sync(app, now=now + timedelta(seconds=60))  # the next interval
    (company_id,) = first
    assert first[company_id] == "synced"
    assert again[company_id] == "skipped"
    assert later[company_id] == "synced"
    assert len(fake_sync.calls) == 2


def test_a_busy_or_failing_company_does_not_stop_the_others(app, monkeypatch, caplog):
    with app.app_context():
        default_id = sched.companies_to_sync()[0]
        other = _add_company("Other Movers", "OTHER_MOVERS_API_KEY")
        third = _add_company("Third Movers", "THIRD_MOVERS_API_KEY")
    monkeypatch.setenv("OTHER_MOVERS_API_KEY", "k-123456")
    monkeypatch.setenv("THIRD_MOVERS_API_KEY", "k-654321")
    fake = FakeSync(busy_for={default_id}, fail_for={other})
    monkeypatch.setattr("dashboard.sync.service.run_sync", fake)
    outcomes = sched.run_scheduled_sync(app)
    assert outcomes == {default_id: "busy", other: "error", third: "synced"}
    assert "already running" in caplog.text
    assert "scheduled sync crashed" in caplog.text


def test_the_job_never_raises_even_when_the_database_is_gone(app, fake_sync, monkeypatch):
    def broken():
        raise RuntimeError("database unavailable")
    monkeypatch.setattr(sched, "companies_to_sync", broken)
    assert sched.run_scheduled_sync(app) == {}
    assert fake_sync.calls == []


def test_a_started_scheduler_runs_the_job_soon_in_an_app_context(serving_app, fake_sync):
    sched.start_scheduler(serving_app, first_run_seconds=0)
    try:
        assert fake_sync.called.wait(timeout=20), "the start-up run never happened"
    finally:
        sched.stop_scheduler()
    assert fake_sync.calls[0][1] == "scheduled"


# ---------------------------------------------------------------- real processes

def _sigint_as_in_a_terminal():
    """In the child, before exec: SIGINT back to its default, so Python turns it into KeyboardInterrupt.

    A suite started in the background (`nohup make test`, `make test &` from a script)
    inherits SIGINT ignored, and Python leaves an ignored SIGINT ignored: the Ctrl-C the
    tests send would then never reach the server.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _flask(args, tmp_path, **env):
    environ = {**os.environ, "DATABASE_URL": "sqlite:///" + str(tmp_path / "cli.sqlite"),
               "SYNC_INTERVAL_MINUTES": "10", "SCHEDULER_FIRST_RUN_SECONDS": "3600", **env}
    for name in ("SMARTMOVING_API_KEY", "TEST_DATABASE_URL", "WERKZEUG_RUN_MAIN", "FLASK_DEBUG"):
        environ.pop(name, None)
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "dashboard", *args], cwd=ROOT, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_sigint_as_in_a_terminal)


def _started_lines(text):
    return [line for line in text.splitlines() if "scheduler started" in line]


def test_a_flask_command_process_starts_no_scheduler(tmp_path):
    process = _flask(["routes"], tmp_path)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "/healthz" in out
    assert _started_lines(err) == []


@pytest.mark.parametrize("debug", [False, True], ids=["run", "run-with-reloader"])
def test_flask_run_starts_exactly_one_scheduler(tmp_path, debug):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = (["--debug"] if debug else []) + ["run", "--port", str(port)]
    process = _flask(args, tmp_path)
    try:
        deadline = time.monotonic() + 45
        seen = ""
        while time.monotonic() < deadline and "scheduler started" not in seen:
            line = process.stderr.readline()
            if not line:
                break
            seen += line
        # Give a second (wrong) scheduler in the reloader's parent a moment to show up too.
        time.sleep(1.5)
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
        try:
            rest = process.communicate(timeout=20)[1]
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            rest = process.communicate()[1]
    lines = _started_lines(seen + rest)
    assert len(lines) == 1, seen + rest
    assert "scheduler stopped" in rest  # shut down cleanly at exit
    if debug:
        assert f'"pid": {process.pid}' not in lines[0]  # the reloader's child, not its watcher


def test_the_slot_winner_prunes_old_failed_logins(app, fake_sync):
    from dashboard.models import LoginAttempt
    from dashboard.models import utcnow
    with app.app_context():
        with db.write_transaction() as session:
            session.add(LoginAttempt(email="old@example.test", attempted_at=utcnow() - timedelta(days=3)))
            session.add(LoginAttempt(email="recent@example.test", attempted_at=utcnow()))
    sched.run_scheduled_sync(app)
    with app.app_context():
        left = db.session.scalars(sa.select(LoginAttempt.email)).all()
    assert left == ["recent@example.test"]


def test_the_quota_plan_decides_what_each_tick_sweeps(app, fake_sync):
    from dashboard.models import SyncRun
    from dashboard.models import utcnow
    from dashboard.timeutil import company_today

    with app.app_context():
        company_id = sched.companies_to_sync()[0]
        today = company_today(db.session.get(Company, company_id).timezone)
    assert sched.run_scheduled_sync(app) == {company_id: "synced"}
    assert fake_sync.windows == [(today, 2)]          # nothing swept yet: both days at once
    with app.app_context():
        db.session.add(SyncRun(company_id=company_id, trigger="scheduled", window_start=today,
                               window_end=today + timedelta(days=1), status="SUCCESS", started_at=utcnow()))
        db.session.commit()
    later = datetime.now(UTC) + timedelta(minutes=sched.interval_seconds(app) // 60 or 10)
    assert sched.run_scheduled_sync(app, now=later) == {company_id: "planned-skip"}   # swept a moment ago
    assert len(fake_sync.calls) == 1
