"""One error renderer: JSON for the API, a fragment for htmx, a page otherwise. Never a traceback."""
import logging

from flask import render_template
from flask import request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from dashboard.api_paths import is_api_path
from dashboard.db import db
from dashboard.extensions import htmx

log = logging.getLogger(__name__)

ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "too_large",
    422: "invalid",
    428: "precondition_required",
    429: "too_many_requests",
    500: "server_error",
    503: "unavailable",
}

FRIENDLY = {
    400: "The request could not be understood.",
    401: "Please sign in.",
    403: "You do not have permission to do that.",
    404: "Not found.",
    405: "That method is not allowed here.",
    409: "That conflicts with work already under way.",
    413: "That upload is too large.",
    422: "Some input was not valid.",
    429: "Too many attempts; please wait and try again.",
    500: "Something went wrong on our side. It has been logged.",
    503: "The service is temporarily unavailable.",
}


def wants_json():
    """API paths, bearer callers and JSON-preferring clients get JSON errors."""
    if is_api_path(request.path) or request.headers.get("Authorization", "").startswith("Bearer "):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def json_error(code, message=None, **extra):
    """The API's error body: {"error": CODE, "message": TEXT}."""
    body = {"error": ERROR_CODES.get(code, "error"), "message": message or FRIENDLY.get(code, "Error.")}
    body.update(extra)
    return body, code


def render_error(code, message=None):
    """Answer an error in the form the caller asked for."""
    message = message or FRIENDLY.get(code, "Error.")
    if wants_json():
        return json_error(code, message)
    if htmx and not htmx.history_restore_request:
        return render_template("errors/_error.html", code=code, message=message), code
    return render_template("errors/error.html", code=code, message=message), code


def own_message(error):
    """The message of an HTTP error worth showing: ours, never werkzeug's stock text for the code."""
    if error.code not in (400, 404, 409, 422) or not error.description:
        return None
    if error.description == type(error).description:
        return None  # werkzeug's stock text ("The requested URL was not found…"): FRIENDLY's is clearer
    return error.description


def init_app(app):
    """Register the handlers on app."""

    @app.errorhandler(CSRFError)
    def handle_csrf(error):
        db.session.rollback()
        return render_error(400, "Your form expired or was not signed. Reload the page and try again.")

    @app.errorhandler(HTTPException)
    def handle_http(error):
        db.session.rollback()
        response = render_error(error.code or 500, own_message(error))
        if error.code == 405 and isinstance(response, tuple):
            return response[0], 405, {"Allow": ", ".join(error.valid_methods or [])}
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(error):
        # Roll back first: rendering the error page may otherwise auto-flush a broken session.
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(500)
