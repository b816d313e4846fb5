"""What "today" means: always in the company's zone, never the server's."""
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo


def company_today(tz_name, now=None):
    """The calendar date in zone tz_name at instant now (aware, default: the current instant)."""
    now = now or datetime.now(UTC)
    return now.astimezone(ZoneInfo(tz_name)).date()


def day_window(start):
    """The sync window for start: that day and the next."""
    return start, start + timedelta(days=1)


# The days a board, a sync or a report may ask for. Far inside date's own limits, so
# "the next day" or "the week around it" never overflows, and no typo like 0202-01-01
# reaches SmartMoving as a real request.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)


def in_day_range(day):
    """True when day lies within FIRST_DAY..LAST_DAY."""
    return FIRST_DAY <= day <= LAST_DAY


def parse_iso_date(text):
    """Parse YYYY-MM-DD strictly; None when it is not such a date or lies outside FIRST_DAY..LAST_DAY."""
    text = str(text).strip()
    if len(text) != 10 or not text.isascii():
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if in_day_range(day) else None


def as_utc_iso(naive_utc):
    """Render a stored naive-UTC timestamp as ISO 8601 with a Z, or None."""
    if naive_utc is None:
        return None
    return naive_utc.replace(microsecond=0).isoformat() + "Z"


def clock_hours(text):
    """Fractional hours of "HH:MM" ("07:30" -> 7.5); ValueError unless it is two whole numbers around a colon.

    Checks nothing else: validate with config.parse_clock first where the range matters.
    """
    hours, minutes = text.split(":")
    return int(hours) + int(minutes) / 60
