"""gunicorn settings for the dashboard: `gunicorn -c gunicorn.conf.py wsgi:app` (gunicorn reads
./gunicorn.conf.py by default, so `gunicorn wsgi:app` from this directory uses it too).

Every worker runs its own sync scheduler, started in post_worker_init, i.e. after the
fork: a scheduler started in the master (with --preload) would own threads that no
worker inherits. The workers do not coordinate in memory; the database does: each
interval's slot is claimed by exactly one process and every run takes the sync lease
(see dashboard/scheduler.py), so N workers still mean one sync per interval.
Set SYNC_INTERVAL_MINUTES=0 to turn scheduling off (e.g. when a separate process runs
`flask --app dashboard sync` from cron instead).
"""
import gc
import multiprocessing
import os
import sys


def _whole_number(name, default):
    """A positive whole number from the environment, or one line naming the setting and exit 2."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        sys.stderr.write(f"Configuration error: {name} must be a whole number of at least 1, got {raw!r}\n")
        raise SystemExit(2)
    return int(raw)


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:5000")
workers = _whole_number("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 9))
worker_class = "gthread"
threads = _whole_number("GUNICORN_THREADS", 4)
# A request never runs a sync (the background scheduler and "sync now" use threads),
# so a worker silent for this long is stuck and may be restarted.
timeout = 30
graceful_timeout = 20
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
preload_app = os.environ.get("GUNICORN_PRELOAD", "").lower() in ("1", "true", "yes")
# Allocations between the garbage collector's youngest passes (Python's default: 700).
GC_FIRST_GENERATION = 10_000

# Tells the app factory that post_worker_init below will start the scheduler (without
# this file, the factory warns that gunicorn runs no scheduled syncs).
os.environ["DASHBOARD_GUNICORN_HOOKS"] = "1"


def on_starting(server):
    """In the master, before any worker: a bad setting stops gunicorn in one line (exit 2).

    A worker failing the same check would exit and be started again, over and over.
    """
    from dashboard import check_settings
    check_settings()


def _dashboard_app(wsgi):
    """The Flask app behind the worker's WSGI callable (None if it is not ours)."""
    return wsgi if hasattr(wsgi, "extensions") and "sqlalchemy_engine" in wsgi.extensions else None


def post_worker_init(worker):
    """In each worker, after the fork: drop inherited DB connections, then start the scheduler."""
    from dashboard.scheduler import should_start_in_gunicorn_worker
    from dashboard.scheduler import start_scheduler

    app = _dashboard_app(worker.wsgi)
    if app is None:
        worker.log.warning("dashboard app not found behind %r: no sync scheduler in this worker", worker.wsgi)
        return
    # With --preload the master built the engine; pooled connections must not be shared across a fork.
    app.extensions["sqlalchemy_engine"].dispose(close=False)
    if should_start_in_gunicorn_worker(app):
        start_scheduler(app)
    _tune_garbage_collector()


def _tune_garbage_collector():
    """Keep the collector's full passes short: they stop every thread of the worker.

    What is loaded by now (modules, templates, the app) lives as long as the worker, so
    it is frozen out of every pass; a full pass over it took ~70 ms, stalling whatever
    board request was running (bench/board.py's p99). A larger first generation means
    fewer passes while a board is built from thousands of short-lived objects.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_FIRST_GENERATION, 10, 10)


def worker_exit(server, worker):
    """Stop this worker's scheduler as it exits (a sync in progress is left to its lease)."""
    from dashboard.scheduler import stop_scheduler
    stop_scheduler()
