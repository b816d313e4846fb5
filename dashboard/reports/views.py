"""Views of the reports area: the page and a CSV of each of its tables."""
from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from markupsafe import Markup

from dashboard import web
from dashboard.jobs.queries import locations_for
from dashboard.models import utcnow
from dashboard.permissions import Perm
from dashboard.permissions import can
from dashboard.permissions import require
from dashboard.reports.page_cache import rendered_report
from dashboard.reports.page_cache import report_key
from dashboard.reports.params import RangeError
from dashboard.reports.params import default_range
from dashboard.reports.params import parse_range
from dashboard.reports.params import presets
from dashboard.reports.report import TABLE_NAMES
from dashboard.reports.report import build_report
from dashboard.reports.tables import rows_html
from dashboard.reports.tables import to_csv

bp = Blueprint("reports", __name__)
bp.add_app_template_filter(rows_html, "report_rows")

# Above this many per day and location rows, the page links the CSV instead of drawing them.
MAX_INLINE_ROWS = 500


def _requested_range(locations):
    return parse_range(request.args.get("from"), request.args.get("to"), request.args.get("location"),
                       {loc.id for loc in locations}, web.user_today())


def _preset_links(report_range, location_id):
    """[(Preset, its URL, whether it is the range shown)]: the quick ranges, keeping the location filter."""
    links = []
    for preset in presets(web.user_today()):
        args = {"from": preset.start.isoformat(), "to": preset.end.isoformat()}
        if location_id is not None:
            args["location"] = location_id
        shown = report_range is not None and (report_range.start, report_range.end) == (preset.start, preset.end)
        links.append((preset, url_for("reports.index", **args), shown))
    return links


def _clock(hours):
    """7.5 -> '07:30'."""
    minutes = round(hours * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _report_html(report_range, locations, show_money, query):
    """The page's report part: rendered once per data version and viewer (page_cache), else built now."""
    config = current_app.config
    key, versions = report_key(current_user, report_range, locations, show_money, config, utcnow(),
                               extra=(MAX_INLINE_ROWS,))

    def render():
        report = build_report(current_user, report_range, locations, config, show_money,
                              day_location_limit=MAX_INLINE_ROWS, versions=versions)
        return Markup(render_template(
            "reports/_report.html", report=report, query=query, show_money=show_money,
            max_inline_rows=MAX_INLINE_ROWS, day_open=_clock(config["BOARD_DAY_HOURS"][0]),
            day_close=_clock(config["BOARD_DAY_HOURS"][1])))
    return rendered_report(key, render)


@bp.get("/")
@require(Perm.VIEW_REPORTS)
def index():
    """Totals, dispatch health, utilisation and trends over a date range (money for financial roles)."""
    locations = locations_for(current_user)
    show_money = can(current_user, Perm.VIEW_FINANCIAL)
    try:
        report_range = _requested_range(locations)
    except RangeError as error:
        fallback = default_range(web.user_today())
        form = {"from": request.args.get("from") or fallback.start.isoformat(),
                "to": request.args.get("to") or fallback.end.isoformat(), "location": None}
        return render_template("reports/index.html", error=str(error), form=form, locations=locations,
                               show_money=show_money, report=None, query={},
                               preset_links=_preset_links(None, None)), 422
    query = {"from": report_range.start.isoformat(), "to": report_range.end.isoformat()}
    if report_range.location_id is not None:
        query["location"] = report_range.location_id
    response = current_app.make_response(render_template(
        "reports/index.html", error=None, form=dict(query, location=report_range.location_id), query=query,
        locations=locations, show_money=show_money, report_range=report_range,
        report_html=_report_html(report_range, locations, show_money, query),
        preset_links=_preset_links(report_range, report_range.location_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/export/<name>.csv")
@require(Perm.VIEW_REPORTS)
def export_csv(name):
    """One table of the page as CSV, for the same range and location."""
    if name not in TABLE_NAMES:
        abort(404)
    locations = locations_for(current_user)
    try:
        report_range = _requested_range(locations)
    except RangeError as error:
        abort(422, description=str(error))
    # Only the per day and location CSV needs that table's rows: the others skip reading them.
    report = build_report(current_user, report_range, locations, current_app.config,
                          can(current_user, Perm.VIEW_FINANCIAL),
                          day_location_limit=None if name == "day-locations" else 0)
    table = report.tables.get(name)
    if table is None:
        abort(404)  # a money-only table for a role that may not see money
    filename = f"{name}-{report_range.start.isoformat()}-to-{report_range.end.isoformat()}.csv"
    return Response(to_csv(table), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})
