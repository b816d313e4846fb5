"""The reports' date range and location filter, validated the same way for page, CSV and JSON."""
from dataclasses import dataclass
from datetime import date
from datetime import timedelta

from dashboard.timeutil import parse_iso_date

MAX_DAYS = 366
# The default view: the last four weeks (today included) and the next two days.
DEFAULT_PAST_DAYS = 27
DEFAULT_FUTURE_DAYS = 2
# Outside these years a date is a typo, and eve/morning arithmetic could overflow.
EARLIEST = date(1990, 1, 1)
LATEST = date(2099, 12, 31)


class RangeError(ValueError):
    """Input the reports refuse; the message is safe to show (422)."""


@dataclass(frozen=True)
class ReportRange:
    """An inclusive range of company-local days and an optional location id."""
    start: date
    end: date
    location_id: int | None = None

    @property
    def day_count(self):
        return (self.end - self.start).days + 1

    def days(self):
        """Every day of the range, in order."""
        return [self.start + timedelta(days=n) for n in range(self.day_count)]


def default_range(today):
    """The last four weeks and the next two days."""
    return ReportRange(today - timedelta(days=DEFAULT_PAST_DAYS), today + timedelta(days=DEFAULT_FUTURE_DAYS))


@dataclass(frozen=True)
class Preset:
    """A named range the page offers as one click (its from/to are company-local days)."""
    key: str
    label: str
    start: date
    end: date


def _quarter_start(day):
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _next_month(day):
    """The first day of the month after day's month."""
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def presets(today):
    """This week, last week, this month, last month and this quarter (weeks Monday to Sunday), whole periods."""
    week = today - timedelta(days=today.weekday())
    month = today.replace(day=1)
    last_month = (month - timedelta(days=1)).replace(day=1)
    quarter = _quarter_start(today)
    quarter_end = _next_month(_next_month(_next_month(quarter))) - timedelta(days=1)
    return [
        Preset("this-week", "This week", week, week + timedelta(days=6)),
        Preset("last-week", "Last week", week - timedelta(days=7), week - timedelta(days=1)),
        Preset("this-month", "This month", month, _next_month(month) - timedelta(days=1)),
        Preset("last-month", "Last month", last_month, month - timedelta(days=1)),
        Preset("quarter", f"Q{(quarter.month - 1) // 3 + 1} {quarter.year}", quarter, quarter_end),
    ]


def _day(name, text):
    day = parse_iso_date(text)
    if day is None:
        raise RangeError(f"{name} must be a date like 2025-01-31.")
    if not EARLIEST <= day <= LATEST:
        raise RangeError(f"{name} must lie between {EARLIEST.isoformat()} and {LATEST.isoformat()}.")
    return day


def parse_range(from_text, to_text, location_text, visible_location_ids, today, required=False):
    """A ReportRange from query text; missing dates fall back to the default unless required.

    visible_location_ids: the ids the caller may filter by. An unknown or out-of-scope
    location is refused with the same message, so ids of other tenants stay unknowable.
    """
    fallback = default_range(today)
    if required and (not from_text or not to_text):
        raise RangeError("from and to are required, as YYYY-MM-DD.")
    start = _day("from", from_text) if from_text else fallback.start
    end = _day("to", to_text) if to_text else fallback.end
    if end < start:
        raise RangeError("to must not be before from.")
    if (end - start).days + 1 > MAX_DAYS:
        raise RangeError(f"At most {MAX_DAYS} days per request.")
    location_id = None
    if location_text not in (None, ""):
        text = str(location_text).strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 18 or int(text) not in visible_location_ids:
            raise RangeError("location must be the id of a location you can see.")
        location_id = int(text)
    return ReportRange(start, end, location_id)
