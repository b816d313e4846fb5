"""Send a day's plan: freeze version N, tell each person their jobs, queue the messages (one transaction).

The plan version, its assignments, the personal links and every outbox message are
written in ONE transaction (a transactional outbox): either the version exists with all
its messages, or nothing does. Delivery happens later (delivery.py); a message is never
lost between "published" and "sent", and the outbox's unique key (person, day, version,
channel) means it is never queued twice.
"""
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from dashboard.db import db
from dashboard.db import is_deadlock
from dashboard.models import AuditEvent
from dashboard.models import utcnow
from dashboard.plans import audience
from dashboard.plans.compose import compose
from dashboard.plans.links import end_of_day_utc
from dashboard.plans.models import CrewLink
from dashboard.plans.models import OutboxMessage
from dashboard.plans.models import PlanAssignment
from dashboard.plans.models import PlanVersion

log = logging.getLogger(__name__)

OutOfScope = audience.OutOfScope
NO_CHANNEL = "not sent: no channel"
NO_CONTACT = "not reachable: no e-mail or phone"
# Two publishes of one day at once (PostgreSQL) collide on the version number: the loser retries.
_ATTEMPTS = 3


@dataclass
class PublishResult:
    day: object
    version: int | None
    messages: int             # people told (one message each, on every channel they have)
    unreachable: list
    held: int = 0             # of those, people whose message waits in the outbox (no channel configured)
    created: bool = True      # False when "send changes" found nothing to send
    channels: bool = True     # whether any channel (e-mail or SMS) is set up at all

    def as_json(self):
        """The API's answer: {"date", "version", "messages", "unreachable"}."""
        return {"date": self.day.isoformat(), "version": self.version, "messages": self.messages,
                "unreachable": self.unreachable}


def describe(result):
    """What sending did, in words: "Plan v3 queued for 12 people, 2 not reachable.", or, with no e-mail or SMS
    set up, "Plan v3 ready for 12 people: no e-mail or SMS is set up, so the messages wait in the outbox."."""
    if not result.created:
        if result.version is None:
            return "Nobody is on this day's jobs in this scope: nothing sent."
        return f"Nothing changed since plan v{result.version}: no message sent."
    unreachable = f", {len(result.unreachable)} not reachable" if result.unreachable else ""
    if not result.channels:
        # Nothing leaves the building: say so instead of "sent".
        return (f"Plan v{result.version} ready for {_people(result.messages)}{unreachable}: no e-mail or SMS is set "
                "up, so the messages wait in the outbox.")
    queued = result.messages - result.held
    if not result.held:
        return f"Plan v{result.version} queued for {_people(result.messages)}{unreachable}."
    return (f"Plan v{result.version} queued for {queued} of {_people(result.messages)}{unreachable}; "
            f"{result.held} {'waits' if result.held == 1 else 'wait'} in the outbox: no e-mail or SMS set up "
            f"reaches {'them' if result.held > 1 else 'that person'}.")


def _people(count):
    """ "1 person", "12 people"."""
    return f"{count} {'person' if count == 1 else 'people'}"


def any_channel(config):
    """True when e-mail (SMTP_URL) or SMS (TWILIO_*) is set up, so queued messages are delivered."""
    return config.get("SMTP") is not None or config.get("TWILIO") is not None


def channels_for(recipient, config):
    """[(channel, recipient address)] this person is reached on; [] when no configured channel fits."""
    found = []
    if recipient.email and config.get("SMTP") is not None:
        found.append(("email", recipient.email))
    if recipient.member.phone and config.get("TWILIO") is not None:
        found.append(("sms", recipient.member.phone))
    return found


def base_url_for(request_origin=None):
    """The origin of personal links: PUBLIC_BASE_URL, else the publishing request's, else localhost."""
    configured = current_app.config.get("PUBLIC_BASE_URL")
    return (configured or request_origin or "http://localhost:5000").rstrip("/")


def preview(company, day, user, location_id=None):
    """What "Send plan" would do now, without writing: counts for the publish dialog.

    {"people", "changed", "unreachable", "latestVersion", "noChannel"}; raises OutOfScope.
    """
    scope = audience.scope_location_ids(company, user, location_id)
    crowd = audience.build(company, day, scope)
    everyone = crowd.to_message(changes_only=False)
    config = current_app.config
    return {"people": len(everyone), "changed": len(crowd.to_message(changes_only=True)),
            "unreachable": crowd.unreachable(), "latestVersion": crowd.latest_version,
            "noChannel": sum(1 for r in everyone if not channels_for(r, config))}


def publish_day(company, day, user=None, location_id=None, changes_only=False, request_origin=None):
    """Freeze the next plan version of company's day and queue its messages; a PublishResult.

    Scope: location_id, else the user's locations (user None: the whole company, e.g. the CLI).
    changes_only: only people whose jobs changed since their last version (and people taken off
    every job) are told; with nobody to tell, no version is made. Raises OutOfScope.
    """
    for attempt in range(_ATTEMPTS):
        try:
            with db.write_transaction():
                return _publish(company, day, user, location_id, changes_only, base_url_for(request_origin))
        except sa.exc.IntegrityError:
            if attempt == _ATTEMPTS - 1:
                raise
            log.info("plan version of %s taken by a concurrent publish; retrying", day)
        except sa.exc.OperationalError as error:
            if not is_deadlock(error) or attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _publish(company, day, user, location_id, changes_only, base_url):
    scope = audience.scope_location_ids(company, user, location_id)
    crowd = audience.build(company, day, scope)
    told = crowd.to_message(changes_only=changes_only and crowd.latest_version is not None)
    unreachable = crowd.unreachable(told if changes_only else None)
    if not told:   # nobody to tell (nothing changed, or nobody on the day's jobs): no version either
        return PublishResult(day=day, version=crowd.latest_version, messages=0, unreachable=unreachable,
                             created=False)
    now = utcnow()
    version = PlanVersion(company_id=company.id, day=day, version=(crowd.latest_version or 0) + 1,
                          location_ids=scope, published_at=now, published_by=getattr(user, "id", None),
                          messages=len(told), unreachable=unreachable, base_url=base_url)
    db.session.add(version)
    db.session.flush()
    _write_assignments(version, crowd.recipients)
    links = _issue_links(company, day, version, [r for r in told if not r.removed], now)
    _revoke_links(day, [r.member.id for r in told if r.removed], now)
    held = _queue_messages(company, version, told, links, crowd.offices, now)
    db.session.add(AuditEvent(company_id=company.id, user_id=getattr(user, "id", None), action="plan.publish",
                              target=f"plan:{day.isoformat()}:v{version.version}",
                              detail={"messages": len(told), "unreachable": len(unreachable),
                                      "changesOnly": bool(changes_only), "locations": scope}))
    return PublishResult(day=day, version=version.version, messages=len(told), unreachable=unreachable, held=held,
                         channels=any_channel(current_app.config))


def _write_assignments(version, recipients):
    """The frozen plan: every person in scope with their jobs now, plus jobs carried from outside it."""
    rows = [{"plan_version_id": version.id, "crew_member_id": r.member.id, "journey_id": t.journey_id,
             "fingerprint": t.fingerprint, "snapshot": t.snapshot}
            for r in recipients if r.jobs or r.removed for t in r.jobs + r.carried]
    if rows:
        db.session.execute(sa.insert(PlanAssignment), rows)


def _revoke_links(day, member_ids, now):
    if member_ids:
        db.session.execute(
            sa.update(CrewLink)
            .where(CrewLink.crew_member_id.in_(member_ids), CrewLink.day == day, CrewLink.revoked_at.is_(None))
            .values(revoked_at=now).execution_options(synchronize_session=False))


def _issue_links(company, day, version, recipients, now):
    """{member id: link id}: a new link each (older ones for the day revoked), in two statements."""
    member_ids = [r.member.id for r in recipients]
    if not member_ids:
        return {}
    _revoke_links(day, member_ids, now)
    expires = end_of_day_utc(day, company.timezone)
    rows = db.session.execute(
        sa.insert(CrewLink).returning(CrewLink.id, CrewLink.crew_member_id),
        [{"company_id": company.id, "crew_member_id": member_id, "day": day, "plan_version_id": version.id,
          "created_at": now, "expires_at": expires, "revoked_at": None} for member_id in member_ids]).all()
    return {member_id: link_id for link_id, member_id in rows}


def _queue_messages(company, version, recipients, links, offices, now):
    """Write each person's message(s) to the outbox; the number held for want of a channel."""
    config = current_app.config
    rows = []
    held = 0
    for recipient in recipients:
        words = compose(recipient, company.name, version.day, version.version, offices)
        channels = channels_for(recipient, config)
        base = {"company_id": company.id, "plan_version_id": version.id, "crew_member_id": recipient.member.id,
                "crew_link_id": links.get(recipient.member.id), "day": version.day, "version": version.version,
                "subject": words.subject, "attempts": 0, "created_at": now, "last_error": None, "sent_at": None,
                "claimed_by": None, "claimed_at": None}
        if not channels:
            held += 1
            contact = recipient.email or recipient.member.phone or ""
            rows.append({**base, "channel": "none", "recipient": contact[:254], "body_text": words.text,
                         "body_html": words.html, "status": "unsent", "next_attempt_at": None,
                         "last_error": NO_CHANNEL if contact else NO_CONTACT})
            continue
        for channel, address in channels:
            rows.append({**base, "channel": channel, "recipient": address[:254],
                         "body_text": words.sms if channel == "sms" else words.text,
                         "body_html": words.html if channel == "email" else None,
                         "status": "queued", "next_attempt_at": now})
    if rows:
        db.session.execute(sa.insert(OutboxMessage), rows)
    return held

