"""Stored webhook events: parsing a delivery, storing it once, and what the sync page shows.

Every delivery is stored before it is answered, so an event survives a crash of the
process that received it. Identical deliveries close together are one event: its
`deliveries` counter goes up instead (SmartMoving may deliver an event twice, §7).
Services here flush and never commit.
"""
import hashlib
import json
from datetime import timedelta

import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import Company
from dashboard.models import WebhookEvent
from dashboard.models import WebhookStatus
from dashboard.models import utcnow
from dashboard.webhooks.senders import configured_for

ID_FIELDS = {"opportunity_id": "opportunity-id", "job_id": "job-id", "customer_id": "customer-id"}


def _id(value):
    """A resource id as text (SmartMoving sends uuids; numbers are tolerated), or None."""
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip()
    return text[:64] or None


def content_hash(payload):
    """SHA-256 of the payload's canonical JSON (key order and spacing do not matter)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def record(company_id, payload, dedupe_seconds, now=None):
    """Store one delivery; (event, duplicate). A duplicate only bumps the stored event's deliveries.

    Duplicate means the same canonical body within dedupe_seconds: looked for first,
    and a unique key (body + time bucket) settles two identical deliveries racing.
    """
    now = now or utcnow()
    digest = content_hash(payload)
    window = max(int(dedupe_seconds), 1)
    earlier = db.session.scalar(sa.select(WebhookEvent).where(
        WebhookEvent.company_id == company_id, WebhookEvent.content_hash == digest,
        WebhookEvent.received_at >= now - timedelta(seconds=window)).order_by(WebhookEvent.id.desc()).limit(1))
    if earlier is not None:
        return _count_delivery(earlier.id), True
    key = f"{digest}:{int(now.timestamp()) // window}"
    values = dict(company_id=company_id, event_type=(_id(payload.get("event-type")) or "(none)")[:60],
                  payload=payload, content_hash=digest, dedupe_key=key, deliveries=1, received_at=now,
                  status=WebhookStatus.PENDING.value, attempts=0,
                  **{column: _id(payload.get(field)) for column, field in ID_FIELDS.items()})
    inserted = db.session.execute(_insert_unless_present(values))
    if inserted.rowcount == 0:  # an identical delivery got there first
        existing = db.session.scalar(sa.select(WebhookEvent.id).where(
            WebhookEvent.company_id == company_id, WebhookEvent.dedupe_key == key))
        return _count_delivery(existing), True
    db.session.flush()
    event = db.session.scalar(sa.select(WebhookEvent).where(
        WebhookEvent.company_id == company_id, WebhookEvent.dedupe_key == key))
    return event, False


def _insert_unless_present(values):
    """INSERT … ON CONFLICT (company_id, dedupe_key) DO NOTHING on SQLite and PostgreSQL."""
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(WebhookEvent).values(**values).on_conflict_do_nothing(
        index_elements=[WebhookEvent.company_id, WebhookEvent.dedupe_key])


def _count_delivery(event_id):
    db.session.execute(sa.update(WebhookEvent).where(WebhookEvent.id == event_id)
                       .values(deliveries=WebhookEvent.deliveries + 1))
    return db.session.get(WebhookEvent, event_id)


def pending(company_id, limit=200):
    """The company's unprocessed events, oldest first."""
    return list(db.session.scalars(sa.select(WebhookEvent).where(
        WebhookEvent.company_id == company_id, WebhookEvent.status == WebhookStatus.PENDING.value)
        .order_by(WebhookEvent.id).limit(limit)))


def has_pending(company_id):
    """True when the company has an event still to act on."""
    return db.session.scalar(sa.select(WebhookEvent.id).where(
        WebhookEvent.company_id == company_id, WebhookEvent.status == WebhookStatus.PENDING.value).limit(1)) is not None


def card(company_id, config):
    """The sync page's webhook card: whether webhooks are on, where SmartMoving sends them, and summary()."""
    from flask import url_for
    company = db.session.get(Company, company_id)
    return {"configured": configured_for(company, config), "is_default": bool(company and company.is_default),
            "header": config["SMARTMOVING_WEBHOOK_HEADER"],
            "url": url_for("webhooks.receive", _external=True), **summary(company_id)}


def summary(company_id, hours=24, now=None):
    """What the sync page shows: counts by status over the last hours, duplicates, and the last event."""
    since = (now or utcnow()) - timedelta(hours=hours)
    rows = db.session.execute(sa.select(WebhookEvent.status, sa.func.count(), sa.func.sum(WebhookEvent.deliveries))
                              .where(WebhookEvent.company_id == company_id, WebhookEvent.received_at >= since)
                              .group_by(WebhookEvent.status)).all()
    counts = {status.value: 0 for status in WebhookStatus}
    deliveries = 0
    for status, count, delivered in rows:
        counts[status] = count
        deliveries += int(delivered or 0)
    last = db.session.scalar(sa.select(WebhookEvent).where(WebhookEvent.company_id == company_id)
                             .order_by(WebhookEvent.id.desc()).limit(1))
    received = sum(counts.values())
    return {"hours": hours, "received": received, "duplicates": deliveries - received,
            "processed": counts["PROCESSED"], "failed": counts["FAILED"], "pending": counts["PENDING"],
            "ignored": counts["IGNORED"], "last": last}
