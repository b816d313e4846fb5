"""Views of the auth area: sign in, sign out, change password."""
import logging

import sqlalchemy as sa
from flask import Blueprint
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_login import current_user
from flask_login import login_user
from flask_login import logout_user

from dashboard import demo
from dashboard.audit.trail import record
from dashboard.auth import throttle
from dashboard.auth.forms import LoginForm
from dashboard.auth.forms import PasswordChangeForm
from dashboard.auth.loaders import safe_next
from dashboard.auth.loaders import token_user
from dashboard.auth.passwords import check_password
from dashboard.auth.passwords import hash_password
from dashboard.auth.passwords import needs_rehash
from dashboard.auth.reauth import confirm_password
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

bp = Blueprint("auth", __name__)

log = logging.getLogger(__name__)

GENERIC_FAILURE = "That email and password do not match an active account."

HTTPS_EXPECTED = "This server expects HTTPS (set COOKIE_SECURE=false for local trials)."


def expect_https_for_sign_in():
    """A sign-in over plain HTTP whose browser kept no session cookie because it is Secure: say so.

    The CSRF token lives in that session, so the form would otherwise always fail as
    "expired". Only when the cookie is missing: behind a TLS proxy without
    TRUSTED_PROXIES the request looks insecure, yet the browser sends the cookie and
    signs in as usual.
    """
    config = current_app.config
    if (request.endpoint != "auth.login" or request.method != "POST" or request.is_secure
            or not config.get("SESSION_COOKIE_SECURE") or config["SESSION_COOKIE_NAME"] in request.cookies):
        return None
    log.warning("sign-in over plain HTTP while COOKIE_SECURE is on: the browser cannot keep the session cookie")
    return _login_page(LoginForm(), HTTPS_EXPECTED, 400)


def _home():
    return url_for("jobs.today")


def _login_page(form, error=None, status=200, headers=None):
    """The sign-in page; in demo mode it lists the demo accounts (never outside demo mode)."""
    demo_mode = current_app.config["DEMO_MODE"]
    return render_template("auth/login.html", form=form, error=error,
                           demo_accounts=demo.demo_accounts() if demo_mode else None,
                           demo_password=demo.DEMO_PASSWORD if demo_mode else None), status, headers or {}


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """Sign in with email and password; refuses politely while throttled."""
    if current_user.is_authenticated and request.method == "GET":
        return redirect(safe_next(request.args.get("next")) or _home())
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    if form.validate_on_submit():
        return _attempt_sign_in(form)
    return _login_page(form, status=422 if request.method == "POST" else 200)


def _attempt_sign_in(form):
    """Count the attempt (atomically, per account), then check the password: sign in, 401 or 429."""
    email = form.email.data.strip().lower()
    remote_addr = request.remote_addr
    device = throttle.device_for(request, email)
    wait = throttle.claim_attempt(email, remote_addr, device)
    if wait is not None:
        log.info("throttled sign-in for %s from %s (%s s left)", email, remote_addr, wait)
        return _login_page(form, f"Too many failed sign-ins, try again in {throttle.describe_wait(wait)}.",
                           429, {"Retry-After": str(wait)})
    user = db.session.scalar(sa.select(User).where(User.email == email))
    ok = check_password(user, form.password.data)  # an unknown email takes as long as a wrong password
    if ok and user is not None and user.is_active:
        return _complete_login(user, form, remote_addr, device)
    with db.write_transaction():  # the attempt stays counted
        record(user.company_id if user else None, user.id if user else None, "auth.login_failed", email,
               ip=remote_addr, reason="disabled" if ok and user is not None else "password")
    log.info("failed sign-in for %s from %s", email, remote_addr)
    return _login_page(form, GENERIC_FAILURE, 401)


def _complete_login(user, form, remote_addr, device):
    """Regenerate the session, sign user in, stamp the timeouts and go where they were heading."""
    db.begin_write()
    user = db.session.get(User, user.id)
    throttle.clear_failures(user.email, remote_addr, device)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(form.password.data)
    user.last_login_at = utcnow()
    record(user.company_id, user.id, "auth.login", user.email, ip=remote_addr)
    db.session.commit()
    session.clear()  # a new session on authentication (no fixation)
    login_user(user)
    start_session()
    return throttle.remember_device(redirect(safe_next(form.next.data) or _home()), user.email, device)


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
    """Change one's own password (the current one checked and throttled like sign-in); other sessions end."""
    form = PasswordChangeForm()
    status = 200
    headers = {}
    if form.validate_on_submit():
        user = db.session.get(User, current_user.id)
        check = confirm_password(user, form.current_password.data, "password change")
        if not check.ok:
            form.current_password.errors.append(check.message)
            status, headers = (429, {"Retry-After": str(check.wait)}) if check.wait else (422, {})
        else:
            db.begin_write()
            user = db.session.get(User, current_user.id)
            try:
                set_password(user, form.new_password.data)
            except UserError as exc:
                db.session.rollback()
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
    return render_template("auth/password.html", form=form), status, headers
