"""User administration as plain functions: used by the CLI, the admin pages and tests."""
import logging
import secrets

import sqlalchemy as sa
from email_validator import EmailNotValidError
from email_validator import validate_email

from dashboard.auth.passwords import hash_password
from dashboard.auth.passwords import password_problem
from dashboard.auth.tokens import revoke_tokens
from dashboard.db import db
from dashboard.models import AuditEvent
from dashboard.models import Company
from dashboard.models import Location
from dashboard.models import User
from dashboard.permissions import parse_role

log = logging.getLogger(__name__)


class UserError(ValueError):
    """Input that cannot make a valid user; the message is safe to show."""


EMAIL_IN_USE = "That email address cannot be used for a new user; choose another, or ask a super admin."


def new_session_token():
    """A fresh value for User.session_token (what session cookies name the user by)."""
    return secrets.token_hex(32)


def end_sessions(user):
    """Sign user out of every browser: cookies naming the old session token stop loading them."""
    user.session_token = new_session_token()


def end_all_access(user, actor=None):
    """End every session and revoke every API token of user (password, role or state changed)."""
    end_sessions(user)
    revoke_tokens(user, actor=actor)


def find_company(name=None):
    """The named company, or the default company when name is None."""
    if name:
        company = db.session.scalar(sa.select(Company).where(Company.name == name))
        if company is None:
            raise UserError(f"Unknown company: {name}")
        return company
    company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
    if company is None:
        raise UserError("No default company yet: run `flask --app dashboard init-db` first.")
    return company


def resolve_locations(company, names):
    """Locations of company with these names (case-insensitive); unknown names are an error."""
    found = []
    for name in names or ():
        location = db.session.scalar(
            sa.select(Location).where(Location.company_id == company.id,
                                      sa.func.lower(Location.name) == name.strip().lower())
        )
        if location is None:
            raise UserError(f"Unknown location for {company.name}: {name}")
        found.append(location)
    return found


def normalise_email(email):
    """A valid address in its canonical form (lower case), or UserError saying what is wrong with it."""
    text = (email or "").strip()
    try:
        # Syntax only: no DNS look-up at sign-up time. test_environment admits the
        # reserved .test domain of the demo users; other special-use names stay refused.
        info = validate_email(text, check_deliverability=False, test_environment=True)
    except EmailNotValidError as error:
        raise UserError(f"Not an email address: {text[:80]!r}. {error}") from None
    if len(info.normalized) > 254:
        raise UserError("An email address has at most 254 characters.")
    return info.normalized.lower()


def create_user(email, password, role, company, locations=(), full_name="", crew_name=None, actor=None):
    """Validate and add a user; flushes, the caller commits."""
    email = normalise_email(email)
    parsed = parse_role(role)
    if parsed is None:
        raise UserError(f"Unknown role: {role}")
    problem = password_problem(password)
    if problem:
        raise UserError(problem)
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        # The same words whichever company holds the address: an admin of one company
        # must not learn from them who has an account in another.
        raise UserError(EMAIL_IN_USE)
    user = User(
        email=email, role=parsed.value, company_id=company.id, password_hash=hash_password(password),
        full_name=(full_name or "").strip(), crew_name=(crew_name or None), session_token=new_session_token(),
        locations=list(locations),
    )
    db.session.add(user)
    db.session.flush()
    db.session.add(AuditEvent(company_id=company.id, user_id=getattr(actor, "id", None), action="user.create",
                              target=email, detail={"role": parsed.value}))
    log.info("user %s created with role %s", email, parsed.value)
    return user


def set_password(user, password):
    """Change a password, ending every session and API token of the user."""
    problem = password_problem(password)
    if problem:
        raise UserError(problem)
    user.password_hash = hash_password(password)
    end_all_access(user, actor=user)
    db.session.flush()
