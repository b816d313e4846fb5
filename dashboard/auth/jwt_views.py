"""POST /auth/token: email and password (JSON) for a short-lived bearer JWT, throttled like the sign-in form."""
import logging

import sqlalchemy as sa
from flask import request

from dashboard.audit.trail import record
from dashboard.auth import jwt_tokens
from dashboard.auth import throttle
from dashboard.auth.passwords import check_password
from dashboard.auth.views import bp
from dashboard.db import db
from dashboard.errors import json_error
from dashboard.extensions import csrf
from dashboard.guards import json_body
from dashboard.guards import read_body
from dashboard.models import User
from dashboard.permissions import Perm
from dashboard.permissions import can
from dashboard.permissions import public

log = logging.getLogger(__name__)

WRONG_CREDENTIALS = "That email and password do not match an active account."


def _credentials():
    """(email, password) from the JSON body, or None when it is not {"email": text, "password": text}."""
    body = json_body() if read_body() else None
    if not isinstance(body, dict):
        return None
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str) or not isinstance(password, str) or not email.strip() or len(email) > 254:
        return None
    return email.strip().lower(), password


@bp.post("/token")
@public
@csrf.exempt  # JSON with credentials in the body: no cookie is read or set, so nothing for CSRF to ride on
def issue_token():
    """200 {"access_token", "token_type": "Bearer", "expires_in"}; 401 wrong or disabled; 429 throttled."""
    credentials = _credentials()
    if credentials is None:
        return json_error(422, 'Send a JSON object {"email": "...", "password": "..."}.')
    email, password = credentials
    remote_addr = request.remote_addr
    # The sign-in form's counters (per account and address, per address); no device
    # cookie: a program's request carries none of ours.
    wait = throttle.claim_attempt(email, remote_addr, None)
    if wait is not None:
        log.info("throttled token request for %s from %s (%s s left)", email, remote_addr, wait)
        body, status = json_error(429, f"Too many failed sign-ins, try again in {throttle.describe_wait(wait)}.")
        return body, status, {"Retry-After": str(wait)}
    user = db.session.scalar(sa.select(User).where(User.email == email))
    ok = check_password(user, password)  # an unknown email takes as long as a wrong password
    if ok and user is not None and user.is_active and can(user, Perm.USE_API):
        return _issue(user, remote_addr)
    with db.write_transaction():  # the attempt stays counted
        record(user.company_id if user else None, user.id if user else None, "auth.token_failed", email,
               ip=remote_addr, reason="disabled" if ok and user is not None else "password")
    log.info("failed token request for %s from %s", email, remote_addr)
    body, status = json_error(401, WRONG_CREDENTIALS)
    return body, status, {"WWW-Authenticate": 'Bearer realm="api"'}


def _issue(user, remote_addr):
    """Forgive the counted attempt, audit, and answer the signed JWT."""
    with db.write_transaction():
        throttle.clear_failures(user.email, remote_addr, None)
        record(user.company_id, user.id, "auth.token", user.email, ip=remote_addr)
    token, expires_in = jwt_tokens.issue(user)
    return {"access_token": token, "token_type": "Bearer", "expires_in": expires_in}
