"""API tokens: shown once, stored as SHA-256 (a token is long and random, so no slow hash is needed)."""
import hashlib
import logging
import secrets
from datetime import timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from dashboard.db import db
from dashboard.models import ApiToken
from dashboard.models import AuditEvent
from dashboard.models import User
from dashboard.models import utcnow
from dashboard.permissions import Perm
from dashboard.permissions import Role
from dashboard.permissions import Scope
from dashboard.permissions import can
from dashboard.permissions import scope_of

log = logging.getLogger(__name__)

TOKEN_PREFIX = "smd_"
# last_used_at is a hint for people reviewing tokens, not a log: one write a minute is plenty.
TOUCH_INTERVAL = timedelta(minutes=1)


def hash_token(token):
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _audit(row, action, actor):
    db.session.add(AuditEvent(company_id=row.user.company_id, user_id=getattr(actor, "id", None), action=action,
                              target=f"token:{row.prefix}", detail={"owner": row.user.email, "name": row.name or None}))


def issue_token(user, name="", actor=None, expires_days=None):
    """Create a token for user, valid expires_days (None: until revoked); returns (ApiToken row, plaintext token).

    Flushes; the caller commits.
    """
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(days=expires_days) if expires_days else None
    row = ApiToken(user_id=user.id, name=(name or "").strip()[:80], token_hash=hash_token(token), prefix=token[:10],
                   expires_at=expires_at)
    db.session.add(row)
    db.session.flush()
    row.user = user
    _audit(row, "token.create", actor or user)
    return row, token


def token_row(token):
    """The live ApiToken row for a plaintext token whose user may use the API, or None."""
    if not token or len(token) > 200 or not token.isascii():
        return None
    row = db.session.scalar(sa.select(ApiToken).options(so.joinedload(ApiToken.user))
                            .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None),
                                   sa.or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > utcnow())))
    if row is None or not row.user.is_active or not can(row.user, Perm.USE_API):
        return None
    return row


def touch(row, now=None):
    """Record that row was used, at most once per TOUCH_INTERVAL, in a write of its own.

    Its own short transaction: the request's session may be a read-only one, and a
    failed touch (a locked SQLite file) must never fail the API call it belongs to.
    """
    now = now or utcnow()
    if row.last_used_at is not None and now - row.last_used_at < TOUCH_INTERVAL:
        return
    stmt = (sa.update(ApiToken).where(ApiToken.id == row.id)
            .where(sa.or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - TOUCH_INTERVAL))
            .values(last_used_at=now))
    try:
        with db.engine.connect().execution_options(sqlite_immediate=True) as conn:
            with conn.begin():
                conn.execute(stmt)
    except sa.exc.OperationalError:
        log.warning("could not record the use of token %s", row.prefix)


def revoke(row, actor=None):
    """Revoke one token (flushes; the caller commits). Revoking twice changes nothing."""
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        _audit(row, "token.revoke", actor)
        db.session.flush()


def revoke_tokens(user, prefix=None, actor=None):
    """Revoke user's live tokens (only those starting with prefix, when given); returns how many."""
    stmt = sa.select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    if prefix:
        stmt = stmt.where(ApiToken.prefix == prefix[:10])
    rows = list(db.session.scalars(stmt))
    for row in rows:
        revoke(row, actor)
    return len(rows)


def tokens_visible_to(user):
    """Tokens user may see on the token page: their own; every user's in scope for admins."""
    stmt = sa.select(ApiToken).join(User, ApiToken.user_id == User.id).options(so.contains_eager(ApiToken.user)) \
        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc())
    if not can(user, Perm.MANAGE_USERS):
        return list(db.session.scalars(stmt.where(ApiToken.user_id == user.id)))
    if scope_of(user) is not Scope.ALL_COMPANIES:
        # An ADMIN manages their company's users but not its SUPER_ADMINs (as on the users page).
        stmt = stmt.where(User.company_id == user.company_id,
                          sa.or_(User.role != Role.SUPER_ADMIN.value, User.id == user.id))
    return list(db.session.scalars(stmt))


def token_for(user, token_id):
    """The token with this id if user may revoke it (their own, or in an admin's scope), else None."""
    row = db.session.get(ApiToken, token_id)
    if row is None:
        return None
    if row.user_id == user.id:
        return row
    if not can(user, Perm.MANAGE_USERS):
        return None
    if scope_of(user) is Scope.ALL_COMPANIES:
        return row
    if row.user.company_id == user.company_id and row.user.role != Role.SUPER_ADMIN.value:
        return row
    return None
