"""Companies as the super admin manages them: create, rename, disable, set SmartMoving credentials (audited).

Each function changes the session and records an audit event; the caller commits
(`db.write_transaction()`), so the change and its record land together.
"""
import os
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

import sqlalchemy as sa

from dashboard.audit.trail import record
from dashboard.companies import credentials
from dashboard.companies.credentials import CredentialsError
from dashboard.db import db
from dashboard.models import Company
from dashboard.models import RunStatus
from dashboard.models import SyncRun
from dashboard.models import utcnow
from dashboard.sync import plan

NAME_LENGTH = 120


class CompanyError(ValueError):
    """A company change that cannot be made; the message says why (shown to the user as is)."""


@dataclass(frozen=True)
class CompanyRow:
    """One company as the Companies page and GET /companies show it (never its key)."""
    company: Company
    mode: str
    plan: str
    last_sync: datetime | None
    key_note: str


def clean_name(name):
    """A company name trimmed to one line; CompanyError when empty or too long."""
    text = " ".join(str(name or "").split())
    if not text:
        raise CompanyError("A company needs a name.")
    if len(text) > NAME_LENGTH:
        raise CompanyError(f"A company name has at most {NAME_LENGTH} characters.")
    return text


def clean_timezone(name):
    """An IANA zone name such as America/Toronto; CompanyError otherwise."""
    text = str(name or "").strip()
    if not text:
        raise CompanyError("A company needs a time zone such as America/Toronto.")
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise CompanyError(f"Unknown time zone {text[:64]!r}: use an IANA name such as America/Toronto.") from None
    return text


def clean_plan(name):
    """"basic" or "premium" (any case); None for blank (SMARTMOVING_PLAN applies); CompanyError otherwise."""
    text = str(name or "").strip().lower()
    if not text:
        return None
    if text not in plan.QUOTAS:
        raise CompanyError("The plan is basic or premium.")
    return text


def _name_taken(name, except_id=None):
    stmt = sa.select(Company.id).where(sa.func.lower(Company.name) == name.lower())
    if except_id is not None:
        stmt = stmt.where(Company.id != except_id)
    return db.session.scalar(stmt.limit(1)) is not None


def find(name_or_id):
    """The company with this id or (case-insensitive) name; CompanyError when none."""
    text = str(name_or_id or "").strip()
    company = db.session.get(Company, int(text)) if text.isdigit() and len(text) < 10 else None
    if company is None and text:
        company = db.session.scalar(sa.select(Company).where(sa.func.lower(Company.name) == text.lower()))
    if company is None:
        raise CompanyError(f"Unknown company: {text[:120]}")
    return company


def create_company(name, timezone, actor_id=None, is_demo=False):
    """Add a company (active, no key yet); CompanyError on a bad time zone or a name already used."""
    name, timezone = clean_name(name), clean_timezone(timezone)
    if _name_taken(name):
        raise CompanyError(f"A company named {name!r} already exists.")
    company = Company(name=name, timezone=timezone, is_default=False, is_demo=is_demo, is_active=True)
    db.session.add(company)
    db.session.flush()
    record(company.id, actor_id, "company.create", f"company:{company.id}", name=name, timezone=timezone)
    return company


def rename_company(company, name, actor_id=None):
    """Give company a new (unused) name."""
    name = clean_name(name)
    if _name_taken(name, except_id=company.id):
        raise CompanyError(f"A company named {name!r} already exists.")
    old, company.name = company.name, name
    record(company.id, actor_id, "company.rename", f"company:{company.id}", old=old, new=name)
    return company


def set_active(company, active, actor_id=None):
    """Enable or disable company: a disabled company is never synced; the default one cannot be disabled."""
    if not active and company.is_default:
        raise CompanyError("The default company cannot be disabled.")
    company.is_active = bool(active)
    record(company.id, actor_id, "company.enable" if active else "company.disable", f"company:{company.id}")
    return company


def set_smartmoving_key(company, api_key, credentials_key, actor_id=None, client_id=None, plan_name=None,
                        webhook_secret=None):
    """Store company's SmartMoving key encrypted (and, when given, client id, plan, webhook secret).

    Refused (CompanyError) without CREDENTIALS_KEY. Takes effect at the company's next sync;
    a sync already running keeps the client it started with. The audit event holds no secret.
    """
    try:
        secret = credentials.clean_secret(api_key)
        encrypted = credentials.encrypt(credentials_key, secret)
        hook = credentials.encrypt(credentials_key, credentials.clean_secret(webhook_secret, "webhook secret")) \
            if webhook_secret else None
    except CredentialsError as error:
        raise CompanyError(str(error)) from None
    tier = clean_plan(plan_name)
    company.api_key_encrypted = encrypted
    company.api_key_last4 = credentials.last_shown(secret)
    company.key_set_at = utcnow()
    if client_id is not None:
        company.smartmoving_client_id = str(client_id).strip()[:120] or None
    if tier is not None:
        company.smartmoving_plan = tier
    if hook is not None:
        company.webhook_secret_encrypted = hook
    changed = ["key"] + (["client id"] if client_id is not None else []) + (["plan"] if tier else []) \
        + (["webhook secret"] if hook else [])
    record(company.id, actor_id, "company.set_key", f"company:{company.id}", changed=changed)
    return company


def key_note(company, config=None, environ=os.environ):
    """What pages say about a company's key: "set on <date> (…abcd)", never the key.

    Without a stored key: "environment" only when the variable it names (or, for the default company,
    SMARTMOVING_API_KEY) really holds one; "sandbox (demo)" when the company syncs from the built-in
    sandbox (config given); else "not set".
    """
    if not company.api_key_encrypted:
        if company.api_key_env and environ.get(company.api_key_env):
            return "environment"
        if config is not None and company.is_default and config.get("SMARTMOVING_API_KEY"):
            return "environment"
        if config is not None and credentials.mode_of(company, config) == "demo":
            return "sandbox (demo)"
        return "not set"
    ending = f" (ends {company.api_key_last4})" if company.api_key_last4 else ""
    return f"set on {company.key_set_at:%Y-%m-%d}{ending}" if company.key_set_at else f"set{ending}"


def last_syncs():
    """{company id: when its newest successful sync finished (naive UTC)}."""
    rows = db.session.execute(
        sa.select(SyncRun.company_id, sa.func.max(SyncRun.finished_at))
        .where(SyncRun.status.in_([RunStatus.SUCCESS.value, RunStatus.PARTIAL.value]))
        .group_by(SyncRun.company_id))
    return dict(rows.all())


def company_rows(config):
    """Every company for the super admin, by name, with mode, plan and last sync."""
    finished = last_syncs()
    companies = db.session.scalars(sa.select(Company).order_by(Company.is_default.desc(), Company.name))
    return [CompanyRow(company=company, mode=credentials.mode_of(company, config),
                       plan=company.smartmoving_plan or config.get("SMARTMOVING_PLAN") or "basic",
                       last_sync=finished.get(company.id), key_note=key_note(company, config))
            for company in companies]


def active_companies():
    """Companies that may be synced and switched to, by id."""
    return list(db.session.scalars(sa.select(Company).where(Company.is_active.is_(True)).order_by(Company.id)))
