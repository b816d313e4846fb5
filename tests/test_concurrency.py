"""One sync at a time across processes: the scheduler, the CLI and "sync now" fired together.

Three separate processes act on one database at the same instant: a scheduler tick
(`run_scheduled_sync`), the `flask sync` command, and a POST /api/smartmoving/jobs/sync
answered by a gunicorn server. Exactly one run executes; the others hear "already
running" (CLI exit code 1, the scheduler's "busy" or its plan's "planned-skip" for a
sweep already started, HTTP 409).
"""
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import RunStatus
from dashboard.models import SyncRun
from dashboard.sandbox.server import start_sandbox
from dashboard.sandbox.world import SandboxWorld
from dashboard.sync.lease import acquire_lease
from dashboard.sync.lease import lease_name_for
from dashboard.sync.lease import release_lease
from tests.support.drills import assert_db_matches_truth
from tests.support.processes import free_port
from tests.support.processes import serving_env
from tests.support.processes import stop
from tests.support.processes import wait_for_http

ROOT = Path(__file__).resolve().parent.parent

# Each contender imports and builds everything first, then waits for the go file, so all
# three act within milliseconds of each other.
WAIT_FOR_GO = """
import os, sys, time
go, ready = sys.argv[1], sys.argv[2]
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.005)
"""

SCHEDULER_CONTENDER = """
import json
from dashboard import create_app
from dashboard.scheduler import run_scheduled_sync
app = create_app()
""" + WAIT_FOR_GO + """
print(json.dumps({str(k): v for k, v in run_scheduled_sync(app).items()}))
"""

CLI_CONTENDER = """
from flask.cli import main
import dashboard, dashboard.cli, dashboard.sync.service
""" + WAIT_FOR_GO + """
sys.argv = ["flask", "--app", "dashboard", "sync"]
main()
"""


def _contender(code, go_file, ready_file, env):
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(go_file), str(ready_file)],
                            cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


@pytest.mark.slow
def test_scheduler_cli_and_sync_now_fired_together_from_separate_processes_run_one_sync(
        app, backend, tmp_path, make_user):
    from dashboard.auth.tokens import issue_token

    world = SandboxWorld(seed=77, branches=3, jobs_per_day=15)
    sandbox = start_sandbox(world=world, api_key="conc-key-7a7a7a")
    # Slow detail answers make the winning run last a few seconds, so every loser meets it running.
    sandbox.faults.latency_by_path_prefix = {"/api/opportunities": 0.15}
    admin = make_user("ADMIN")
    with app.app_context():
        from dashboard.models import User
        db.begin_write()
        _, token = issue_token(db.session.get(User, admin.id))
        db.session.commit()
    env = serving_env(app.config["DATABASE_URL"], sandbox, SYNC_INTERVAL_MINUTES=0, SYNC_LEASE_SECONDS=30,
                      GUNICORN_ACCESS_LOG="/dev/null")
    go_file = tmp_path / "go"
    port = free_port()
    server_log = open(tmp_path / "server.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--workers", "2", "--bind",
         f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=env, stdout=server_log, stderr=subprocess.STDOUT, start_new_session=True)
    contenders = []
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", server)
        ready = [tmp_path / "scheduler.ready", tmp_path / "cli.ready"]
        contenders = [_contender(SCHEDULER_CONTENDER, go_file, ready[0], env),
                      _contender(CLI_CONTENDER, go_file, ready[1], env)]
        deadline = time.monotonic() + 60
        while not all(path.exists() for path in ready):  # both have imported and built their apps
            assert time.monotonic() < deadline and all(p.poll() is None for p in contenders), \
                [p.communicate() for p in contenders if p.poll() is not None]
            time.sleep(0.05)
        session = requests.Session()
        go_file.write_text("go")
        response = session.post(f"http://127.0.0.1:{port}/api/smartmoving/jobs/sync",
                                headers={"Authorization": f"Bearer {token}"}, json={}, timeout=30)
        results = [process.communicate(timeout=60) for process in contenders]
        # Wait for the winner (possibly the server's background thread) to finish.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with app.app_context():
                running = db.session.scalar(sa.select(sa.func.count(SyncRun.id))
                                            .where(SyncRun.status == RunStatus.RUNNING.value))
                db.session.commit()
            if not running:
                break
            time.sleep(0.2)
    finally:
        for process in contenders:
            if process.poll() is None:
                process.kill()
        stop(server)
        server_log.close()
        sandbox.stop()

    (scheduler_out, scheduler_err), (cli_out, cli_err) = results
    scheduler_outcome = list(json.loads(scheduler_out.strip().splitlines()[-1]).values())[0]
    cli_ran = contenders[1].returncode == 0
    cli_refused = contenders[1].returncode == 1 and "already running" in cli_err
    assert cli_ran or cli_refused, (contenders[1].returncode, cli_out, cli_err[-2000:])
    assert response.status_code in (202, 409), response.text
    winners = [scheduler_outcome == "synced", cli_ran, response.status_code == 202]
    assert winners.count(True) == 1, (scheduler_outcome, cli_out, cli_err[-1500:], response.text)
    if scheduler_outcome != "synced":
        # "busy" when it met the winner's lease; "planned-skip" when it read the winner's
        # RUNNING run first, which the quota plan counts as a sweep that just started.
        assert scheduler_outcome in ("busy", "planned-skip"), scheduler_err[-2000:]
    if response.status_code == 409:
        assert response.json()["error"] and "already running" in response.json()["message"]

    with app.app_context():
        runs = list(db.session.scalars(sa.select(SyncRun)))
        db.session.commit()
    assert len(runs) == 1, [(r.trigger, r.status, r.error) for r in runs]
    assert runs[0].status == RunStatus.SUCCESS.value, runs[0].error
    assert runs[0].trigger == ["scheduled", "cli", "api"][winners.index(True)]
    assert_db_matches_truth(app, world, world.today)


def test_a_contender_never_marks_the_live_run_interrupted(app):
    """The loser of a race must not reap the winner's fresh run: only the lease holder reaps."""
    from dashboard.sync import service

    with app.app_context():
        from dashboard.models import Company
        company_id = db.session.scalar(sa.select(Company.id))
        db.session.commit()
        winner, owner = service.begin_run(company_id, trigger="scheduled")
        with pytest.raises(service.SyncAlreadyRunning):
            service.begin_run(company_id, trigger="manual")
        status = db.session.get(SyncRun, winner.id).status
        db.session.commit()
        assert service.current_run(company_id).id == winner.id
        release_lease(lease_name_for(company_id), owner)
        assert service.current_run(company_id) is None   # a run whose lease is gone is not "running"
        # The next winner reaps the abandoned run.
        _, second_owner = service.begin_run(company_id, trigger="manual")
        db.session.expire_all()
        reaped = db.session.get(SyncRun, winner.id)
        assert reaped.status == RunStatus.FAILED.value and "Interrupted" in reaped.error
        release_lease(lease_name_for(company_id), second_owner)
    assert status == RunStatus.RUNNING.value, "the loser marked the winner's live run FAILED (interrupted)"


def test_while_the_lease_is_held_every_entry_point_answers_already_running(app, runner, client, make_user,
                                                                            login, monkeypatch):
    """In one process too: with the lease held elsewhere, CLI, scheduler and API all refuse."""
    from dashboard.scheduler import run_scheduled_sync

    with app.app_context():
        from dashboard.models import Company
        company_id = db.session.scalar(sa.select(Company.id))
        db.session.commit()
        assert acquire_lease(lease_name_for(company_id), "another-host:1234", 60)
    try:
        result = runner.invoke(args=["sync"])
        assert result.exit_code == 1 and "already running" in result.output
        assert run_scheduled_sync(app) == {company_id: "busy"}
        login(make_user("ADMIN"))
        response = client.post("/api/smartmoving/jobs/sync", json={},
                               headers={"X-CSRFToken": _csrf(client)})
        assert response.status_code == 409
        assert response.get_json()["error"] == "conflict"
    finally:
        with app.app_context():
            release_lease(lease_name_for(company_id), "another-host:1234")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(SyncRun.id))) == 0
        db.session.commit()


def _csrf(client):
    from tests.support import csrf_token_from
    return csrf_token_from(client.get("/").get_data(as_text=True))
