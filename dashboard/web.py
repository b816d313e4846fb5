"""Helpers shared by the server-rendered pages: page-or-fragment rendering, dates, template filters."""
import functools
import hashlib
from datetime import UTC
from datetime import timedelta
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

from flask import current_app
from flask import make_response
from flask import render_template
from flask import request
from flask_login import current_user
from markupsafe import Markup
from markupsafe import escape

from dashboard.db import db
from dashboard.extensions import htmx
from dashboard.formatting import label
from dashboard.formatting import money
from dashboard.models import Company
from dashboard.models import utcnow
from dashboard.permissions import Scope
from dashboard.permissions import chosen_company_id
from dashboard.permissions import scope_of
from dashboard.timeutil import company_today


def wants_fragment():
    """True for an htmx swap; boosted links and history restores need the whole page."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def etag_of(value):
    """A short tag of value (by its repr) for a polled part's ETag."""
    return hashlib.sha256(repr(value).encode()).hexdigest()[:32]


def not_modified(etag):
    """A 304 carrying etag when the request already holds it (a poll of an unchanged part), else None."""
    if not request.if_none_match.contains(etag):
        return None
    response = current_app.response_class(status=304)
    response.set_etag(etag)
    return response


def render_page_or_fragment(page, fragment, status=200, **context):
    """Render fragment for an htmx swap, page otherwise; either way caches must key on HX-Request."""
    template = fragment if wants_fragment() else page
    response = make_response(render_template(template, **context), status)
    response.headers["Vary"] = "HX-Request"
    return response


def user_timezone(user=None):
    """The IANA zone of the company in view: what "today" and clock times mean on this page.

    The user's own company, or for a super admin the company picked (?company=ID or the switcher):
    a super admin switched to a company on another coast sees that company's today, as its staff do.
    """
    user = user or current_user
    company = getattr(user, "company", None)
    chosen = chosen_company_id() if scope_of(user) is Scope.ALL_COMPANIES else None
    if chosen is not None and (company is None or chosen != company.id):
        company = db.session.get(Company, chosen)
    return company.timezone if company is not None else "UTC"


def user_today(user=None):
    """Today in the user's company zone, never the server's."""
    return company_today(user_timezone(user))


def to_local(naive_utc, tz_name=None):
    """A stored naive-UTC timestamp as an aware datetime in tz_name (default: the user's company zone)."""
    if naive_utc is None:
        return None
    return naive_utc.replace(tzinfo=UTC).astimezone(ZoneInfo(tz_name or user_timezone()))


def minutes_since(naive_utc, now=None):
    """Whole minutes elapsed since a stored timestamp, or None."""
    if naive_utc is None:
        return None
    return max(0, int(((now or utcnow()) - naive_utc).total_seconds() // 60))


def format_ago(naive_utc):
    """'just now', '4 min ago', '2 h 5 min ago', '3 days ago'."""
    minutes = minutes_since(naive_utc)
    if minutes is None:
        return "never"
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest} min ago" if rest else f"{hours} h ago"
    return f"{minutes // (24 * 60)} days ago"


def format_clock(naive_utc):
    """HH:MM in the user's company zone."""
    local = to_local(naive_utc)
    return local.strftime("%H:%M") if local else ""


def format_datetime(naive_utc):
    """YYYY-MM-DD HH:MM in the user's company zone."""
    local = to_local(naive_utc)
    return local.strftime("%Y-%m-%d %H:%M") if local else ""


def format_day(day):
    """'Tue 14 Jan 2025'."""
    return day.strftime("%a %d %b %Y") if day else ""


def duration(start, end=None):
    """'1 min 20 s' between two naive-UTC instants (end default now)."""
    if start is None:
        return ""
    seconds = int(((end or utcnow()) - start) / timedelta(seconds=1))
    minutes, seconds = divmod(max(seconds, 0), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


# The helpers below run for every job drawn (board rows, cards, job pages, My jobs): as
# Python functions they cost a fraction of a Jinja macro call, and they escape as a template would.

@functools.lru_cache(maxsize=512)   # a board has a handful of distinct chips, drawn for every job
def chip(value, kind="status"):
    """A coloured status chip, e.g. chip('EN_ROUTE', 'dispatch')."""
    if not value:
        return Markup("")
    return Markup('<span class="chip chip-{kind} chip-{css}">{text}</span>').format(
        kind=kind, css=str(value).lower(), text=label(value))


_SYNC_BADGES = {"PENDING": "Details pending", "FAILED": "Sync failed", "REMOVED": "Removed in SmartMoving"}


def sync_badge(job):
    """A badge when a job is not fully synced (pending, failed or removed upstream)."""
    text = _SYNC_BADGES.get(job.sync_status)
    if text is None:
        return Markup("")
    return Markup('<span class="badge badge-sync-{css}" title="{title}">{text}</span>').format(
        css=job.sync_status.lower(), title=job.sync_error or "", text=text)


def crew_list(job):
    """The job's crew, marked when it is SmartMoving's rather than ours."""
    crew = job.effective_crew
    if not crew:
        return Markup('<span class="missing">No crew</span>')
    names = escape(", ".join(str(name) for name in crew))
    return names if job.crew else names + Markup(' <span class="muted">(SmartMoving)</span>')


def map_link(address):
    """A Google Maps search URL for address."""
    return "https://www.google.com/maps/search/?api=1&query=" + quote_plus(address)


def format_phone(phone):
    """'4165550199' -> '(416) 555-0199'; anything not a North American number is shown as given."""
    if not phone:
        return ""
    digits = "".join(ch for ch in str(phone) if ch.isdigit())
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    if len(digits) == 10:
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return str(phone)


# The names templates know these helpers by.
TEMPLATE_FILTERS = {
    "ago": format_ago,
    "money": money,   # cents
    "clock": format_clock,
    "local_datetime": format_datetime,
    "day": format_day,
    "label": label,
    "phone": format_phone,
}
TEMPLATE_GLOBALS = {
    "map_link": map_link,
    "duration": duration,
    "chip": chip,
    "sync_badge": sync_badge,
    "crew_list": crew_list,
    "user_timezone": user_timezone,
}
