"""Personal links: one crew member, one day, signed, revocable, expiring at the end of that day.

The token is `URLSafeSerializer(SECRET_KEY, salt="crew-link").dumps(link_id)`: derived
from the id and the secret, so it is never stored (a database leak leaks no link), and
an outbox body keeps a `{link}` placeholder filled in when it is sent or shown.
The phone page (dashboard/confirm) answers at LINK_PATH + token.
"""
from datetime import datetime
from datetime import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature
from itsdangerous import URLSafeSerializer

from dashboard.db import db
from dashboard.models import utcnow
from dashboard.plans.models import CrewLink

LINK_PATH = "/p/"
LINK_PLACEHOLDER = "{link}"
# Far longer than any token we sign (an id of a few digits): a longer one is not ours.
_MAX_TOKEN = 200


def _serializer():
    return URLSafeSerializer(current_app.secret_key, salt="crew-link")


def token_for(link_id):
    """The URL token of link id link_id."""
    return _serializer().dumps(link_id)


def end_of_day_utc(day, tz_name):
    """Midnight after day in zone tz_name, as naive UTC (the moment a link for day expires)."""
    local = datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(tz_name))
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def issue_link(company, crew_member_id, day, plan_version, now=None):
    """A new link for this person and day on plan_version; their older links for the day are revoked.

    Flushes (the id is the token) but does not commit: it belongs to the publishing transaction.
    """
    now = now or utcnow()
    db.session.execute(
        sa.update(CrewLink)
        .where(CrewLink.crew_member_id == crew_member_id, CrewLink.day == day, CrewLink.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False))
    link = CrewLink(company_id=company.id, crew_member_id=crew_member_id, day=day,
                    plan_version_id=plan_version.id, created_at=now,
                    expires_at=end_of_day_utc(day, company.timezone))
    db.session.add(link)
    db.session.flush()
    return link


def link_url(link, base_url):
    """The full personal URL of link on origin base_url (no trailing slash needed)."""
    link_id = link if isinstance(link, int) else link.id
    return (base_url or "").rstrip("/") + LINK_PATH + token_for(link_id)


def fill_link(body, link_id, base_url):
    """body with its {link} placeholder replaced by the personal URL (unchanged without a link)."""
    if body is None or link_id is None:
        return body
    return body.replace(LINK_PLACEHOLDER, link_url(link_id, base_url))


def resolve(token, now=None):
    """The live CrewLink named by token, or None when it is tampered with, unknown, revoked or expired."""
    if not token or len(token) > _MAX_TOKEN:
        return None
    try:
        link_id = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(link_id, int) or isinstance(link_id, bool):
        return None
    link = db.session.get(CrewLink, link_id)
    if link is None or link.revoked_at is not None or link.expires_at <= (now or utcnow()):
        return None
    return link
