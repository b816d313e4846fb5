"""A run's outcome that could not be recorded because the database was away when the run ended.

A database outage during a sync fails the run, and then its last writes (the outcome
and the lease release) fail too. The runner retries them with backoff
(`while_database_down`); if the database stays away, it leaves the outcome in a small
file under the instance folder. Whoever next finds the run RUNNING (the reaper) records
that outcome, the real cause, rather than "the process stopped", and a runner finding
the lease still held by a run that ended frees it at once instead of waiting out its
lease. The file holds no customer data: the outcome's error is describe_error's text.
"""
import json
import logging
import os
import time

from flask import current_app

from dashboard.db import db
from dashboard.db import is_unavailable

log = logging.getLogger(__name__)

# Seconds between tries of a run's last writes while the database is unreachable (about 30 s in all).
RETRY_DELAYS = (0.5, 1, 2, 4, 8, 15)


def while_database_down(write, delays=None):
    """write(), tried again after each delay while the database is unreachable; its result.

    Any other error, or the last unreachable one, is raised.
    """
    delays = RETRY_DELAYS if delays is None else delays
    for delay in (*delays, None):
        try:
            return write()
        except Exception as error:
            if delay is None or not is_unavailable(error):
                raise
            db.discard_session()
            log.warning("the database is unreachable; trying again in %ss", delay)
            time.sleep(delay)


def _folder():
    return os.path.join(current_app.instance_path, "unfinished-runs")


def _path(run_id):
    return os.path.join(_folder(), f"{int(run_id)}.json")


def leave(run_id, owner, values):
    """Keep a run's outcome (its SyncRun column values) for whoever finds the run still RUNNING."""
    try:
        os.makedirs(_folder(), mode=0o700, exist_ok=True)
        with open(_path(run_id), "w", encoding="utf-8") as file:
            json.dump({"owner": owner, "values": values}, file, default=str)
    except OSError:
        log.exception("could not keep the outcome of sync run %s", run_id)


def left(run_id):
    """The column values a run left behind, or None."""
    try:
        with open(_path(run_id), encoding="utf-8") as file:
            return json.load(file)["values"]
    except (OSError, ValueError, KeyError):
        return None


def forget(run_id):
    try:
        os.remove(_path(run_id))
    except OSError:
        pass


def runner_ended(owner):
    """True when owner's run has ended and left its outcome (so its lease is held by no one alive)."""
    try:
        names = os.listdir(_folder())
    except OSError:
        return False
    for name in names:
        try:
            with open(os.path.join(_folder(), name), encoding="utf-8") as file:
                if json.load(file).get("owner") == owner:
                    return True
        except (OSError, ValueError, AttributeError):
            continue
    return False
