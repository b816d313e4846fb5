"""When the database cannot answer: 503 with Retry-After in the caller's format, never a 500.

A dropped connection, a PostgreSQL server going away or a SQLite file locked by a long
writer is the database's state, not a bug: the caller is told to try again (JSON for
the API, an htmx fragment for partials, the error page otherwise; a page form comes
back filled in, ready to send again). A read whose connection dropped mid-request, or a
deadlock victim, is run once more on a fresh transaction first (pool pre-ping already
replaces connections that died while idle in the pool).
"""
import logging

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from flask import g
from flask import has_request_context
from flask import render_template
from flask import request
from flask import url_for
from markupsafe import escape

from dashboard.db import db
from dashboard.db import is_deadlock
from dashboard.db import is_disconnect
from dashboard.db import is_unavailable
from dashboard.error_text import describe_error
from dashboard.errors import render_error
from dashboard.errors import wants_json
from dashboard.extensions import htmx

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
MESSAGE = "The database did not answer in time, so this was not done. Please try again in a few seconds."
# Errors that say "the database cannot be used right now".
UNAVAILABLE_ERRORS = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def init_app(app):
    """Answer database outages with 503 and retry reads whose connection dropped."""
    for error_class in UNAVAILABLE_ERRORS:
        app.register_error_handler(error_class, database_unavailable)
    if not sa.event.contains(so.Session, "after_commit", _note_commit):
        sa.event.listen(so.Session, "after_commit", _note_commit)
    preprocess = app.preprocess_request
    dispatch = app.dispatch_request

    def preprocess_running_again_once():
        # The before_request hooks read too (the signed-in user, the company in view): often the request's first
        # statement, the one that meets a connection the server dropped.
        return _run_again_once(preprocess)

    def dispatch_running_again_once():
        g._database_committed = False   # what the view commits (begin_write may end a read before it)
        return _run_again_once(dispatch)

    app.preprocess_request = preprocess_running_again_once
    app.dispatch_request = dispatch_running_again_once


def _run_again_once(step):
    """Run step (the before_request hooks or the view); after a dropped read or as a deadlock victim, run it again.

    Once per request: the hooks and the view share that one second chance.
    """
    try:
        return step()
    except sa.exc.DBAPIError as error:
        if g.get("_database_ran_again") or not _may_run_again(error):
            raise
        g._database_ran_again = True
        log.warning("%s on %s %s; running it again", "deadlock victim" if is_deadlock(error) else
                    "database connection dropped", request.method, request.path)
        db.discard_session()
        _reattach_request_user()
        if request.method not in _SAFE_METHODS:
            db.begin_write()
        return step()


def _reattach_request_user():
    """Put the request's signed-in user (session or bearer token) into the fresh session, for lazy loads."""
    for name in ("_login_user", "token_user"):
        user = g.get(name)
        if user is not None and sa.inspect(user, raiseerr=False) is not None:
            db.session.add(user)


def _note_commit(session):
    if has_request_context():
        g._database_committed = True


def _may_run_again(error):
    """True for a dropped read, or a deadlock victim (the database rolled its transaction back whole).

    Never after this request committed something, and never a write whose connection
    dropped: it may have reached the database.
    """
    if g.get("_database_committed"):
        return False
    return is_deadlock(error) or (request.method in _SAFE_METHODS and is_disconnect(error))


def database_unavailable(error):
    """503 with Retry-After, in the caller's format, for an error the database's state caused."""
    if not is_unavailable(error):   # e.g. SQLite's "no such table": a bug, answered as any other
        db.discard_session()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(500)
    db.discard_session()
    log.warning("database unavailable on %s %s: %s", request.method, request.path, describe_error(error))
    if "_login_user" not in g:
        # Rendering would load the signed-in user (Flask-Login's context processor) from the
        # database that just failed: the answer is drawn for an anonymous visitor instead.
        g._login_user = current_app.login_manager.anonymous_user()
    try:
        body, status = _answer()
    except Exception:   # rendering may need the database too (the signed-in user): a bare page then
        body, status = f"<!doctype html><title>503</title><p>{escape(MESSAGE)}</p>", 503
    return body, status, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def _answer():

    if wants_json() or (htmx and not htmx.history_restore_request):
        return render_error(503, MESSAGE)   # a fragment: htmx leaves the form on the page as typed
    fields = list(request.form.items(multi=True)) if request.method == "POST" else []
    return render_template("errors/unavailable.html", code=503, message=MESSAGE, fields=fields,
                           action=request.full_path.rstrip("?"), action_back=url_for("jobs.today")), 503
