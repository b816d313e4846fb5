"""The outbox worker: claim due messages, send them, record the outcome. Never loses one, never sends twice.

- Claim: one UPDATE ... WHERE status is due ... RETURNING id moves rows to 'sending' with
  our owner id and the claim time. The database serialises it (PostgreSQL re-checks the
  WHERE after a row lock; SQLite has one writer), so two workers never claim one row.
- A claim counts as an attempt. A worker that dies mid-batch leaves rows in 'sending';
  once the claim is CLAIM_STALE_MINUTES old they are due again (much longer than any
  send's timeout, so a live worker is never overtaken).
- Outcome: UPDATE ... WHERE id and our claim still hold: 'sent', or 'failed' with the
  reason and next_attempt_at after a doubling backoff (1, 2, 4 ... minutes); after
  MAX_ATTEMPTS, or on a permanent refusal, 'failed' for good (next_attempt_at NULL).
- A message whose person has a newer version queued on the same channel is not sent:
  'unsent', "superseded" (its link was revoked by that newer version anyway).
"""
import logging
from dataclasses import dataclass
from dataclasses import field
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from markupsafe import escape

from dashboard.db import db
from dashboard.models import database_now
from dashboard.models import utcnow
from dashboard.plans import twilio
from dashboard.plans.links import LINK_PLACEHOLDER
from dashboard.plans.links import link_url
from dashboard.plans.models import OutboxMessage
from dashboard.plans.models import PlanVersion
from dashboard.plans.outcomes import Permanent
from dashboard.plans.outcomes import Temporary
from dashboard.plans.smtp import SmtpSender
from dashboard.plans.smtp import build_message
from dashboard.sync.lease import acquire_lease
from dashboard.sync.lease import new_owner_id
from dashboard.sync.lease import release_lease

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
CLAIM_STALE_MINUTES = 5
MAX_BACKOFF_MINUTES = 60
DEFAULT_BATCH = 200
LEASE_SECONDS = 120
# How often the scheduler (and `flask deliver --watch`) looks for due messages.
TICK_SECONDS = 15


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    retry: int = 0
    failed: int = 0
    superseded: int = 0
    errors: list = field(default_factory=list)

    def summary(self):
        return (f"{self.claimed} claimed: {self.sent} sent, {self.retry} to retry, {self.failed} failed for good, "
                f"{self.superseded} superseded")


def backoff(attempts):
    """Wait before attempt attempts + 1: 1, 2, 4 ... minutes, at most MAX_BACKOFF_MINUTES."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), MAX_BACKOFF_MINUTES))


def lease_name_for(company_id):
    """The lease a company's delivery worker holds (the scheduler's tick and `flask deliver`)."""
    return f"deliver:{company_id}"


def _due(now):
    """Rows that may be claimed at now: queued or failed and due, or 'sending' under a stale claim."""
    return sa.or_(
        sa.and_(OutboxMessage.status.in_(("queued", "failed")), OutboxMessage.next_attempt_at.is_not(None),
                OutboxMessage.next_attempt_at <= now, OutboxMessage.attempts < MAX_ATTEMPTS),
        sa.and_(OutboxMessage.status == "sending",
                OutboxMessage.claimed_at < now - timedelta(minutes=CLAIM_STALE_MINUTES)),
    )


def claim_due(owner, limit=DEFAULT_BATCH, company_id=None):
    """Claim up to limit due messages for owner (committed at once); their ids."""
    with db.write_transaction() as session:
        now = database_now(session.connection())
        candidates = sa.select(OutboxMessage.id).where(_due(now)).order_by(
            OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)
        if company_id is not None:
            candidates = candidates.where(OutboxMessage.company_id == company_id)
        if session.get_bind().dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)   # two workers take different rows
        claimed = session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id.in_(candidates.scalar_subquery()), _due(now))
            .values(status="sending", claimed_by=owner, claimed_at=now, attempts=OutboxMessage.attempts + 1)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)).scalars().all()
    return sorted(claimed)


def _record(message_id, owner, **values):
    """Write an outcome if our claim still holds (a claim taken over as stale is not ours to close)."""
    with db.write_transaction() as session:
        return session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.claimed_by == owner,
                   OutboxMessage.status == "sending")
            .values(claimed_by=None, **values)
            .execution_options(synchronize_session=False)).rowcount == 1


def filled(message, base_url):
    """(text, html) of message with the personal link in place (escaped in the HTML part)."""
    if message.crew_link_id is None:
        return message.body_text, message.body_html
    url = link_url(message.crew_link_id, base_url)
    html = message.body_html.replace(LINK_PLACEHOLDER, str(escape(url))) if message.body_html else None
    return message.body_text.replace(LINK_PLACEHOLDER, url), html


def _newest_versions(messages):
    """{(person, day, channel): newest version in the outbox} for the people of messages (one query)."""
    if not messages:
        return {}
    rows = db.session.execute(
        sa.select(OutboxMessage.crew_member_id, OutboxMessage.day, OutboxMessage.channel,
                  sa.func.max(OutboxMessage.version))
        .where(OutboxMessage.crew_member_id.in_({m.crew_member_id for m in messages}),
               OutboxMessage.day.in_({m.day for m in messages}))
        .group_by(OutboxMessage.crew_member_id, OutboxMessage.day, OutboxMessage.channel))
    return {(member_id, day, channel): version for member_id, day, channel, version in rows}


class _Transports:
    """The configured senders of one batch (one SMTP connection for all its e-mails)."""

    def __init__(self, config):
        self.config = config
        self.smtp = SmtpSender(config["SMTP"], timeout=config.get("SMTP_TIMEOUT") or 10.0) \
            if config.get("SMTP") is not None else None

    def send(self, message, text, html):
        if message.channel == "email":
            if self.smtp is None:
                raise Temporary("not sent: SMTP_URL is not configured")
            domain = (self.config.get("MAIL_FROM") or "plans@localhost").rpartition("@")[2].strip("> ")
            self.smtp.send(build_message(self.config["MAIL_FROM"], message.recipient, message.subject, text, html,
                                         message_id=f"<plan-{message.id}-v{message.version}@{domain}>"))
        elif message.channel == "sms":
            if self.config.get("TWILIO") is None:
                raise Temporary("not sent: Twilio is not configured")
            twilio.send_sms(self.config["TWILIO"], message.recipient, text,
                            timeout=self.config.get("SMTP_TIMEOUT") or 10.0)
        else:
            raise Permanent("no channel")

    def close(self):
        if self.smtp is not None:
            self.smtp.close()


def deliver_due(company_id=None, limit=DEFAULT_BATCH, owner=None):
    """Claim and send up to limit due messages (of company_id, or all); a DeliveryReport."""
    owner = owner or new_owner_id()
    report = DeliveryReport()
    ids = claim_due(owner, limit, company_id)
    report.claimed = len(ids)
    if not ids:
        return report
    rows = db.session.execute(
        sa.select(OutboxMessage, PlanVersion.base_url)
        .join(PlanVersion, PlanVersion.id == OutboxMessage.plan_version_id)
        .where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)).all()
    newest = _newest_versions([message for message, _ in rows])
    db.session.commit()   # no transaction stays open while we talk to a mail server
    transports = _Transports(current_app.config)
    try:
        for message, base_url in rows:
            newer = newest.get((message.crew_member_id, message.day, message.channel), message.version)
            _deliver_one(message, base_url, owner, transports, report, newer if newer > message.version else None)
    finally:
        transports.close()
    return report


def _deliver_one(message, base_url, owner, transports, report, newer):
    if newer is not None:
        _record(message.id, owner, status="unsent", next_attempt_at=None,
                last_error=f"not sent: superseded by plan v{newer}")
        report.superseded += 1
        return
    text, html = filled(message, base_url)
    try:
        transports.send(message, text, html)
    except Permanent as error:
        _record(message.id, owner, status="failed", next_attempt_at=None, last_error=str(error)[:500])
        report.failed += 1
        return
    except Temporary as error:
        final = message.attempts >= MAX_ATTEMPTS
        now = _now()
        _record(message.id, owner, status="failed", last_error=(
            f"gave up after {message.attempts} attempts: {error}" if final else str(error))[:500],
            next_attempt_at=None if final else now + backoff(message.attempts))
        report.failed += final
        report.retry += not final
        report.errors.append(str(error)[:200])
        return
    # This host's clock: sent_at is for people to read; only claims and retries use the database's.
    _record(message.id, owner, status="sent", sent_at=utcnow(), last_error=None, next_attempt_at=None)
    report.sent += 1


def _now():
    with db.engine.connect() as connection:
        return database_now(connection)


def companies_with_due_messages():
    """Ids of companies that have messages due now (the scheduler's tick visits only those)."""
    now = _now()
    ids = db.session.scalars(sa.select(OutboxMessage.company_id).where(_due(now)).distinct()).all()
    db.session.commit()
    return sorted(ids)


def deliver_with_lease(company_id, owner=None, limit=DEFAULT_BATCH):
    """One worker pass for company_id under its delivery lease; None when another worker holds it."""
    owner = owner or new_owner_id()
    name = lease_name_for(company_id)
    if not acquire_lease(name, owner, LEASE_SECONDS):
        return None
    try:
        report = deliver_due(company_id, limit=limit, owner=owner)
    finally:
        release_lease(name, owner)
    if report.claimed:
        log.info("plan delivery: %s", report.summary(), extra={"company_id": company_id})
    return report
