"""Session lifetime: an idle timeout and an absolute timeout, checked before every request.

The session carries `login_at` and `last_seen` (epoch seconds, set at sign-in). A
session past SESSION_IDLE_MINUTES of inactivity or SESSION_MAX_HOURS since sign-in
is cleared before Flask-Login loads a user from it, so the request runs anonymous
and the usual 302/401 answers apply. Background polling (board refresh, sync
progress) does not count as activity, or an open tab would never go idle.
"""
import time

from flask import current_app
from flask import flash
from flask import request
from flask import session

# htmx sends the id of the element that fired the request as HX-Trigger; these are pollers.
POLLING_TRIGGERS = frozenset({"board-live", "my-jobs-live", "sync-panel"})

LOGIN_AT = "login_at"
LAST_SEEN = "last_seen"


def start_session(now=None):
    """Stamp a freshly signed-in session (call right after login_user)."""
    now = now or time.time()
    session[LOGIN_AT] = now
    session[LAST_SEEN] = now


def expiry_reason(now=None):
    """Why the current session must end ('idle' or 'expired'), or None while it is valid."""
    now = now or time.time()
    login_at = session.get(LOGIN_AT)
    last_seen = session.get(LAST_SEEN)
    if not isinstance(login_at, (int, float)) or not isinstance(last_seen, (int, float)):
        return "expired"  # a signed-in session we did not stamp: treat as too old
    config = current_app.config
    if now - login_at > config["SESSION_MAX_HOURS"] * 3600:
        return "expired"
    if now - last_seen > config["SESSION_IDLE_MINUTES"] * 60:
        return "idle"
    return None


def is_polling_request():
    """True for the background refreshes that must not keep a session alive."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Trigger") in POLLING_TRIGGERS


def enforce_session_timeouts():
    """before_request hook: end stale sessions, refresh last_seen on real activity."""
    if request.endpoint == "static" or "_user_id" not in session:
        return None
    now = time.time()
    reason = expiry_reason(now)
    if reason is not None:
        session.clear()
        # Flashed for htmx polls too: their 401 sends the browser to the sign-in page, which shows why.
        flash("You were signed out after a period of inactivity." if reason == "idle"
              else "Your session has ended; please sign in again.", "info")
        return None
    if not is_polling_request() and now - session[LAST_SEEN] >= 15:
        # Rewriting the cookie at most every 15 s keeps responses cacheable-ish and quiet.
        session[LAST_SEEN] = now
    return None
