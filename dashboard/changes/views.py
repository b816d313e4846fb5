"""The changes page (/changes): what SmartMoving changed in dispatched jobs, and acknowledging it.

Dispatchers and up see their locations' changes (VIEW_JOBS); acknowledging needs
EDIT_JOBS and is a POST with CSRF (htmx swaps the list in place; without JavaScript
the form posts and the page comes back). Money changes are shown to financial roles only.
"""
from flask import Blueprint
from flask import abort
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from dashboard.changes import readiness_check  # noqa: F401  (registers the upstream-change blocker)
from dashboard.changes import service
from dashboard.changes.describe import source_id
from dashboard.changes.describe import source_text
from dashboard.changes.models import FINANCIAL_KINDS
from dashboard.changes.models import KINDS
from dashboard.db import db
from dashboard.guards import parse_id
from dashboard.permissions import Perm
from dashboard.permissions import can
from dashboard.permissions import require
from dashboard.timeutil import parse_iso_date

bp = Blueprint("changes", __name__)


@bp.app_context_processor
def _nav_badge():
    """open_changes_count() for the nav: counted once per request, only when a template asks."""
    def open_changes_count():
        if "open_changes_count" not in g:
            g.open_changes_count = service.open_count(current_user) if can(current_user, Perm.VIEW_JOBS) else 0
        return g.open_changes_count
    return {"open_changes_count": open_changes_count}


def _filters(source):
    """(day, kind, error) from a request's fields; a malformed day is an error, an unknown kind is ignored."""
    raw_day = (source.get("day") or "").strip()
    day = parse_iso_date(raw_day) if raw_day else None
    error = "Use a day like 2025-01-31, between 2000 and 2099." if raw_day and day is None else None
    return day, service.parse_kind(source.get("kind")), error


def _kinds():
    """The kinds the filter offers this user (money only for financial roles)."""
    return [kind for kind in KINDS if kind not in FINANCIAL_KINDS or can(current_user, Perm.VIEW_FINANCIAL)]


def _render(day, kind, error=None, acknowledged=None, status=200):
    """The page, or only its list for an htmx request."""
    rows = service.visible_changes(current_user, day=day, kind=kind)
    names = service.acknowledger_names([change for change, _, _ in rows])
    context = dict(rows=rows, names=names, day=day, kind=kind, kinds=_kinds(), error=error,
                   acknowledged=acknowledged, limit=service.LIST_LIMIT,
                   can_ack=can(current_user, Perm.EDIT_JOBS), source_text=source_text, source_id=source_id,
                   shown_open=[change.id for change, _, _ in rows if change.acknowledged_at is None])
    if request.headers.get("HX-Request"):
        # The nav's count is outside the swapped list: sent along out of band.
        return render_template("changes/_list.html", oob_badge=True, **context), status
    return render_template("changes/index.html", **context), status


@bp.get("/changes")
@require(Perm.VIEW_JOBS)
def index():
    """Changes in the user's locations: unacknowledged first, filtered by day and kind."""
    day, kind, error = _filters(request.args)
    return _render(day, kind, error, status=422 if error else 200)


def _back(day, kind, acknowledged):
    """After an acknowledgement: the list again (htmx) or a redirect to the filtered page."""
    if request.headers.get("HX-Request"):
        return _render(day, kind, acknowledged=acknowledged)
    query = {k: v for k, v in (("day", day.isoformat() if day else ""), ("kind", kind or "")) if v}
    return redirect(url_for("changes.index", **query))


@bp.post("/changes/<int:change_id>/ack")
@require(Perm.EDIT_JOBS)
def acknowledge_one(change_id):
    """Acknowledge one change (404 when the user cannot see it)."""
    if service.find_visible(change_id, current_user) is None:
        abort(404)
    done = service.acknowledge([change_id], current_user)
    db.session.commit()
    day, kind, _ = _filters(request.form)
    return _back(day, kind, len(done))


@bp.post("/changes/ack")
@require(Perm.EDIT_JOBS)
def acknowledge_shown():
    """Acknowledge every change the page showed (their ids come with the form; others are ignored)."""
    ids = [parse_id(raw) for raw in request.form.getlist("ids")[:service.LIST_LIMIT]]
    if not ids or None in ids:
        abort(400, description="Send the ids of the changes to acknowledge.")
    done = service.acknowledge(ids, current_user)
    db.session.commit()
    day, kind, _ = _filters(request.form)
    return _back(day, kind, len(done))
