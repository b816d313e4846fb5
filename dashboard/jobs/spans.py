"""A job's span: when its truck and crew are busy, in company-local time.

Span = arrival-window start on the service date, to start + SmartMoving's estimated
labour + travel time (`jobTime` in opportunity detail, hours) when it gives a labour
estimate, else DEFAULT_JOB_HOURS. Spans are naive local datetimes, like the arrival
windows they come from: a job is "08:00-12:00" whatever the server's zone.
"""
import re
from datetime import datetime
from datetime import time
from datetime import timedelta

FALLBACK_JOB_HOURS = 4.0
# Longer estimates are data errors (a week typed as hours); a span never covers more than a day.
MAX_SPAN_HOURS = 24.0


def default_job_hours():
    """DEFAULT_JOB_HOURS of the running app, or 4 outside one (pure unit tests, scripts)."""
    from flask import current_app
    from flask import has_app_context
    if has_app_context():
        return float(current_app.config.get("DEFAULT_JOB_HOURS", FALLBACK_JOB_HOURS))
    return FALLBACK_JOB_HOURS


def _hours(value):
    """A positive finite number of hours from SmartMoving's {"estimated": x}, else None."""
    if isinstance(value, dict):
        value = value.get("estimated")
    if value is None or isinstance(value, bool):
        return None
    try:
        hours = float(value)
    except (TypeError, ValueError):
        return None
    return hours if 0 < hours < 1000 else None


def job_hours(job_time, default_hours):
    """Labour + travel hours from a jobTime object, or default_hours without a labour estimate."""
    if not isinstance(job_time, dict):
        return float(default_hours)
    labour = _hours(job_time.get("laborTime"))
    if labour is None:
        return float(default_hours)
    return min(labour + (_hours(job_time.get("travelTime")) or 0.0), MAX_SPAN_HOURS)


def at_hour(day, hours):
    """The local datetime hours (e.g. 8.5) after midnight of day, to the minute."""
    return datetime.combine(day, time()) + timedelta(minutes=round(float(hours) * 60))


def compute_span(scheduled_date, arrival_start_hour, job_time=None, default_hours=None):
    """(start, end) of a job from its day, arrival start and jobTime; (None, None) without a start."""
    if scheduled_date is None or arrival_start_hour is None:
        return None, None
    try:
        start_hour = float(arrival_start_hour)
    except (TypeError, ValueError):
        return None, None
    if not 0 <= start_hour < 24:
        return None, None
    hours = job_hours(job_time, default_job_hours() if default_hours is None else default_hours)
    start = at_hour(scheduled_date, start_hour)
    return start, start + timedelta(minutes=round(hours * 60))


def span_for(job, default_hours=None):
    """The job's stored span, else one computed from its arrival start; (None, None) when it has no start."""
    if job.span_start is not None and job.span_end is not None:
        return job.span_start, job.span_end
    return compute_span(job.scheduled_date, job.arrival_start_hour, None, default_hours)


_CLOCK = re.compile(r"^\s*(\d{1,2})(?:[:.h](\d{2}))?\s*([ap])?\.?\s*m?\.?", re.IGNORECASE)


def parse_start_hour(window_text):
    """The start hour of a typed arrival window: "8:30 - 10:30" -> 8.5, "1 PM-3 PM" -> 13.0; None if unreadable."""
    match = _CLOCK.match(window_text or "")
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    suffix = (match.group(3) or "").lower()
    if minute > 59 or hour > 23 or (suffix and not 1 <= hour <= 12):
        return None
    if suffix == "p" and hour != 12:
        hour += 12
    elif suffix == "a" and hour == 12:
        hour = 0
    return hour + minute / 60


def board_day(day, day_start=None, day_end=None):
    """(start, end) of the working day the truck lanes show on day (BOARD_DAY_START/END, company time)."""
    from flask import current_app
    day_start = day_start or current_app.config["BOARD_DAY_START"]
    day_end = day_end or current_app.config["BOARD_DAY_END"]
    start_h, start_m = (int(part) for part in day_start.split(":"))
    end_h, end_m = (int(part) for part in day_end.split(":"))
    return at_hour(day, start_h + start_m / 60), at_hour(day, end_h + end_m / 60)


def clock(moment, day=None):
    """ "HH:MM" of moment; the midnight that ends day reads "24:00", not "00:00"."""
    if day is not None and moment.date() > day and moment.time() == time():
        return "24:00"
    return moment.strftime("%H:%M")
