"""Reads of the plan tables other areas use (the board's per-person delivery state, the outbox page)."""
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import CrewMember
from dashboard.plans.models import OutboxMessage
from dashboard.plans.models import PlanVersion

# When a person has several channels, the best state wins: one delivered copy means they have it.
_RANK = {"sent": 0, "sending": 1, "queued": 2, "failed": 3, "unsent": 4}


def delivery_by_person(company_id, day):
    """{crew_member_id: status} of each person's newest message for day: sent|sending|queued|failed|unsent.

    'failed' here may still be retried (next attempt pending); 'unsent' means it waits in the
    outbox for want of a channel or contact, or a newer version superseded it.
    """
    newest = (sa.select(OutboxMessage.crew_member_id, sa.func.max(OutboxMessage.version).label("version"))
              .where(OutboxMessage.company_id == company_id, OutboxMessage.day == day)
              .group_by(OutboxMessage.crew_member_id).subquery())
    rows = db.session.execute(
        sa.select(OutboxMessage.crew_member_id, OutboxMessage.status)
        .join(newest, sa.and_(newest.c.crew_member_id == OutboxMessage.crew_member_id,
                              newest.c.version == OutboxMessage.version))
        .where(OutboxMessage.company_id == company_id, OutboxMessage.day == day))
    states = {}
    for member_id, status in rows:
        if member_id not in states or _RANK.get(status, 9) < _RANK.get(states[member_id], 9):
            states[member_id] = status
    return states


def latest_version(company_id, day):
    """The newest PlanVersion of company's day, or None."""
    return db.session.scalar(
        sa.select(PlanVersion).where(PlanVersion.company_id == company_id, PlanVersion.day == day)
        .order_by(PlanVersion.version.desc()).limit(1))


OUTBOX_STATUSES = ("queued", "sending", "sent", "failed", "unsent")


def outbox_page(company_ids, status=None, day=None, limit=100, before_id=None):
    """[(OutboxMessage, person's name, PlanVersion.base_url)] newest first, for the outbox page.

    company_ids None means every company (super admin); the caller decides the scope.
    """
    stmt = (sa.select(OutboxMessage, CrewMember.name, PlanVersion.base_url)
            .join(CrewMember, CrewMember.id == OutboxMessage.crew_member_id)
            .join(PlanVersion, PlanVersion.id == OutboxMessage.plan_version_id)
            .order_by(OutboxMessage.id.desc()).limit(limit))
    if company_ids is not None:
        stmt = stmt.where(OutboxMessage.company_id.in_(company_ids))
    if status in OUTBOX_STATUSES:
        stmt = stmt.where(OutboxMessage.status == status)
    if day is not None:
        stmt = stmt.where(OutboxMessage.day == day)
    if before_id is not None:
        stmt = stmt.where(OutboxMessage.id < before_id)
    return db.session.execute(stmt).all()


def outbox_counts(company_ids, day=None):
    """{status: count} over the scope (for the outbox page's filter)."""
    stmt = sa.select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status)
    if company_ids is not None:
        stmt = stmt.where(OutboxMessage.company_id.in_(company_ids))
    if day is not None:
        stmt = stmt.where(OutboxMessage.day == day)
    return dict(db.session.execute(stmt).all())
