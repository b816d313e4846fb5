"""The in-process scheduler: an APScheduler 3.x BackgroundScheduler that syncs every company.

Who starts it (`should_start_scheduler`): only the process that serves requests. Not
tests, not `flask` commands other than `run`, not the reloader's watcher process, and
not gunicorn's master (gunicorn.conf.py starts one per worker in post_worker_init,
after the fork; threads do not survive a fork).

Correctness never depends on that guard. Any number of processes may run a
scheduler; the job fires at the same wall-clock instants everywhere (multiples of the
interval since the epoch), each process first claims that interval's slot in the
database (`claim_slot`: exactly one claim succeeds per slot), and the run itself
takes the sync lease, which "sync now" and the CLI take too.
"""
import atexit
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from dashboard.auth import throttle
from dashboard.companies import credentials
from dashboard.config import parse_bool
from dashboard.config import parse_int
from dashboard.db import db
from dashboard.models import Company
from dashboard.plans import delivery
from dashboard.sync import service
from dashboard.sync import usage
from dashboard.sync.history import summarize
from dashboard.sync.lease import claim_slot
from dashboard.sync.lease import new_owner_id
from dashboard.timeutil import company_today

log = logging.getLogger("dashboard.scheduler")

JOB_ID = "smartmoving-sync"
STARTUP_JOB_ID = "smartmoving-sync-startup"
DELIVERY_JOB_ID = "plan-delivery"
# Seconds between the scheduler's start and its first run.
DEFAULT_FIRST_RUN_SECONDS = 5

_lock = threading.Lock()
_scheduler = None
_atexit_registered = False


def slot_name_for(company_id):
    """The lease-table row where schedulers claim interval slots for company_id."""
    return f"schedule:{company_id}"


def _setting(app, name, parser, default=None):
    """A setting from app.config, else the environment, parsed; default when unset in both."""
    raw = app.config.get(name)
    if raw in (None, ""):
        raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    return parser(name, raw)


def interval_seconds(app):
    """Seconds between scheduled syncs; 0 means the scheduler is off.

    SYNC_INTERVAL_MINUTES is the setting; SYNC_INTERVAL_SECONDS (tests and drills
    only) overrides it when set, so a test can watch several intervals go by.
    """
    seconds = _setting(app, "SYNC_INTERVAL_SECONDS", parse_int)
    if seconds is not None:
        return seconds
    return parse_int("SYNC_INTERVAL_MINUTES", app.config.get("SYNC_INTERVAL_MINUTES", 0)) * 60


def _flask_cli_command():
    """(name, params) of the flask CLI command this process is running, or (None, {})."""
    import click
    ctx = click.get_current_context(silent=True)
    if ctx is None or ctx.command is None:
        return None, {}
    return ctx.command.name, dict(ctx.params or {})


def scheduling_enabled(app):
    """False when settings turn scheduled syncs off: interval 0, testing, or SCHEDULER_AUTOSTART=false."""
    if interval_seconds(app) <= 0:
        return False
    if app.testing:
        return False
    return bool(_setting(app, "SCHEDULER_AUTOSTART", parse_bool, default=True))


def should_start_scheduler(app):
    """True when this process is the one that serves app and should run scheduled syncs."""
    from werkzeug.serving import is_running_from_reloader

    if not scheduling_enabled(app):
        return False
    if os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn"):
        # gunicorn.conf.py starts it in post_worker_init; here we may be the master
        # (--preload), whose threads the workers would not inherit.
        if os.environ.get("DASHBOARD_GUNICORN_HOOKS") != "1":
            log.warning("gunicorn without gunicorn.conf.py: no scheduled syncs in this process "
                        "(run gunicorn -c gunicorn.conf.py, or schedule `flask --app dashboard sync`)")
        return False
    if os.environ.get("FLASK_RUN_FROM_CLI") == "true":
        command, params = _flask_cli_command()
        if command != "run":
            return False  # init-db, sync, create-user, shell, routes...: one-shot commands
        if is_running_from_reloader():
            return True  # the reloader's child: it serves
        reload = params.get("reload")
        if reload is None:
            from flask.helpers import get_debug_flag
            reload = get_debug_flag()
        # With the reloader this is the watcher process: its child serves.
        return not reload
    return True  # imported by a WSGI server (wsgi.py) or app.run()


def should_start_in_gunicorn_worker(app):
    """The check gunicorn.conf.py's post_worker_init makes: only the settings matter there."""
    return scheduling_enabled(app)


def start_scheduler_if_serving(app):
    """Start the background sync scheduler when this process serves the app; the scheduler or None."""
    if not should_start_scheduler(app):
        return None
    return start_scheduler(app)


def _slot_start(when, seconds):
    """The start (naive UTC) of the interval slot holding the aware instant when."""
    epoch = int(when.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC).replace(tzinfo=None)


def companies_to_sync(config=None):
    """Ids of the companies a scheduled run syncs: every active one with credentials (its own encrypted key,
    an api_key_env variable that is set, SMARTMOVING_API_KEY or the demo sandbox). Disabled ones never."""
    config = config or current_app.config
    active = db.session.scalars(sa.select(Company).where(Company.is_active.is_(True)).order_by(Company.id))
    return [company.id for company in active if credentials.has_credentials(company, config, os.environ)]


def fair_order(company_ids, turn):
    """company_ids rotated by turn: each tick another company goes first, so none waits behind the same ones."""
    if not company_ids:
        return []
    start = turn % len(company_ids)
    return company_ids[start:] + company_ids[:start]


def run_scheduled_sync(app, now=None):
    """The job: for each company, claim this interval's slot, then sync it in its own app context.

    Up to SYNC_PARALLEL_COMPANIES companies sync at once (a small thread pool), in an order
    that rotates every interval (the slot's number, the same in every process): a slow
    company holds one worker, never the others' turn. Each company's own lease still
    allows one runner per company across processes.

    Never raises (an exception would only reach APScheduler's log): each company's
    outcome is logged, and a company whose sync fails does not stop the others.
    Returns {company_id: outcome} for tests ("synced", "skipped", "busy", "error").
    """
    seconds = interval_seconds(app) or 60
    slot = _slot_start(now or datetime.now(UTC), seconds)
    outcomes = {}
    try:
        with app.app_context():
            company_ids = companies_to_sync(app.config)
    except Exception:
        log.exception("scheduled sync could not list companies")
        return outcomes
    order = fair_order(company_ids, int(slot.replace(tzinfo=UTC).timestamp()) // seconds)

    def sync_in_context(company_id):
        with app.app_context():
            return company_id, _sync_one(app, company_id, slot, new_owner_id(), seconds)

    if order:
        workers = min(max(1, app.config.get("SYNC_PARALLEL_COMPANIES") or 1), len(order))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sync-company") as pool:
            outcomes.update(pool.map(sync_in_context, order))
    if "synced" in outcomes.values():
        _housekeeping(app)   # once per interval: only the slot's winner gets here
    return outcomes


def _housekeeping(app):
    """Small clean-ups that ride on the scheduled sync: old failed-login rows."""
    try:
        with app.app_context(), db.write_transaction():
            throttle.prune()
    except Exception:  # housekeeping must never break the schedule
        log.exception("housekeeping failed")


def _planned_window(app, company_id, tick_seconds):
    """(day, days) the quota plan wants swept now, or None to skip this tick (sync.plan).

    With SYNC_INTERVAL_SECONDS (tests and drills only) every tick sweeps both days:
    the plan's cadences are minutes apart, a drill's ticks seconds.
    """
    if _setting(app, "SYNC_INTERVAL_SECONDS", parse_int) is not None:
        return None, 2
    decision = usage.plan_now(company_id, slack_minutes=tick_seconds / 120)
    quota, _ = usage.quota_and_tier(company=db.session.get(Company, company_id))
    usage.warn_if_high(company_id, quota, usage.month_used(company_id))
    if decision.window is None:
        return None
    today = company_today(db.session.get(Company, company_id).timezone)
    db.session.commit()
    return {"today": (today, 1), "tomorrow": (today + timedelta(days=1), 1), "both": (today, 2)}[decision.window]


def _sync_one(app, company_id, slot, owner, tick_seconds=600):
    extra = {"company_id": company_id, "trigger": "scheduled", "slot": slot.isoformat() + "Z"}
    try:
        if not claim_slot(slot_name_for(company_id), slot, owner):
            log.info("scheduled sync skipped: another process took this interval", extra=extra)
            return "skipped"
        window = _planned_window(app, company_id, tick_seconds)
        if window is None:
            log.info("scheduled sync skipped: the quota plan has nothing due this tick", extra=extra)
            return "planned-skip"
        started = time.monotonic()
        run = service.run_sync(company_id, day=window[0], days=window[1], trigger="scheduled")
    except service.SyncAlreadyRunning as error:
        log.info("scheduled sync skipped: already running (%s)", error, extra=extra)
        return "busy"
    except Exception:
        log.exception("scheduled sync crashed", extra=extra)
        return "error"
    level = logging.INFO if run.status == "SUCCESS" else logging.WARNING
    log.log(level, "scheduled sync finished: %s", summarize(run),
            extra={**extra, "sync_run_id": run.id, "status": run.status,
                   "duration_ms": int((time.monotonic() - started) * 1000)})
    return "synced"


def run_scheduled_delivery(app):
    """The outbox job: one pass per company with due messages, under that company's delivery lease.

    Never raises; a company whose pass fails is logged and the others still get theirs.
    """
    try:
        with app.app_context():
            company_ids = delivery.companies_with_due_messages()
    except Exception:
        log.exception("plan delivery could not list due messages")
        return
    for company_id in company_ids:
        try:
            with app.app_context():
                delivery.deliver_with_lease(company_id)
        except Exception:
            log.exception("plan delivery failed", extra={"company_id": company_id})


def _on_job_event(event):
    """Log what APScheduler would otherwise only tell its own logger."""
    from apscheduler.events import EVENT_JOB_MISSED
    if event.code == EVENT_JOB_MISSED:
        log.warning("scheduled sync missed its run time %s (process too busy)", event.scheduled_run_time)
    elif getattr(event, "exception", None) is not None:
        log.error("scheduled job %s raised: %r", event.job_id, event.exception)


def start_scheduler(app, first_run_seconds=None):
    """Start this process's scheduler for app (idempotent); the running BackgroundScheduler.

    Two jobs with fixed ids: JOB_ID fires on every multiple of the interval since the
    epoch (the same instants in every process), and STARTUP_JOB_ID runs once soon
    after start. Both claim the current slot first, so a restart does not sync twice
    in one interval.
    """
    global _scheduler, _atexit_registered
    from apscheduler.events import EVENT_JOB_ERROR
    from apscheduler.events import EVENT_JOB_MISSED
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    seconds = interval_seconds(app)
    if seconds <= 0:
        return None
    if first_run_seconds is None:
        first_run_seconds = _setting(app, "SCHEDULER_FIRST_RUN_SECONDS", parse_int, DEFAULT_FIRST_RUN_SECONDS)
    tz = ZoneInfo(app.config["DASHBOARD_TIMEZONE"])
    with _lock:
        if _scheduler is not None and _scheduler.running:
            return _scheduler
        scheduler = BackgroundScheduler(
            timezone=tz,
            # Plan delivery has its own thread: a long sync must not hold the crews' messages back.
            executors={"default": ThreadPoolExecutor(max_workers=1), "delivery": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": max(1, seconds // 2)},
        )
        scheduler.add_job(
            run_scheduled_sync, IntervalTrigger(seconds=seconds, start_date=datetime(1970, 1, 2, tzinfo=UTC),
                                                timezone=tz),
            args=[app], id=JOB_ID, name="SmartMoving sync", replace_existing=True,
            coalesce=True, max_instances=1, misfire_grace_time=max(1, seconds // 2),
        )
        scheduler.add_job(
            run_scheduled_sync, "date", run_date=datetime.now(tz) + timedelta(seconds=first_run_seconds),
            args=[app], id=STARTUP_JOB_ID, name="SmartMoving sync at start-up", replace_existing=True,
            coalesce=True, max_instances=1, misfire_grace_time=max(1, seconds // 2),
        )
        scheduler.add_job(
            run_scheduled_delivery, IntervalTrigger(seconds=delivery.TICK_SECONDS, timezone=tz), args=[app],
            id=DELIVERY_JOB_ID, name="Plan delivery", replace_existing=True, executor="delivery",
            coalesce=True, max_instances=1, misfire_grace_time=delivery.TICK_SECONDS,
        )
        scheduler.add_listener(_on_job_event, EVENT_JOB_MISSED | EVENT_JOB_ERROR)
        scheduler.start()
        _scheduler = scheduler
        if not _atexit_registered:
            atexit.register(stop_scheduler)
            _atexit_registered = True
    log.info("scheduler started: sync every %s s, first run in %s s (pid %s, timezone %s)",
             seconds, first_run_seconds, os.getpid(), tz.key)
    return scheduler


def get_scheduler():
    """This process's running scheduler, or None."""
    return _scheduler if _scheduler is not None and _scheduler.running else None


def stop_scheduler(wait=False):
    """Stop this process's scheduler (at exit, in gunicorn's worker_exit, in tests).

    A sync in progress is not waited for unless wait=True: if the process then dies
    mid-run, its lease expires and the next run reaps and redoes the work.
    """
    global _scheduler
    with _lock:
        scheduler, _scheduler = _scheduler, None
    if scheduler is not None and scheduler.running:
        scheduler.shutdown(wait=wait)
        log.info("scheduler stopped (pid %s)", os.getpid())
