"""Who is off and which trucks are out of service over a stretch of company-local time (read side).

Used by the conflict engine (kinds `timeoff` / `truck-unavailable`), the crew picker, the
readiness panel and the roster. Everything here is naive company-local time, like job spans.

- `off_for_people(company_id, start, end)` -> {crew_member_id: [OffPeriod, ...]}
- `off_for_trucks(company_id, start, end)` -> {truck_id: [OffPeriod, ...]}
- `overlaps(periods, span_start, span_end, day=None)` -> the periods that touch a job's span
  (a job without a span is checked against its whole `day`).

Dated entries are returned as stored when they overlap [start, end). A weekly entry ("never on
Sundays") is expanded into one OffPeriod per matching day inside the window, each covering that
whole day with weekly=True, so callers test every period the same way: start < span_end and
span_start < end. Each call is one query (the ix_time_off_company_ends index covers the dated
part), cheap for a day of 2,000 jobs / 300 people.
"""
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta

import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import TimeOff

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def midnight(day):
    """The naive local datetime at the start of day."""
    return datetime.combine(day, time())


def _day_label(moment):
    """ "Fri 11 Dec" for a local datetime or date."""
    return f"{moment:%a} {moment.day} {moment:%b}"


def _clock(moment):
    """ "08:00"."""
    return f"{moment:%H:%M}"


def when_text(start, end):
    """ "Fri 11 Dec", "Fri 11 – Mon 14 Dec", or "Fri 11 Dec 08:00–12:00" for a [start, end) period."""
    whole_days = start.time() == time() and end.time() == time()
    if whole_days:
        last = (end - timedelta(days=1)).date()
        if last <= start.date():
            return _day_label(start)
        return f"{_day_label(start)} – {_day_label(last)}"
    if start.date() == end.date() or (end.time() == time() and end.date() == start.date() + timedelta(days=1)):
        return f"{_day_label(start)} {_clock(start)}–{_clock(end)}"
    return f"{_day_label(start)} {_clock(start)} – {_day_label(end)} {_clock(end)}"


@dataclass(frozen=True)
class OffPeriod:
    """One stretch of unavailability: [start, end) local, or one day of a weekly entry (weekly=True).

    `id` is the TimeOff row's id (a weekly entry expanded over several days repeats it);
    `truck` tells a truck's out-of-service period from a person's time off (for the wording).
    """
    id: int
    start: datetime
    end: datetime
    reason: str
    weekly: bool
    weekday: int | None = None
    truck: bool = False

    @property
    def text(self):
        """ "Off Fri 11 Dec (dentist)", "Off every Sunday", "Out of service Fri 11 Dec 08:00–12:00 (brakes)"."""
        lead = "Out of service" if self.truck else "Off"
        when = f"every {WEEKDAY_NAMES[self.weekday]}" if self.weekly else when_text(self.start, self.end)
        reason = f" ({self.reason})" if self.reason else ""
        return f"{lead} {when}{reason}"

    @property
    def whole_day(self):
        """True when the period starts and ends at midnight (whole days, or a weekly day)."""
        return self.start.time() == time() and self.end.time() == time()


def _window(start, end):
    """(start, end) as datetimes: a date means its midnight."""
    if isinstance(start, date) and not isinstance(start, datetime):
        start = midnight(start)
    if isinstance(end, date) and not isinstance(end, datetime):
        end = midnight(end)
    return start, end


def _days_in(start, end):
    """The dates whose day intersects [start, end)."""
    day = start.date()
    while midnight(day) < end:
        yield day
        day += timedelta(days=1)


def _rows(company_id, subject, start, end):
    """One query: the entries of subject (a column) that overlap [start, end) or are weekly.

    Two index range scans in one round trip (UNION ALL): dated entries by ends_at > start, weekly
    ones by ends_at IS NULL, both on ix_time_off_company_ends, however much history the table holds.
    """
    columns = (subject.label("subject_id"), TimeOff.id, TimeOff.starts_at, TimeOff.ends_at, TimeOff.weekday,
               TimeOff.reason)
    dated = sa.select(*columns).where(TimeOff.company_id == company_id, subject.is_not(None),
                                      TimeOff.ends_at > start, TimeOff.starts_at < end)
    weekly = sa.select(*columns).where(TimeOff.company_id == company_id, subject.is_not(None),
                                       TimeOff.ends_at.is_(None), TimeOff.weekday.is_not(None))
    return db.session.execute(sa.union_all(dated, weekly)).all()


def _periods(rows, start, end, truck):
    """{subject_id: [OffPeriod]} from _rows, weekly entries expanded over the window's days."""
    days = list(_days_in(start, end))
    found = {}
    for subject_id, entry_id, starts_at, ends_at, weekday, reason in rows:
        bucket = found.setdefault(subject_id, [])
        if weekday is None:
            bucket.append(OffPeriod(entry_id, starts_at, ends_at, reason or "", False, None, truck))
            continue
        for day in days:
            if day.weekday() == weekday:
                bucket.append(OffPeriod(entry_id, midnight(day), midnight(day + timedelta(days=1)),
                                        reason or "", True, weekday, truck))
    for subject_id in [key for key, value in found.items() if not value]:
        del found[subject_id]
    for bucket in found.values():
        bucket.sort(key=lambda period: (period.start, period.id))
    return found


def off_for_people(company_id, start, end):
    """{crew_member_id: [OffPeriod]}: time off overlapping [start, end) (naive local; dates mean midnight)."""
    start, end = _window(start, end)
    return _periods(_rows(company_id, TimeOff.crew_member_id, start, end), start, end, truck=False)


def off_for_trucks(company_id, start, end):
    """{truck_id: [OffPeriod]}: out-of-service periods overlapping [start, end) (naive local)."""
    start, end = _window(start, end)
    return _periods(_rows(company_id, TimeOff.truck_id, start, end), start, end, truck=True)


def overlaps(periods, span_start, span_end, day=None):
    """The periods overlapping [span_start, span_end); a job without a span counts as its whole `day`.

    With neither a span nor a day, nothing can be judged and the answer is [].
    """
    if span_start is None or span_end is None:
        if day is None:
            return []
        span_start, span_end = midnight(day), midnight(day + timedelta(days=1))
    return [period for period in periods or () if period.start < span_end and span_start < period.end]


def off_on_day(periods, day):
    """The periods touching the local date day (the roster and picker's "off today")."""
    return overlaps(periods, None, None, day)
