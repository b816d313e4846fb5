"""Which company a webhook delivery is for, told by the secret it carries (issue 21 §4).

SMARTMOVING_WEBHOOK_SECRET belongs to the default company; any active company may hold a secret of
its own (the Companies page, stored encrypted under CREDENTIALS_KEY). A delivery is that company's
when it carries that secret. Every configured secret is compared, each in constant time, and the
loop never stops early: how long the answer takes says nothing about which secret came close.
"""
import hmac
import logging

import sqlalchemy as sa

from dashboard.companies import credentials
from dashboard.companies.credentials import CredentialsError
from dashboard.db import db
from dashboard.models import Company

log = logging.getLogger(__name__)


def configured_secrets(config):
    """[(company id, secret)] every webhook secret in force: the default company's global one first,
    then each active company's own. A stored secret CREDENTIALS_KEY cannot open is left out (logged)."""
    found = []
    global_secret = config.get("SMARTMOVING_WEBHOOK_SECRET")
    if global_secret:
        default_id = db.session.scalar(sa.select(Company.id).where(Company.is_default.is_(True)))
        if default_id is not None:
            found.append((default_id, str(global_secret)))
    rows = db.session.execute(sa.select(Company.id, Company.webhook_secret_encrypted).where(
        Company.is_active.is_(True), Company.webhook_secret_encrypted.is_not(None)).order_by(Company.id))
    for company_id, token in rows:
        try:
            found.append((company_id, credentials.decrypt(config.get("CREDENTIALS_KEY"), token)))
        except CredentialsError as error:
            # The secret cannot be checked: its deliveries are refused until it is set again.
            log.error("webhook secret of company %s unusable: %s", company_id, error,
                      extra={"company_id": company_id})
    return found


def company_for(supplied, secrets):
    """The company id whose secret supplied is (the first such in secrets), else None."""
    given = str(supplied or "").encode("utf-8")
    match = None
    for company_id, secret in secrets:
        # Compared with every secret, even after a match: the time taken does not depend on which matched.
        if hmac.compare_digest(given, secret.encode("utf-8")) and match is None:
            match = company_id
    return match if given else None


def configured_for(company, config):
    """True when deliveries for company are accepted: its own secret, or the global one for the default company."""
    if company is None:
        return False
    if company.webhook_secret_encrypted and company.is_active:
        return True
    return bool(company.is_default and config.get("SMARTMOVING_WEBHOOK_SECRET"))
