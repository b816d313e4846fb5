"""Liveness and readiness probes, open to anyone and never cached."""
import sqlalchemy as sa
from flask import Blueprint

from dashboard.db import db
from dashboard.permissions import public

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def healthz():
    """Liveness: the process answers. Touches no dependency, so a database hiccup restarts nothing."""
    return {"status": "ok"}, 200, {"Cache-Control": "no-store"}


@bp.get("/readyz")
@public
def readyz():
    """Readiness: 503 while the database cannot answer."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception:  # any driver error means "not ready"; the detail goes to the log
        db.session.rollback()
        return {"status": "unavailable", "database": "down"}, 503, {"Cache-Control": "no-store"}
    return {"status": "ok", "database": "up"}, 200, {"Cache-Control": "no-store"}
