"""The fault drills' rig and checks: a sandbox with faults to switch on, and the database compared with its truth.

tests/conftest.py wraps drill_rig as the `rig` fixture; the drills in test_fault_drills.py,
test_removal_drills.py and test_webhooks.py use it and the helpers below.
"""
import contextlib
import os
import signal
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import Company
from dashboard.models import DataSource
from dashboard.models import Location
from dashboard.models import RunStatus
from dashboard.models import SyncRun
from dashboard.models import SyncStatus
from dashboard.models import TruckJourney
from dashboard.sandbox.server import start_sandbox
from dashboard.sandbox.world import SandboxWorld

ROOT = Path(__file__).resolve().parent.parent.parent
PAGE_SIZE = 10  # small sweep pages, so a ~30-customer window spans several pages
CANCELLED = 20
DRILL_WRITE_BATCH = 10   # opportunities per write transaction in the kill -9 drills: several batches a run


# ---------------------------------------------------------------- comparing with the truth

def _cents(amount):
    return None if amount is None else int(Decimal(str(amount)) * 100)


def stored_jobs(app, company_id=None):
    """Every SMARTMOVING journey of the company as plain dicts (location name included)."""
    with app.app_context():
        if company_id is None:
            company_id = db.session.scalar(sa.select(Company.id).where(Company.is_default.is_(True)))
        rows = db.session.execute(
            sa.select(TruckJourney, Location.name.label("location_name"))
            .outerjoin(Location, Location.id == TruckJourney.location_id)
            .where(TruckJourney.company_id == company_id,
                   TruckJourney.data_source == DataSource.SMARTMOVING.value)).all()
        jobs = [{
            "id": row.TruckJourney.id, "external_id": row.TruckJourney.external_id,
            "opportunity_external_id": row.TruckJourney.opportunity_external_id,
            "job_number": row.TruckJourney.job_number, "quote_number": row.TruckJourney.quote_number,
            "customer_name": row.TruckJourney.customer_name, "customer_phone": row.TruckJourney.customer_phone,
            "customer_email": row.TruckJourney.customer_email,
            "scheduled_date": row.TruckJourney.scheduled_date,
            "estimated_value_cents": row.TruckJourney.estimated_value_cents,
            "origin_address": row.TruckJourney.origin_address,
            "destination_address": row.TruckJourney.destination_address,
            "arrival_start_hour": row.TruckJourney.arrival_start_hour,
            "smartmoving_crew": row.TruckJourney.smartmoving_crew, "status": row.TruckJourney.status,
            "sync_status": row.TruckJourney.sync_status, "location_name": row.location_name,
        } for row in rows]
        db.session.commit()
    return jobs


def _differences(stored, expected):
    """{field: (stored, expected)} where a stored job differs from the truth for it."""
    wanted = {
        "job_number": expected["jobNumber"], "quote_number": expected["quoteNumber"],
        "opportunity_external_id": expected["opportunityId"], "customer_name": expected["customerName"],
        "customer_phone": expected["customerPhone"], "customer_email": expected["customerEmail"],
        "scheduled_date": expected["scheduledDate"], "estimated_value_cents": _cents(expected["estimatedValue"]),
        "origin_address": expected["originAddress"], "destination_address": expected["destinationAddress"],
        "arrival_start_hour": expected["arrivalStart"], "smartmoving_crew": list(expected["crewNames"]),
        "location_name": expected["branchName"],
    }
    diffs = {name: (stored[name], value) for name, value in wanted.items() if stored[name] != value}
    if (stored["status"] == "CANCELLED") != (expected["opportunityStatus"] == CANCELLED):
        diffs["status"] = (stored["status"], expected["opportunityStatus"])
    return diffs


def assert_db_matches_truth(app, world, start, end=None):
    """The database holds exactly the sandbox's live jobs of [start, end]: zero lost, duplicated,
    wrongly removed, stale or differing."""
    end = end or start + timedelta(days=1)
    truth = world.expected_jobs(start, end)
    stored = stored_jobs(app)
    by_id = {}
    duplicated = set()
    for job in stored:
        if job["external_id"] in by_id:
            duplicated.add(job["external_id"])
        by_id[job["external_id"]] = job
    removed = {job["external_id"] for job in stored if job["sync_status"] == SyncStatus.REMOVED.value}
    lost = sorted(set(truth) - set(by_id))
    wrongly_removed = sorted(set(truth) & removed)
    stale = sorted(job["external_id"] for job in stored
                   if job["external_id"] not in truth and job["external_id"] not in removed
                   and start <= job["scheduled_date"] <= end)
    not_synced = sorted(i for i in truth if i in by_id and by_id[i]["sync_status"] != SyncStatus.SYNCED.value)
    differing = {i: _differences(by_id[i], truth[i]) for i in truth if i in by_id}
    differing = {i: d for i, d in differing.items() if d}
    problems = {"lost": lost, "duplicated": sorted(duplicated), "wrongly_removed": wrongly_removed,
                "stale (gone upstream, still shown)": stale, "not SYNCED": not_synced, "differing": differing}
    differing = {k: v for k, v in problems.items() if v}
    assert not differing, f"database differs from the sandbox truth: {differing}"
    assert len(truth) > 0


def assert_no_damage(app, versions, baseline_ids):
    """What must hold even for a run that failed or was killed.

    versions: the truth at each moment the database may reflect (last synced, when the
    run started, now), oldest first. Nothing known before and still live is lost or
    marked removed; no job is stored twice; every SYNCED row equals one whole version
    of the truth (never half of one and half of another).
    """
    after = versions[-1]
    stored = stored_jobs(app)
    ids = [job["external_id"] for job in stored]
    assert len(ids) == len(set(ids)), "a job is stored twice"
    by_id = {job["external_id"]: job for job in stored}
    live = set(after)
    lost = sorted(i for i in baseline_ids & live if i not in by_id)
    wrongly_removed = sorted(i for i in live if i in by_id and by_id[i]["sync_status"] == SyncStatus.REMOVED.value)
    assert not lost, f"jobs lost: {lost}"
    assert not wrongly_removed, f"live jobs marked removed: {wrongly_removed}"
    for job_id, job in by_id.items():
        if job["sync_status"] != SyncStatus.SYNCED.value or job_id not in live:
            continue
        candidates = [truth[job_id] for truth in versions if job_id in truth]
        assert any(not _differences(job, version) for version in candidates), (
            f"job {job_id} matches no version of the truth: "
            f"{[_differences(job, version) for version in candidates]}")


def assert_run_finished(run, statuses, error_contains=None):
    """The run ended (never left RUNNING) with one of statuses, and says why when it was not a success."""
    assert run.status in {s.value for s in statuses}, (run.status, run.error)
    assert run.finished_at is not None
    if run.status != RunStatus.SUCCESS.value:
        assert run.error and len(run.error) > 10, "a failed or partial run must say what went wrong"
    if error_contains is not None:
        assert error_contains.lower() in (run.error or "").lower(), run.error


# ---------------------------------------------------------------- the drill rig

@dataclass
class Rig:
    app: object
    world: SandboxWorld
    sandbox: object
    company_id: int

    @property
    def start(self):
        return self.world.today

    @property
    def end(self):
        return self.world.today + timedelta(days=1)

    def truth(self):
        return self.world.expected_jobs(self.start, self.end)

    def sync(self, **kwargs):
        from dashboard.sync.service import run_sync
        with self.app.app_context():
            return run_sync(self.company_id, **kwargs)

    def rows(self, statement):
        """The rows statement selects, read in a transaction of their own."""
        with self.app.app_context():
            rows = list(db.session.scalars(statement))
            db.session.commit()
            return rows

    def runs(self):
        return self.rows(sa.select(SyncRun).order_by(SyncRun.id))

    def opportunities_on_page(self, page):
        """Opportunity ids (with a job in the window) of the customers on sweep page `page`."""
        ids = self.world._window_customer_ids(self.start, self.end)[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
        in_window = set(self.world.opportunity_ids_in_window(self.start, self.end))
        return [o for c in ids for o in self.world.customers[c].opportunity_ids if o in in_window]

    def during_sweep_page(self, page, action):
        """Run action once on the server while it serves sweep page `page` (its items already read).

        A world change then shows from the next request on; a body fault (malformed,
        truncated) applies to this very page's answer.
        """
        world = self.world
        original = world.customers_page
        fired = threading.Event()

        def hooked(from_day, to_day, number, page_size, include_opportunities=True):
            total, items = original(from_day, to_day, number, page_size, include_opportunities)
            if not fired.is_set() and number == page:
                fired.set()
                action()
            return total, items

        world.customers_page = hooked
        return fired

    def during_first_detail(self, action):
        """Run action once on the server while it serves the run's first opportunity detail."""
        world = self.world
        original = world.opportunity_detail
        fired = threading.Event()

        def hooked(*args, **kwargs):
            if not fired.is_set():
                fired.set()
                action()
            return original(*args, **kwargs)

        world.opportunity_detail = hooked
        return fired


@contextlib.contextmanager
def drill_rig(app, monkeypatch):
    """A sandbox with faults to switch on, the app pointed at it, and a clean baseline sync already done."""
    monkeypatch.setattr("dashboard.smartmoving.client.MAX_PAGE_SIZE", PAGE_SIZE)
    world = SandboxWorld(seed=1234, branches=3, jobs_per_day=15)
    sandbox = start_sandbox(world=world, api_key="drill-key-5d1f0c")
    app.config.update(
        SMARTMOVING_BASE_URL=sandbox.base_url, SMARTMOVING_API_KEY=sandbox.api_key, DEMO_MODE=False,
        SMARTMOVING_MIN_INTERVAL=0, SMARTMOVING_MAX_RETRY_WAIT=0.25, SMARTMOVING_READ_TIMEOUT=10.0,
        SMARTMOVING_CONNECT_TIMEOUT=2.0, SYNC_LEASE_SECONDS=30,
    )
    with app.app_context():
        company_id = db.session.scalar(sa.select(Company.id).where(Company.is_default.is_(True)))
        db.session.commit()
    rig = Rig(app, world, sandbox, company_id)
    baseline = rig.sync()
    assert_run_finished(baseline, [RunStatus.SUCCESS])
    assert_db_matches_truth(app, world, rig.start, rig.end)
    sandbox.faults.reset_stats()
    try:
        yield rig
    finally:
        sandbox.stop()



# ---------------------------------------------------------------- processes (the kill -9 drills)

def cli_env(rig, **extra):
    """The environment of a CLI process (flask sync) pointed at the rig's database and sandbox."""
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "SERVER_SOFTWARE")}
    env.update({
        "DATABASE_URL": rig.app.config["DATABASE_URL"], "SMARTMOVING_BASE_URL": rig.sandbox.base_url,
        "SMARTMOVING_API_KEY": rig.sandbox.api_key, "SECRET_KEY": "drill-secret-of-at-least-32-characters",
        "COOKIE_SECURE": "false",
        "SMARTMOVING_MIN_INTERVAL": "0", "SMARTMOVING_READ_TIMEOUT": "20", "SYNC_INTERVAL_MINUTES": "0",
        "SYNC_LEASE_SECONDS": "3", "PYTHONUNBUFFERED": "1", "SYNC_WRITE_BATCH": str(DRILL_WRITE_BATCH),
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


def block_server_call(world, method_name, after_calls):
    """Make the sandbox hang (until released) on call number after_calls + 1 of world.method_name."""
    original = getattr(world, method_name)
    release = threading.Event()
    reached = threading.Event()
    count = {"n": 0}

    def blocking(*args, **kwargs):
        count["n"] += 1
        if count["n"] > after_calls:
            reached.set()
            release.wait(30)
        return original(*args, **kwargs)

    setattr(world, method_name, blocking)
    return reached, release


def wait_until(predicate, timeout, what):
    """Poll predicate until it holds, or fail after timeout seconds saying what never happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def kill_9(process, timeout=None):
    """SIGKILL process's whole group (it was started with start_new_session=True) and wait for it."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout)


def release_and_reap(process, release):
    """Let the blocked sandbox call go and make sure process is dead.

    A drill that failed half-way must not leave it running.
    """
    release.set()
    if process.poll() is None:
        kill_9(process)
