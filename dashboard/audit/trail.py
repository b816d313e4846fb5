"""Writing and reading the audit trail (AuditEvent rows), always within the reader's scope."""
from datetime import UTC
from datetime import datetime
from datetime import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so

from dashboard.db import db
from dashboard.guards import parse_id
from dashboard.models import AuditEvent
from dashboard.models import TruckJourney
from dashboard.models import User
from dashboard.permissions import Scope
from dashboard.permissions import scope_of
from dashboard.permissions import within_chosen_company

PAGE_LIMIT = 500
EXPORT_LIMIT = 50000


def record(company_id, user_id, action, target=None, **detail):
    """Add one audit event to the session (the caller commits with the change it describes)."""
    event = AuditEvent(company_id=company_id, user_id=user_id, action=action, target=(target or None) and target[:120],
                       detail=detail or None)
    db.session.add(event)
    return event


def _scoped(stmt, reader, column):
    """Restrict to the reader's companies: every company (or the one picked) for SUPER_ADMIN, their own otherwise."""
    if scope_of(reader) is Scope.ALL_COMPANIES:
        return within_chosen_company(stmt, column)
    return stmt.where(column == reader.company_id)


def users_in_scope(reader):
    """Users the reader may filter the trail by, by email."""
    return list(db.session.scalars(_scoped(sa.select(User).order_by(User.email), reader, User.company_id)))


def job_ids_matching(reader, text):
    """Ids of jobs in the reader's scope whose id or job number is text."""
    text = (text or "").strip()
    job_id = parse_id(text)
    condition = TruckJourney.job_number == text[:40]
    if job_id is not None:
        condition = sa.or_(condition, TruckJourney.id == job_id)
    query = _scoped(sa.select(TruckJourney.id).where(condition), reader, TruckJourney.company_id)
    return set(db.session.scalars(query))


def utc_bounds(day, tz_name):
    """The naive-UTC instants where day begins and ends in zone tz_name."""
    zone = ZoneInfo(tz_name)
    start = datetime.combine(day, time.min, zone).astimezone(UTC).replace(tzinfo=None)
    end = datetime.combine(day + timedelta(days=1), time.min, zone).astimezone(UTC).replace(tzinfo=None)
    return start, end


def events_for(reader, day=None, tz_name="UTC", user=None, job_ids=None, limit=PAGE_LIMIT):
    """Events the reader may see, newest first, filtered by day (in tz_name), user (actor or subject) and jobs."""
    stmt = (sa.select(AuditEvent, User).outerjoin(User, AuditEvent.user_id == User.id)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit))
    stmt = _scoped(stmt, reader, AuditEvent.company_id)
    if day is not None:
        start, end = utc_bounds(day, tz_name)
        stmt = stmt.where(AuditEvent.at >= start, AuditEvent.at < end)
    if user is not None:
        stmt = stmt.where(sa.or_(AuditEvent.user_id == user.id, AuditEvent.target == user.email))
    if job_ids is not None:
        stmt = stmt.where(AuditEvent.target.in_([f"job:{job_id}" for job_id in job_ids]) if job_ids else sa.false())
    return list(db.session.execute(stmt.options(so.defer(User.password_hash))))


def describe_changes(detail):
    """An event's detail as short 'field: old → new' (or 'field: value') lines."""
    lines = []
    for key, value in (detail or {}).items():
        name = str(key).replace("_", " ")
        if isinstance(value, list) and len(value) == 2:  # every change is stored as [old, new]
            lines.append(f"{name}: {_show(value[0])} → {_show(value[1])}")
        else:
            lines.append(f"{name}: {_show(value)}")
    return lines


def _show(value):
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
