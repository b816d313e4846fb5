"""Failed sign-in throttling kept in the database (LoginAttempt), so it holds across workers.

Per account: LOGIN_MAX_FAILURES failures within LOGIN_FAILURE_WINDOW_MINUTES lock that
email for the rest of the window. Per IP address: LOGIN_MAX_FAILURES_PER_IP (default
four times the per-account limit, for offices behind one address) locks the address.
"""
import math
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from dashboard.db import db
from dashboard.models import LoginAttempt
from dashboard.models import utcnow


def _limits():
    config = current_app.config
    per_email = config["LOGIN_MAX_FAILURES"]
    per_ip = int(config.get("LOGIN_MAX_FAILURES_PER_IP") or per_email * 4)
    return per_email, per_ip, timedelta(minutes=config["LOGIN_FAILURE_WINDOW_MINUTES"])


def _minutes_left(column, value, limit, window, now):
    """Minutes until the limit-th newest failure for column == value leaves the window, or None if under."""
    if not value or limit <= 0:
        return None
    since = now - window
    times = db.session.scalars(
        sa.select(LoginAttempt.attempted_at)
        .where(column == value, LoginAttempt.attempted_at >= since)
        .order_by(LoginAttempt.attempted_at.desc())
        .limit(limit)
    ).all()
    if len(times) < limit:
        return None
    unlock_at = times[-1] + window
    return max(1, math.ceil((unlock_at - now).total_seconds() / 60))


def minutes_locked(email, remote_addr, now=None):
    """Minutes the caller must wait before trying again, or None when sign-in may proceed."""
    now = now or utcnow()
    per_email, per_ip, window = _limits()
    waits = [
        _minutes_left(LoginAttempt.email, (email or "").strip().lower(), per_email, window, now),
        _minutes_left(LoginAttempt.remote_addr, remote_addr, per_ip, window, now),
    ]
    waits = [w for w in waits if w is not None]
    return max(waits) if waits else None


def record_failure(email, remote_addr):
    """Remember one failed sign-in (flushes; the view commits)."""
    db.session.add(LoginAttempt(email=(email or "").strip().lower()[:254], remote_addr=(remote_addr or "")[:64] or None))
    db.session.flush()


def clear_failures(email):
    """A successful sign-in forgives that account's earlier failures (the IP's remain)."""
    db.session.execute(sa.delete(LoginAttempt).where(LoginAttempt.email == (email or "").strip().lower()))


def prune(older_than_days=2):
    """Delete attempts far outside any window (housekeeping)."""
    db.session.execute(sa.delete(LoginAttempt).where(LoginAttempt.attempted_at < utcnow() - timedelta(days=older_than_days)))
