"""Recording a person's answer to their plan: confirmed or declined, throttled per link, audited.

The newest PlanConfirmation of a person and day is their answer; older rows stay as
history (and count against the link's hourly allowance).
"""
from datetime import timedelta

import sqlalchemy as sa

from dashboard.audit.trail import record
from dashboard.confirm.states import CONFIRMED
from dashboard.confirm.states import DECLINED
from dashboard.db import db
from dashboard.models import utcnow
from dashboard.plans.models import PlanConfirmation

# A person changes their mind a few times at most; a link answering more often is a script.
ANSWERS_PER_HOUR = 10
REASON_MAX = 300


class TooManyAnswers(Exception):
    """The link answered ANSWERS_PER_HOUR times in the last hour."""


def answers_in_last_hour(link_id, now=None):
    """How many answers this link gave in the hour before now."""
    since = (now or utcnow()) - timedelta(hours=1)
    return db.session.scalar(sa.select(sa.func.count(PlanConfirmation.id)).where(
        PlanConfirmation.crew_link_id == link_id, PlanConfirmation.at >= since))


def record_answer(link, plan, state, reason=None, remote_addr=None, now=None):
    """Store the answer of link's person to plan (a personal.PersonalPlan) and audit it; flushes, never commits.

    state: "confirmed" or "declined" (declined needs a reason). Raises TooManyAnswers past the hourly allowance.
    """
    if state not in (CONFIRMED, DECLINED):
        raise ValueError(f"unknown answer {state!r}")
    now = now or utcnow()
    if answers_in_last_hour(link.id, now) >= ANSWERS_PER_HOUR:
        raise TooManyAnswers()
    reason = " ".join((reason or "").split())[:REASON_MAX] if state == DECLINED else None
    version = plan.version
    answer = PlanConfirmation(company_id=link.company_id, crew_member_id=link.crew_member_id, day=link.day,
                              plan_version_id=version.id if version is not None else link.plan_version_id,
                              crew_link_id=link.id, state=state, reason=reason, at=now,
                              remote_addr=(remote_addr or "")[:64] or None)
    db.session.add(answer)
    detail = {"crew_member": plan.member.name, "crew_member_id": link.crew_member_id, "day": link.day.isoformat(),
              "version": version.version if version is not None else None,
              "jobs": [job.number for job in plan.jobs]}
    if reason:
        detail["reason"] = reason
    record(link.company_id, None, f"plan.{state}", f"crew:{link.crew_member_id}", **detail)
    db.session.flush()
    return answer
