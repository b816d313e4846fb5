"""What "today" means: always in the company's zone, never the server's."""
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from zoneinfo import ZoneInfo


def company_today(tz_name, now=None):
    """The calendar date in zone tz_name at instant now (aware, default: the current instant)."""
    now = now or datetime.now(timezone.utc)
    return now.astimezone(ZoneInfo(tz_name)).date()


def day_window(start):
    """The sync window for start: that day and the next."""
    return start, start + timedelta(days=1)


def parse_iso_date(text):
    """Parse YYYY-MM-DD strictly; None when it is not such a date."""
    try:
        return date.fromisoformat(str(text).strip()) if len(str(text).strip()) == 10 else None
    except ValueError:
        return None


def as_utc_iso(naive_utc):
    """Render a stored naive-UTC timestamp as ISO 8601 with a Z, or None."""
    if naive_utc is None:
        return None
    return naive_utc.replace(microsecond=0).isoformat() + "Z"
