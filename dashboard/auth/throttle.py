"""Failed sign-in throttling after OWASP's advice, kept in the database (LoginAttempt) so it holds across workers.

Two counters over the last LOGIN_FAILURE_WINDOW_MINUTES, each with delays that grow:
- per (account, client address): LOGIN_MAX_FAILURES free failures, then the pair
  waits LOGIN_DELAY_SECONDS, doubling with every further failure up to
  LOGIN_MAX_DELAY_SECONDS. A guesser elsewhere never delays the account's owner at
  their own address: the right password from another address always gets through.
- per client address, across accounts (password spraying): LOGIN_MAX_FAILURES_PER_IP
  free failures, then the same growing delays for that address alone.
Nothing is ever locked for longer than the delay: no lock-out an attacker can
extend for someone else. A browser that signed in to the account before carries a
signed device cookie and skips the per-address counter, so an office behind one
address is not held up by a sprayer sharing it. Behind a reverse proxy set TRUSTED_PROXIES, or every user
shares the proxy's address.
"""
import math
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature
from itsdangerous import URLSafeTimedSerializer

from dashboard.db import db
from dashboard.models import LoginAttempt
from dashboard.models import utcnow


def _normal(email):
    return (email or "").strip().lower()[:254]


def _addr(remote_addr):
    return (remote_addr or "")[:64] or None


def _pair(email, remote_addr):
    """The SQL conditions selecting one (account, address) pair's failures."""
    addr = _addr(remote_addr)
    return (LoginAttempt.email == _normal(email),
            LoginAttempt.remote_addr == addr if addr is not None else LoginAttempt.remote_addr.is_(None))


def _wait_seconds(conditions, free, now):
    """Seconds left of the delay earned by the failures matching conditions, or 0."""
    config = current_app.config
    window = timedelta(minutes=config["LOGIN_FAILURE_WINDOW_MINUTES"])
    count, newest = db.session.execute(
        sa.select(sa.func.count(LoginAttempt.id), sa.func.max(LoginAttempt.attempted_at))
        .where(*conditions, LoginAttempt.attempted_at >= now - window)
    ).one()
    if count < max(free, 1):
        return 0
    # 2 ** 20 already dwarfs any sane cap; the bound keeps the arithmetic small.
    delay = min(config["LOGIN_DELAY_SECONDS"] * 2 ** min(count - free, 20), config["LOGIN_MAX_DELAY_SECONDS"])
    return max(0.0, (newest + timedelta(seconds=delay) - now).total_seconds())


DEVICE_COOKIE = "known_device"
DEVICE_DAYS = 180


def _device_serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt="known-device")


def known_device_for(request, email):
    """True when the request carries a device cookie from an earlier sign-in to this account (OWASP device cookies)."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw or len(raw) > 400:
        return False
    try:
        return _device_serializer().loads(raw, max_age=DEVICE_DAYS * 86400) == _normal(email)
    except BadSignature:
        return False


def remember_device(response, email):
    """Mark this browser as one that signed in to email, so a busy shared address does not delay it."""
    response.set_cookie(DEVICE_COOKIE, _device_serializer().dumps(_normal(email)), max_age=DEVICE_DAYS * 86400,
                        httponly=True, samesite="Lax", secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
                        path="/auth/")
    return response


def seconds_locked(email, remote_addr, known_device=False, now=None):
    """Whole seconds the caller must wait before trying this account from this address, or None.

    known_device: the browser proved an earlier sign-in to this account, so the
    per-address counter (someone else's failures on a shared address) does not apply.
    """
    now = now or utcnow()
    config = current_app.config
    addr = _addr(remote_addr)
    waits = [_wait_seconds(_pair(email, addr), config["LOGIN_MAX_FAILURES"], now)]
    if addr is not None and not known_device:
        waits.append(_wait_seconds((LoginAttempt.remote_addr == addr,), config["LOGIN_MAX_FAILURES_PER_IP"], now))
    wait = max(waits)
    return math.ceil(wait) if wait > 0 else None


def describe_wait(seconds):
    """'30 seconds', '1 minute', '15 minutes'."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def record_failure(email, remote_addr):
    """Remember one failed sign-in (flushes; the view commits)."""
    db.session.add(LoginAttempt(email=_normal(email), remote_addr=_addr(remote_addr)))
    db.session.flush()


def clear_failures(email, remote_addr):
    """A successful sign-in forgives that account's failures from that address (others' remain)."""
    db.session.execute(sa.delete(LoginAttempt).where(*_pair(email, remote_addr)))


def prune(older_than_days=2):
    """Delete attempts far outside any window (housekeeping)."""
    db.session.execute(sa.delete(LoginAttempt).where(LoginAttempt.attempted_at < utcnow() - timedelta(days=older_than_days)))
