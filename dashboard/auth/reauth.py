"""Asking a signed-in user for their password again (password change, new API token), throttled like sign-in.

A stolen session must not be able to guess its way to the password or to a token
that outlives the session: each check counts against the same counters as sign-in
(dashboard/auth/throttle.py) and every wrong password is audited.
"""
from dataclasses import dataclass

from flask import request

from dashboard.audit.trail import record
from dashboard.auth import throttle
from dashboard.auth.passwords import verify_password
from dashboard.db import db


@dataclass(frozen=True)
class Check:
    """The outcome: ok, or the message to show (and, when throttled, the seconds to wait)."""
    ok: bool
    message: str = ""
    wait: int | None = None


def confirm_password(user, password, purpose):
    """Check user's current password for purpose (e.g. "password change"), counting and auditing a wrong one."""
    remote_addr = request.remote_addr
    device = throttle.device_for(request, user.email)
    wait = throttle.claim_attempt(user.email, remote_addr, device)
    if wait is not None:
        return Check(False, f"Too many wrong passwords, try again in {throttle.describe_wait(wait)}.", wait)
    if verify_password(user.password_hash, password or ""):
        with db.write_transaction():
            throttle.clear_failures(user.email, remote_addr, device)
        return Check(True)
    with db.write_transaction():
        record(user.company_id, user.id, "auth.reauth_failed", user.email, ip=remote_addr, purpose=purpose)
    return Check(False, "That is not your current password.")
