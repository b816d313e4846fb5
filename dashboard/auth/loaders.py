"""How a request finds its user: the session cookie or an API bearer token."""
from flask import jsonify
from flask import redirect
from flask import request
from flask import url_for
from urllib.parse import urlsplit

import sqlalchemy as sa

from dashboard.db import db
from dashboard.extensions import htmx
from dashboard.extensions import login_manager
from dashboard.models import User


def safe_next(target):
    """Keep a post-login redirect on this site: a path, never another host."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def init_app(app):
    """Wire Flask-Login's loaders and its unauthorized answer."""
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(session_token):
        user = db.session.scalar(sa.select(User).where(User.session_token == session_token))
        return user if user is not None and user.is_active else None

    @login_manager.request_loader
    def load_user_from_bearer(req):
        header = req.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        from dashboard.auth.tokens import user_for_token
        return user_for_token(header[len("Bearer "):].strip())

    @login_manager.unauthorized_handler
    def unauthorized():
        if request.path.startswith("/api/") or request.headers.get("Authorization"):
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
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
