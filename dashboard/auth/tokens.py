"""API tokens: shown once, stored as SHA-256 (a token is long and random, so no slow hash is needed)."""
import hashlib
import secrets

import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import ApiToken
from dashboard.models import utcnow

TOKEN_PREFIX = "smd_"


def hash_token(token):
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(user):
    """Create a token for user; returns (ApiToken row, plaintext token). The caller commits."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=hash_token(token), prefix=token[:10])
    db.session.add(row)
    db.session.flush()
    return row, token


def user_for_token(token):
    """The active user owning token, or None."""
    if not token or len(token) > 200:
        return None
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or not row.user.is_active:
        return None
    return row.user


def revoke_tokens(user, prefix=None):
    """Delete user's tokens (only the one starting with prefix, when given); returns how many."""
    stmt = sa.delete(ApiToken).where(ApiToken.user_id == user.id)
    if prefix:
        stmt = stmt.where(ApiToken.prefix == prefix[:10])
    return db.session.execute(stmt).rowcount


def touch(row_id):
    """Record when a token was last used."""
    db.session.execute(sa.update(ApiToken).where(ApiToken.id == row_id).values(last_used_at=utcnow()))
