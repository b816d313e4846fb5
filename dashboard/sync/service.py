"""The runner: sync runs and their lifecycle, one runner per company at a time.

A run takes the company's lease (waiting briefly for a webhook drain), records a
RUNNING SyncRun, executes the Syncer's pipeline (sync.syncer) and, still under the
lease, drains the webhook events that came in meanwhile (webhooks.drains) before it
lets go. The lease is renewed by a keeper thread (sync.lease.LeaseKeeper) through slow
calls and waits; a run whose process died is reaped at start-up, or as soon as its
lease stands in the way of a new run (`reap_dead_runs`, `begin_run`).
"""
import logging
import os
import socket
import threading
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from dashboard.db import db
from dashboard.error_text import describe_error
from dashboard.models import Company
from dashboard.models import RunStatus
from dashboard.models import SyncRun
from dashboard.models import utcnow
from dashboard.sync import unfinished
from dashboard.sync.history import current_run
from dashboard.sync.lease import LeaseKeeper
from dashboard.sync.lease import acquire_lease
from dashboard.sync.lease import lease_holder
from dashboard.sync.lease import lease_name_for
from dashboard.sync.lease import new_owner_id
from dashboard.sync.lease import owner_process
from dashboard.sync.lease import process_gone
from dashboard.sync.lease import release_if_holder_dead
from dashboard.sync.lease import release_lease
from dashboard.sync.syncer import Syncer
from dashboard.timeutil import company_today
from dashboard.timeutil import day_window
from dashboard.webhooks.drains import drain_quietly
from dashboard.webhooks.drains import sync_may_wait

log = logging.getLogger(__name__)


class SyncAlreadyRunning(Exception):
    """Another runner holds this company's sync lease."""

    def __init__(self, company_id, run=None):
        self.run = run
        started = f" (started {run.started_at:%H:%M} UTC)" if run is not None else ""
        super().__init__(f"A sync is already running for this company{started}.")


class CompanyDisabled(Exception):
    """The company is disabled (Companies page): never synced, not even on request, until enabled."""

    def __init__(self, company):
        self.company_id = company.id
        super().__init__(f"{company.name} is disabled: it is not synced until a super admin enables it "
                         f"on the Companies page.")


def refuse_if_disabled(company_id):
    """Raise CompanyDisabled when company_id names a disabled company ("Sync now" asks this first)."""
    company = db.session.get(Company, company_id)
    if company is not None and not company.is_active:
        raise CompanyDisabled(company)


# ---------------------------------------------------------------- run lifecycle

def begin_run(company_id, day=None, trigger="cli", user_id=None, days=2):
    """Take the company's lease and record a RUNNING run of `days` days from day; returns (run, owner).

    Raises SyncAlreadyRunning when another runner holds the lease.
    """
    owner = new_owner_id()
    name, ttl = lease_name_for(company_id), current_app.config["SYNC_LEASE_SECONDS"]
    # A webhook drain holds the lease for seconds only: a sync waits for it rather than skip.
    if not acquire_lease(name, owner, ttl) and not sync_may_wait(company_id, owner, ttl):
        # A holder killed on this host (kill -9) cannot renew, but waiting out its lease
        # would block "Sync now" for minutes: free it at once when its process is gone.
        if not _free_lease_of_ended_runner(name) or not acquire_lease(name, owner, ttl):
            raise SyncAlreadyRunning(company_id, current_run(company_id))
    try:
        # Only the lease holder may reap: any RUNNING run it finds lost its runner.
        reap_stale_runs(company_id)
        with db.write_transaction() as session:
            company = session.get(Company, company_id)
            start, end = day_window(day or company_today(company.timezone))
            end = start + timedelta(days=days - 1)   # the quota plan may sweep one day alone
            run = SyncRun(company_id=company_id, trigger=trigger, triggered_by=user_id, window_start=start,
                          window_end=end, status=RunStatus.RUNNING.value, phase="starting", heartbeat_at=utcnow(),
                          runner_host=socket.gethostname(), runner_pid=os.getpid())
            session.add(run)
    except BaseException:
        release_lease(lease_name_for(company_id), owner)
        raise
    return run, owner


def _free_lease_of_ended_runner(name):
    """Free the lease when its holder is gone (kill -9) or its run ended but could not release it (an outage)."""
    if release_if_holder_dead(name) is not None:
        return True
    holder = lease_holder(name)
    if holder is None or not unfinished.runner_ended(holder[0]):
        return False
    log.warning("released lease %s: its run ended while the database was unreachable", name)
    return release_lease(name, holder[0])


def execute_run(run_id, owner, client=None):
    """Do the work of a begun run and release its lease; returns the finished SyncRun."""
    run = db.session.get(SyncRun, run_id)
    company = db.session.get(Company, run.company_id)
    company_id = company.id   # read now: a lost connection's rollback expires loaded rows
    db.session.commit()
    name = lease_name_for(company_id)
    keeper = LeaseKeeper(current_app._get_current_object(), name, owner,
                         current_app.config["SYNC_LEASE_SECONDS"]).start()
    try:
        Syncer(company, run, owner, client, lease_lost=keeper.lost).execute()
        drain_quietly(company_id, owner)   # webhook events that came in meanwhile: still under our lease
    finally:
        keeper.stop()
        _release_soon(name, owner)
        db.discard_session()
    return db.session.get(SyncRun, run_id)


def _release_soon(name, owner):
    """Release the lease, retrying while the database is unreachable; else it expires (or begin_run frees it)."""
    try:
        unfinished.while_database_down(lambda: release_lease(name, owner))
    except Exception as error:
        log.error("could not release lease %s (%s); it expires by itself", name, describe_error(error))


def run_sync(company_id, day=None, trigger="cli", user_id=None, client=None, days=2):
    """One complete sync of day and the next (default: today in the company's zone), or of day alone."""
    run, owner = begin_run(company_id, day, trigger, user_id, days)
    return execute_run(run.id, owner, client)


def start_sync_in_background(app, company_id, trigger="manual", user_id=None, day=None):
    """Take the lease now (so a second click gets SyncAlreadyRunning at once) and sync in a thread.

    Raises CompanyDisabled for a disabled company (before any lease is taken)."""
    refuse_if_disabled(company_id)
    run, owner = begin_run(company_id, day, trigger, user_id)

    def work():
        with app.app_context():
            try:
                execute_run(run.id, owner)
            except Exception:  # the run row already carries the error; keep the thread quiet
                log.exception("background sync %s crashed", run.id)

    threading.Thread(target=work, name=f"sync-{run.id}", daemon=True).start()
    return run


def reap_stale_runs(company_id):
    """Mark RUNNING runs FAILED: their runner died. Call only while holding the company's lease.

    Holding the lease is what makes this safe: no live run can exist beside ours,
    so a loser of a race can never reap the winner's fresh run.
    """
    with db.write_transaction() as session:
        stale = list(session.scalars(sa.select(SyncRun).where(
            SyncRun.company_id == company_id, SyncRun.status == RunStatus.RUNNING.value)))
        for run in stale:
            _fail_interrupted(run)
    for run in stale:
        unfinished.forget(run.id)
    return len(stale)


def reap_dead_runs():
    """On start-up: fail RUNNING runs whose process is gone from this host, and free their leases.

    Runs of other hosts are left to their lease's expiry: their processes cannot be
    checked from here. Returns how many runs were failed.
    """
    host = socket.gethostname()
    reaped = 0
    candidates = db.session.execute(sa.select(SyncRun.id, SyncRun.company_id, SyncRun.runner_pid).where(
        SyncRun.status == RunStatus.RUNNING.value, SyncRun.runner_host == host)).all()
    db.session.commit()
    for run_id, company_id, pid in candidates:
        name = lease_name_for(company_id)
        holder = lease_holder(name)
        if holder is not None and owner_process(holder[0]) != (host, pid):
            continue   # a newer run holds the lease; it reaps this one itself
        if holder is not None and release_if_holder_dead(name) is None:
            continue   # still alive
        if holder is None and not process_gone(host, pid, owner=""):
            continue
        with db.write_transaction() as session:
            run = session.get(SyncRun, run_id)
            if run.status == RunStatus.RUNNING.value:
                _fail_interrupted(run)
                reaped += 1
        unfinished.forget(run_id)
    if reaped:
        log.warning("start-up: %s interrupted sync run(s) of dead processes marked failed", reaped)
    return reaped


def _fail_interrupted(run):
    """Fail a run whose process died, saying what it had written (its counters are written with its rows).

    A run that ended while the database was unreachable left its outcome behind
    (sync.unfinished): that, the real cause, is recorded instead.
    """
    outcome = unfinished.left(run.id)
    if outcome is not None:
        for column, value in outcome.items():
            setattr(run, column, value)
        run.finished_at = utcnow()
        run.warnings = (run.warnings or []) + ["Recorded after the run ended: the database was unreachable then."]
        return
    where = f" (pid {run.runner_pid} on {run.runner_host})" if run.runner_pid else ""
    written = run.created + run.updated + run.removed
    kept = (f"The {written} job change{'' if written == 1 else 's'} it had saved ({run.created} new, "
            f"{run.updated} updated, {run.removed} removed) were kept, each whole"
            if written else "It had saved no job changes")
    run.status = RunStatus.FAILED.value
    run.finished_at = utcnow()
    run.phase = "interrupted"
    run.error = (f"Interrupted: the process running this sync{where} stopped before finishing. "
                 f"{kept}; the next sync completes the data.")
