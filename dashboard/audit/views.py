"""Pages of the audit area: the trail of changes, sign-ins and manual syncs, and its CSV export."""
import csv
import io

from flask import Blueprint
from flask import Response
from flask import abort
from flask import render_template
from flask import request
from flask_login import current_user

from dashboard import web
from dashboard.audit import trail
from dashboard.guards import parse_id
from dashboard.jobs.export import safe_cell
from dashboard.permissions import Perm
from dashboard.permissions import Scope
from dashboard.permissions import require
from dashboard.permissions import scope_of
from dashboard.timeutil import parse_iso_date

bp = Blueprint("audit", __name__)


def _filters():
    """The page's GET filters: day (400 when malformed), user and job (ignored when not in scope)."""
    raw_day = (request.args.get("day") or "").strip()
    day = parse_iso_date(raw_day) if raw_day else None
    if raw_day and day is None:
        abort(400, description="Use a day like 2025-01-31, between 2000 and 2099.")
    users = trail.users_in_scope(current_user)
    user_id = parse_id(request.args.get("user") or "")
    user = next((u for u in users if u.id == user_id), None)
    job_text = (request.args.get("job") or "").strip()[:40]
    job_ids = trail.job_ids_matching(current_user, job_text) if job_text else None
    return dict(day=day, user=user, job=job_text, job_ids=job_ids, users=users)


def _query(filters):
    return {k: v for k, v in (("day", filters["day"].isoformat() if filters["day"] else ""),
                              ("user", filters["user"].id if filters["user"] else ""),
                              ("job", filters["job"])) if v}


@bp.get("")
@require(Perm.VIEW_AUDIT)
def index():
    """Who changed what and when, sign-ins and manual syncs, newest first."""
    filters = _filters()
    rows = trail.events_for(current_user, filters["day"], web.user_timezone(), filters["user"], filters["job_ids"])
    return render_template("audit/index.html", rows=rows, filters=filters, query=_query(filters),
                           limit=trail.PAGE_LIMIT, describe=trail.describe_changes,
                           show_company=scope_of(current_user) is Scope.ALL_COMPANIES)


@bp.get("/export.csv")
@require(Perm.VIEW_AUDIT)
def export_csv():
    """The filtered trail as CSV (spreadsheet formulas neutralised)."""
    filters = _filters()
    rows = trail.events_for(current_user, filters["day"], web.user_timezone(), filters["user"], filters["job_ids"],
                            limit=trail.EXPORT_LIMIT)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["When", "Company", "Who", "Action", "Target", "Changes"])
    for event, actor in rows:
        writer.writerow([safe_cell(cell) for cell in (
            web.format_datetime(event.at), event.company_id or "", actor.email if actor else "", event.action,
            event.target or "", "; ".join(trail.describe_changes(event.detail)))])
    name = f"audit-{filters['day'].isoformat()}.csv" if filters["day"] else "audit.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
