"""Liveness and readiness probes, open to anyone and never cached."""
import logging

import sqlalchemy as sa
from flask import Blueprint

from dashboard.db import db
from dashboard.models import SyncRun
from dashboard.permissions import public
from dashboard.timeutil import as_utc_iso

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)

_NO_STORE = {"Cache-Control": "no-store"}


@bp.get("/healthz")
@bp.get("/health")  # the seed specification's name for it
@public
def healthz():
    """Liveness: the process answers. Touches no dependency, so a database hiccup restarts nothing."""
    return {"status": "ok"}, 200, _NO_STORE


@bp.get("/readyz")
@public
def readyz():
    """Readiness: 503 while the database cannot answer; also says when the last sync finished."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception as error:  # any driver error means "not ready"; the detail goes to the log only
        log.warning("readiness check failed: database unavailable (%s)", type(error).__name__)
        _rollback_quietly()
        return {"status": "unavailable", "database": "down"}, 503, _NO_STORE
    return {"status": "ok", "database": "up", "lastSync": _last_sync()}, 200, _NO_STORE


def _rollback_quietly():
    try:
        db.session.rollback()
    except Exception:  # the connection is already gone; nothing left to undo
        pass


def _last_sync():
    """{"status", "finishedAt"} of the newest finished sync run, or None (informational, never fails the probe)."""
    try:
        row = db.session.execute(
            sa.select(SyncRun.status, SyncRun.finished_at).where(SyncRun.finished_at.is_not(None))
            .order_by(SyncRun.finished_at.desc()).limit(1)).first()
        db.session.commit()
    except Exception:  # schema not created yet: still "ready" as far as the database goes
        _rollback_quietly()
        return None
    if row is None:
        return None
    return {"status": row.status, "finishedAt": as_utc_iso(row.finished_at)}
