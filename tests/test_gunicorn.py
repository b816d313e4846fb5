"""wsgi.py under real gunicorn with several workers, each running a scheduler: one sync per interval.

The processes are real (gunicorn master + 3 workers), the sync is real (against a
sandbox on loopback), the database is a temporary SQLite file in WAL mode. The interval
is shortened with SYNC_INTERVAL_SECONDS (a test-only override of SYNC_INTERVAL_MINUTES).
"""
import json
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from dashboard.sandbox.server import start_sandbox
from dashboard.sandbox.world import SandboxWorld
from tests.support import make_test_app
from tests.support.drills import assert_db_matches_truth
from tests.support.processes import free_port
from tests.support.processes import serving_env
from tests.support.processes import stop
from tests.support.processes import wait_for_http

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
INTERVAL = 2
WATCH_SECONDS = 11


def json_lines(text):
    lines = []
    for raw in text.splitlines():
        if raw.startswith("{"):
            try:
                lines.append(json.loads(raw))
            except ValueError:
                pass
    return lines


def watched_enough(text):
    """The log shows three schedulers, two finished scheduled syncs and a worker that lost an interval."""
    lines = json_lines(text)
    started = {line["pid"] for line in lines if line["message"].startswith("scheduler started")}
    finished = [line for line in lines if line["message"].startswith("scheduled sync finished")]
    skipped = any("another process took this interval" in line["message"] for line in lines)
    return len(started) == 3 and len(finished) >= 2 and skipped


@pytest.mark.parametrize("preload", [False, True], ids=["fork-then-load", "preload"])
def test_three_gunicorn_workers_run_one_sync_per_interval(tmp_path, preload):
    world = SandboxWorld(seed=11, branches=3, jobs_per_day=15)
    sandbox = start_sandbox(world=world, api_key="gk-" + uuid.uuid4().hex)
    database_url = "sqlite:///" + str(tmp_path / "gunicorn.sqlite")
    setup_app = make_test_app(database_url, tmp_path)  # schema and default company
    port = free_port()
    env = serving_env(database_url, sandbox, SYNC_INTERVAL_SECONDS=INTERVAL, SCHEDULER_FIRST_RUN_SECONDS=1,
                      GUNICORN_PRELOAD="true" if preload else "false", GUNICORN_ACCESS_LOG="/dev/null")
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--workers", "3",
             "--bind", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for_http(f"http://127.0.0.1:{port}/healthz", process)
            assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
            # Until the log shows what the asserts below need (at most WATCH_SECONDS): stopping just after a
            # finished sync, rather than at a random moment, also keeps a run from being cut off half-way.
            deadline = time.monotonic() + WATCH_SECONDS
            while time.monotonic() < deadline and not watched_enough(log_path.read_text()):
                time.sleep(0.2)
            # The boards keep answering while the workers sync.
            assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()["lastSync"]["status"] == "SUCCESS"
        finally:
            stop(process)
            sandbox.stop()
    text = log_path.read_text()
    lines = json_lines(text)

    started = [line for line in lines if line["message"].startswith("scheduler started")]
    assert len({line["pid"] for line in started}) == 3, text[-3000:]  # every worker runs a scheduler...
    assert process.pid not in {line["pid"] for line in started}  # ...and the master none, even with --preload

    finished = [line for line in lines if line["message"].startswith("scheduled sync finished")]
    skipped = [line for line in lines if "another process took this interval" in line["message"]]
    slots = [line["slot"] for line in finished]
    assert len(finished) >= 2, text[-3000:]  # a slot whose winner met a run still going is "busy"
    assert len(slots) == len(set(slots)), f"two runs in one interval: {sorted(slots)}"  # ...but one run per slot
    assert skipped, "the other workers never competed for a slot"
    assert sandbox.api_key not in text

    with setup_app.app_context():
        from dashboard.db import db
        from dashboard.models import SyncRun
        runs = list(db.session.scalars(sa.select(SyncRun).order_by(SyncRun.started_at)))
        assert len(runs) == len(finished)
        assert {run.trigger for run in runs} == {"scheduled"}
        assert {run.status for run in runs} == {"SUCCESS"}, [(r.status, r.error) for r in runs]
        for earlier, later in zip(runs, runs[1:], strict=False):
            assert earlier.finished_at <= later.started_at, "two syncs overlapped"
        assert_db_matches_truth(setup_app, world, world.today, world.today + timedelta(days=1))
        db.session.remove()
    setup_app.extensions["sqlalchemy_engine"].dispose()
