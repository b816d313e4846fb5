"""Failed sign-in throttling after OWASP's advice, kept in the database (LoginAttempt) so it holds across workers.

Counters over the last LOGIN_FAILURE_WINDOW_MINUTES, each with delays that grow:
- per account, from an unknown browser at one client address: LOGIN_MAX_FAILURES
  free failures, then the pair waits LOGIN_DELAY_SECONDS, doubling with every further
  failure up to LOGIN_MAX_DELAY_SECONDS. A guesser elsewhere never delays the account's
  owner at their own address: the right password from another address always gets through.
- per account, from a known browser (a signed `known_device` cookie from an earlier
  sign-in to that account, with a device id of its own): the same limits, counted for
  that browser alone, so others' guesses, from anywhere, never hold up the owner on it.
- per client address, across accounts (password spraying): LOGIN_MAX_FAILURES_PER_IP
  free failures, then the same growing delays for that address alone (known browsers
  skip it, so an office behind one address is not held up by a sprayer sharing it).
Nothing is ever locked for longer than the delay: no lock-out an attacker can extend for
someone else. Behind a reverse proxy set TRUSTED_PROXIES, or every user shares the
proxy's address.

Check-and-count is one short transaction under a lock per account (and per address):
an attempt is counted before its password is checked (claim_attempt) and forgiven when
the password was right (clear_failures), so a burst of concurrent guesses gets exactly
the free ones checked, never more.
"""
import hashlib
import math
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature
from itsdangerous import URLSafeTimedSerializer

from dashboard.db import db
from dashboard.models import LoginAttempt
from dashboard.models import utcnow

# pg_advisory_xact_lock(namespace, hashtext(key)): namespaces of our own (dashboard/stamps.py has 8_260_001).
# Every claim takes the account's lock before the address's, so two claims never wait on each other in a cycle.
_ACCOUNT_LOCK = 8_260_002
_ADDRESS_LOCK = 8_260_003
_LOCK = sa.text("SELECT pg_advisory_xact_lock(CAST(:namespace AS integer), hashtext(:key))")


def _normal(email):
    return (email or "").strip().lower()[:254]


def _addr(remote_addr):
    return (remote_addr or "")[:64] or None


def _account_counter(email, remote_addr, device):
    """The SQL conditions selecting one account's failures as this caller is judged by them."""
    if device:
        return LoginAttempt.email == _normal(email), LoginAttempt.device == device
    addr = _addr(remote_addr)
    return (LoginAttempt.email == _normal(email), LoginAttempt.device.is_(None),
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


def device_for(request, email):
    """The device id of this browser's known_device cookie if it signed in to email before, else None."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw or len(raw) > 400:
        return None
    try:
        payload = _device_serializer().loads(raw, max_age=DEVICE_DAYS * 86400)
    except BadSignature:
        return None
    if isinstance(payload, list) and len(payload) == 2 and payload[0] == _normal(email):
        return str(payload[1])[:64]
    if payload == _normal(email):
        # A cookie from before device ids: the signed cookie itself names the device.
        return hashlib.sha256(raw.encode()).hexdigest()[:32]
    return None


def remember_device(response, email, device=None):
    """Mark this browser as one that signed in to email (keeping its device id), judged by its own counter."""
    payload = [_normal(email), device or secrets.token_hex(16)]
    response.set_cookie(DEVICE_COOKIE, _device_serializer().dumps(payload), max_age=DEVICE_DAYS * 86400,
                        httponly=True, samesite="Lax", secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
                        path="/auth/")
    return response


def _lock(email, addr):
    """Hold the account's (and the address's) throttle until commit.

    PostgreSQL: transaction advisory locks. SQLite: the write transaction's BEGIN
    IMMEDIATE already lets one writer at a time through.
    """
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        return
    connection.execute(_LOCK, {"namespace": _ACCOUNT_LOCK, "key": _normal(email)})
    if addr is not None:
        connection.execute(_LOCK, {"namespace": _ADDRESS_LOCK, "key": addr})


def _seconds_locked(email, addr, device, now):
    config = current_app.config
    waits = [_wait_seconds(_account_counter(email, addr, device), config["LOGIN_MAX_FAILURES"], now)]
    if addr is not None and not device:
        waits.append(_wait_seconds((LoginAttempt.remote_addr == addr,), config["LOGIN_MAX_FAILURES_PER_IP"], now))
    wait = max(waits)
    return math.ceil(wait) if wait > 0 else None


def claim_attempt(email, remote_addr, device=None):
    """Count one attempt at email's password before it is checked: whole seconds to wait (nothing counted), or None.

    Its own write transaction, committed at once: the check and the count happen under
    the account's lock, so concurrent guesses cannot all pass the same check. A right
    password then calls clear_failures, which forgives this attempt with the others.
    """
    addr = _addr(remote_addr)
    with db.write_transaction() as session:
        _lock(email, None if device else addr)
        wait = _seconds_locked(email, addr, device, utcnow())
        if wait is None:
            session.add(LoginAttempt(email=_normal(email), remote_addr=addr, device=device, attempted_at=utcnow()))
    return wait


def describe_wait(seconds):
    """'30 seconds', '1 minute', '15 minutes'."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def clear_failures(email, remote_addr, device=None):
    """The right password forgives the account's failures from that address, or that browser (others' remain)."""
    email, addr = _normal(email), _addr(remote_addr)
    mine = [LoginAttempt.remote_addr == addr if addr is not None else LoginAttempt.remote_addr.is_(None)]
    if device:
        mine.append(LoginAttempt.device == device)
    db.session.execute(sa.delete(LoginAttempt).where(LoginAttempt.email == email, sa.or_(*mine)))


def prune(older_than_days=2):
    """Delete attempts far outside any window (housekeeping)."""
    cutoff = utcnow() - timedelta(days=older_than_days)
    db.session.execute(sa.delete(LoginAttempt).where(LoginAttempt.attempted_at < cutoff))
