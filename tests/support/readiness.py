"""The crew, time off and sync history the readiness and availability-conflict tests build on."""
from datetime import datetime
from datetime import timedelta

from dashboard.db import db
from dashboard.models import CrewMember
from dashboard.models import RunStatus
from dashboard.models import SyncRun
from dashboard.models import TimeOff
from dashboard.models import utcnow


def add_member(app, company, name, role=None, status="active", location=None, external_id=None):
    """A crew member with our role; returns its id."""
    with app.app_context():
        member = CrewMember(company_id=company.id, name=name, role=role, status=status,
                            location_id=location.id if location else None,
                            external_id=external_id or f"x-{name.lower().replace(' ', '-')}-{role or 'none'}-{status}")
        db.session.add(member)
        db.session.commit()
        return member.id


def add_off(app, company, start=None, end=None, member_id=None, truck_id=None, weekday=None, reason=""):
    """A time-off (person) or out-of-service (truck) entry: dated [start, end), or weekly on weekday."""
    with app.app_context():
        entry = TimeOff(company_id=company.id, crew_member_id=member_id, truck_id=truck_id, starts_at=start,
                        ends_at=end, weekday=weekday, reason=reason)
        db.session.add(entry)
        db.session.commit()
        return entry.id


def add_fresh_sync(app, company, minutes_ago=1):
    """A successful sync run that finished minutes_ago (readiness's stale-sync check reads it)."""
    with app.app_context():
        finished = utcnow() - timedelta(minutes=minutes_ago)
        run = SyncRun(company_id=company.id, trigger="manual", window_start=finished.date(),
                      window_end=finished.date(), status=RunStatus.SUCCESS.value, started_at=finished,
                      finished_at=finished)
        db.session.add(run)
        db.session.commit()
        return run.id


def at(day, hour):
    """day at hour (naive local)."""
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=hour)
