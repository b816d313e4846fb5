"""How a request finds its user: the session cookie or a bearer token (an opaque API token or a JWT).

A request that carries an Authorization header is judged by that header alone: a
valid bearer token signs it in (and exempts it from CSRF, since no browser attaches
it on its own); anything else is a 401, never a fall-back to the session cookie.
"""
import functools
from urllib.parse import urlsplit

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import g
from flask import jsonify
from flask import redirect
from flask import request
from flask import url_for

from dashboard.api_paths import is_api_path
from dashboard.auth import jwt_tokens
from dashboard.auth.jwt_tokens import TokenRejected
from dashboard.auth.tokens import token_row
from dashboard.auth.tokens import touch
from dashboard.db import db
from dashboard.extensions import htmx
from dashboard.extensions import login_manager
from dashboard.models import User


def token_user():
    """The user a valid bearer token signed this request in as, or None (cookie or anonymous)."""
    return g.get("token_user")


def authenticate_authorization_header():
    """before_request: a present Authorization header must be a live bearer token, else 401 JSON."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, credentials = header.partition(" ")
    try:
        user = bearer_user(credentials.strip()) if scheme.lower() == "bearer" else None
    except TokenRejected as rejected:
        return _bearer_refused(str(rejected))
    if user is None:
        return _bearer_refused("The Authorization header does not carry a valid API token.")
    g.token_user = user
    return None


def bearer_user(credentials):
    """The user of a live bearer credential (a JWT from /auth/token or an opaque API token), or None.

    A JWT that is expired or revoked raises TokenRejected, whose message says so.
    """
    if jwt_tokens.looks_like_jwt(credentials):
        return jwt_tokens.user_for(credentials)
    row = token_row(credentials)
    if row is None:
        return None
    touch(row)
    return row.user


def _bearer_refused(message):
    response = jsonify(error="unauthorized", message=message)
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def safe_next(target):
    """Keep a post-login redirect on this site: a path, never another host."""
    if not target:
        return None
    try:
        parts = urlsplit(target)
    except ValueError:  # e.g. "//[" (a broken IPv6 host): not a path of ours either
        return None
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


@functools.cache   # built once: every request of a signed-in browser runs it
def _user_by_session_token():
    """The user of a session token, with their company: every page reads its timezone (one query, not two)."""
    return (sa.select(User).options(so.joinedload(User.company))
            .where(User.session_token == sa.bindparam("token", type_=sa.String)))


def init_app(app):
    """Wire Flask-Login's loaders and its unauthorized answer."""
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(session_token):
        if token_user() is not None:
            return None  # the bearer token decides; the cookie is ignored
        if not isinstance(session_token, str):
            return None
        user = db.session.scalar(_user_by_session_token(), {"token": session_token})
        return user if user is not None and user.is_active else None

    @login_manager.request_loader
    def load_user_from_bearer(req):
        return token_user()

    @login_manager.unauthorized_handler
    def unauthorized():
        if is_api_path(request.path) or request.headers.get("Authorization"):
            response = jsonify(error="unauthorized", message="Sign in or send a valid API token.")
            response.status_code = 401
            return response
        if htmx:
            # An htmx request must not swap the login page into a widget: send the
            # whole browser to sign in, coming back to the page (not the fragment).
            current = safe_next(_path_of(htmx.current_url)) or "/"
            response = app.response_class("", status=401)
            response.headers["HX-Redirect"] = url_for("auth.login", next=current)
            return response
        return redirect(url_for("auth.login", next=safe_next(request.full_path.rstrip("?"))))


def _path_of(url):
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")
