"""The board's Acknowledge button (issue 19 §2): acknowledge a job's changes from its Changed badge.

POST only, CSRF-checked (htmx sends the page's token as X-CSRFToken; without script the
button submits the board page's #ack-form, which carries it). Editors only, and only
changes the service finds in their scope (changes.service.acknowledge).
"""
from flask import Blueprint
from flask import Response
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template_string
from flask import request
from flask import url_for
from flask_login import current_user

from dashboard import web
from dashboard.auth.loaders import safe_next
from dashboard.changes import service
from dashboard.db import db
from dashboard.guards import parse_id
from dashboard.permissions import Perm
from dashboard.permissions import require

bp = Blueprint("changes_board", __name__)
# The nav's count of open changes, swapped in out of band (templates/changes/_nav_count.html).
NAV_COUNT = '{% with oob = true %}{% include "changes/_nav_count.html" %}{% endwith %}'
MAX_IDS = 200   # one job's open changes: a handful; more is not a badge's request


def _change_ids():
    """The posted change ids ("change" fields, each one id or a comma-separated list); 422 when malformed."""
    ids = []
    for value in request.form.getlist("change"):
        for part in value.split(","):
            change_id = parse_id(part.strip())
            if change_id is None:
                abort(422, description="Send the change ids to acknowledge, e.g. change=12,13.")
            ids.append(change_id)
    if not ids or len(ids) > MAX_IDS:
        abort(422, description=f"Send between 1 and {MAX_IDS} change ids to acknowledge.")
    return sorted(set(ids))


@bp.post("/changes/board/acknowledge")
@require(Perm.EDIT_JOBS)
def acknowledge():
    """Acknowledge the posted changes; the live board redraws itself (HX-Trigger board-changed)."""
    done = service.acknowledge(_change_ids(), current_user)
    db.session.commit()
    if not done:
        # Already acknowledged by someone else, or not in this user's scope: nothing to do here
        # (an open board still redraws, so a badge someone else acknowledged goes).
        message = "No open change among these for you to acknowledge (already acknowledged?)."
        if web.wants_fragment():
            return Response(message, status=404, mimetype="text/plain", headers={"HX-Trigger": "board-changed"})
        abort(404, description=message)
    if web.wants_fragment():
        # Nothing to swap but the nav's open-changes count (out of band); the board redraws itself.
        nav_count = render_template_string(NAV_COUNT)
        return Response(nav_count, status=200, mimetype="text/html", headers={"HX-Trigger": "board-changed"})
    flash(f"Acknowledged {len(done)} change{'' if len(done) == 1 else 's'} from SmartMoving.", "success")
    return redirect(safe_next(request.form.get("next")) or safe_next(request.referrer and _path_of(request.referrer))
                    or url_for("jobs.today"))


def _path_of(url):
    """The path and query of one of our own URLs (the referrer), else None."""
    root = request.host_url.rstrip("/")
    return url[len(root):] if url.startswith(root + "/") else None
