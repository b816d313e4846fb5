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
from dashboard.models import CrewMember
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


def create_user(email, password, role, company, locations=(), full_name="", crew_name=None, actor=None,
                crew_member=None):
    """Validate and add a user, linked to crew_member when given; flushes, the caller commits."""
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
    if crew_member is not None:
        link_crew_member(user, crew_member, actor=actor)
    return user


def set_password(user, password):
    """Change a password, ending every session and API token of the user."""
    problem = password_problem(password)
    if problem:
        raise UserError(problem)
    user.password_hash = hash_password(password)
    end_all_access(user, actor=user)
    db.session.flush()


class CrewLinkError(UserError):
    """A link to a crew member that is refused (another company's, or already another active user's)."""


class CrewMemberChoiceError(UserError):
    """A crew member named by text that matches none or several people; candidates lists who it might be."""

    def __init__(self, message, candidates):
        super().__init__(message)
        self.candidates = candidates


def _name_key(text):
    """How a typed name is compared with the roster's: case and spacing ignored."""
    return " ".join(str(text).split()).casefold()


def crew_member_label(member):
    """ "#12 Sam Lee (Toronto, driver)": enough to tell two people of the same name apart."""
    facts = [part for part in (member.location.name if member.location else None, member.role,
                               None if member.is_active else "inactive") if part]
    return f"#{member.id} {member.name}" + (f" ({', '.join(facts)})" if facts else "")


def find_crew_member(company, name_or_id):
    """The crew member of company with this id, or the only one with this name (case and spacing ignored).

    A name that matches no one or several people raises CrewMemberChoiceError with the
    candidates (same name, else names containing the text), so the caller can list them.
    """
    text = " ".join(str(name_or_id or "").split())
    if not text:
        raise CrewMemberChoiceError("Name a crew member (a name or an id).", [])
    if text.isascii() and text.isdigit() and len(text) <= 12:
        member = db.session.scalar(sa.select(CrewMember).where(CrewMember.company_id == company.id,
                                                               CrewMember.id == int(text)))
        if member is not None:
            return member
    roster = list(db.session.scalars(sa.select(CrewMember).where(CrewMember.company_id == company.id)
                                     .order_by(CrewMember.name, CrewMember.id)))
    key = _name_key(text)
    same = [member for member in roster if _name_key(member.name) == key]
    if len(same) == 1:
        return same[0]
    if same:
        raise CrewMemberChoiceError(f"{len(same)} crew members of {company.name} are called {text!r}; "
                                    "give the id of the one you mean.", same)
    near = [member for member in roster if key in _name_key(member.name)][:20]
    raise CrewMemberChoiceError(f"No crew member of {company.name} is called {text!r}.", near)


def linked_user(crew_member, other_than=None):
    """The active user linked to crew_member (other than the user other_than), or None."""
    stmt = sa.select(User).where(User.crew_member_id == crew_member.id, User.is_active_user.is_(True))
    if other_than is not None and other_than.id is not None:
        stmt = stmt.where(User.id != other_than.id)
    return db.session.scalars(stmt).first()


def link_crew_member(user, crew_member, actor=None):
    """Link user to crew_member (None unlinks); audited. Returns True when the link changed.

    A crew member of another company, or one already linked to another active user, is
    refused: My jobs and a person's own time off follow this link, so it must name one
    person for one account. crew_name follows the member's name (older screens show it).
    """
    if crew_member is not None:
        if crew_member.company_id != user.company_id:
            raise CrewLinkError("Pick a crew member of the user's own company.")
        holder = linked_user(crew_member, other_than=user)
        if holder is not None:
            raise CrewLinkError(f"{crew_member.name} is already linked to {holder.email}; unlink them there first.")
    old_id = user.crew_member_id
    new_id = crew_member.id if crew_member is not None else None
    if old_id == new_id:
        return False
    user.crew_member_id = new_id
    user.crew_member = crew_member
    if crew_member is not None:
        user.crew_name = crew_member.name
    db.session.add(AuditEvent(company_id=user.company_id, user_id=getattr(actor, "id", None),
                              action="user.crew_link", target=user.email,
                              detail={"crew_member_id": [old_id, new_id],
                                      "crew_member": crew_member.name if crew_member is not None else None}))
    db.session.flush()
    return True
