"""Views of the auth area: sign in, sign out, change password."""
import logging

import sqlalchemy as sa
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_login import current_user
from flask_login import login_user
from flask_login import logout_user

from dashboard.audit.trail import record
from dashboard.auth import bp
from dashboard.auth import throttle
from dashboard.auth.forms import LoginForm
from dashboard.auth.forms import PasswordChangeForm
from dashboard.auth.loaders import safe_next
from dashboard.auth.loaders import token_user
from dashboard.auth.passwords import hash_password
from dashboard.auth.passwords import needs_rehash
from dashboard.auth.passwords import verify_password
from dashboard.auth.session import enforce_session_timeouts
from dashboard.auth.session import start_session
from dashboard.auth.users import UserError
from dashboard.auth.users import end_sessions
from dashboard.auth.users import set_password
from dashboard.db import db
from dashboard.models import AuditEvent
from dashboard.models import User
from dashboard.models import utcnow
from dashboard.permissions import public
from dashboard.permissions import require_login

log = logging.getLogger(__name__)

GENERIC_FAILURE = "That email and password do not match an active account."

# Verifying against a real hash for unknown emails keeps their timing like a wrong password's.
_DUMMY_HASH = None

bp.before_app_request(enforce_session_timeouts)


def _dummy_hash():
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password("not-a-real-password-at-all")
    return _DUMMY_HASH


def _home():
    return url_for("jobs.today")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """Sign in with email and password; refuses politely while throttled."""
    if current_user.is_authenticated and request.method == "GET":
        return redirect(safe_next(request.args.get("next")) or _home())
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    status = 200
    error = None
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        remote_addr = request.remote_addr
        wait = throttle.seconds_locked(email, remote_addr, known_device=throttle.known_device_for(request, email))
        if wait is not None:
            log.info("throttled sign-in for %s from %s (%s s left)", email, remote_addr, wait)
            error = f"Too many failed sign-ins, try again in {throttle.describe_wait(wait)}."
            return render_template("auth/login.html", form=form, error=error), 429, {"Retry-After": str(wait)}
        user = db.session.scalar(sa.select(User).where(User.email == email))
        ok = verify_password(user.password_hash if user else _dummy_hash(), form.password.data)
        if ok and user is not None and user.is_active:
            return _complete_login(user, form, remote_addr)
        throttle.record_failure(email, remote_addr)
        record(user.company_id if user else None, user.id if user else None, "auth.login_failed", email,
               ip=remote_addr, reason="disabled" if ok and user is not None else "password")
        db.session.commit()
        log.info("failed sign-in for %s from %s", email, remote_addr)
        error = GENERIC_FAILURE
        status = 401
    elif request.method == "POST":
        status = 422
    return render_template("auth/login.html", form=form, error=error), status


def _complete_login(user, form, remote_addr):
    """Regenerate the session, sign user in, stamp the timeouts and go where they were heading."""
    throttle.clear_failures(user.email, remote_addr)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(form.password.data)
    user.last_login_at = utcnow()
    record(user.company_id, user.id, "auth.login", user.email, ip=remote_addr)
    db.session.commit()
    session.clear()  # a new session on authentication (no fixation)
    login_user(user)
    start_session()
    return throttle.remember_device(redirect(safe_next(form.next.data) or _home()), user.email)


@bp.post("/logout")
@public
def logout():
    """Sign out (POST with CSRF only): the session ends on the server too, not just in this browser."""
    if current_user.is_authenticated and token_user() is None:
        # Rotating the session token kills this cookie and every copy of it (and the
        # user's other browsers: one token per user is what the cookie carries).
        user = db.session.get(User, current_user.id)
        end_sessions(user)
        record(user.company_id, user.id, "auth.logout", user.email)
        db.session.commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@require_login
def password():
    """Change one's own password; every other session of this user ends."""
    form = PasswordChangeForm()
    status = 200
    if form.validate_on_submit():
        user = db.session.get(User, current_user.id)
        if not verify_password(user.password_hash, form.current_password.data):
            form.current_password.errors.append("That is not your current password.")
            status = 422
        else:
            try:
                set_password(user, form.new_password.data)
            except UserError as exc:
                form.new_password.errors.append(str(exc))
                status = 422
            else:
                db.session.add(AuditEvent(company_id=user.company_id, user_id=user.id, action="user.password",
                                          target=user.email))
                db.session.commit()
                # The old session token is dead everywhere; sign this browser back in with the new one.
                session.clear()
                login_user(user)
                start_session()
                flash("Password changed. Other devices have been signed out.", "success")
                return redirect(_home())
    elif request.method == "POST":
        status = 422
    return render_template("auth/password.html", form=form), status
