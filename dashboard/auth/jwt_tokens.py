"""Short-lived JWTs from POST /auth/token: signed HS256, and dead as soon as the user's sessions are.

A JWT carries `ver`, a digest of the user's session token. Logging out (every
browser), a password or role change and disabling all rotate that token
(dashboard/auth/users.py), so every JWT issued before stops working on its next
request, just like the session cookies. Only HS256 with our key is accepted: `alg:
none` and every other algorithm are refused by PyJWT's allow-list.
"""
import hashlib
import hmac
import uuid
from datetime import timedelta

import jwt
import sqlalchemy.orm as so
from flask import current_app

from dashboard.db import db
from dashboard.guards import parse_id
from dashboard.models import User
from dashboard.models import utcnow
from dashboard.permissions import Perm
from dashboard.permissions import can

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("sub", "company", "role", "exp", "iat", "jti", "ver")
# Fixed label: the JWT key derived from SECRET_KEY is not the key that signs cookies.
_KEY_LABEL = b"dashboard.auth.jwt_tokens/HS256/v1"


class TokenRejected(Exception):
    """A bearer JWT that signs nobody in; the message is safe to show the caller."""


def signing_key():
    """JWT_SECRET when set, else an HMAC of SECRET_KEY with a fixed label (32 bytes)."""
    config = current_app.config
    if config.get("JWT_SECRET"):
        return str(config["JWT_SECRET"]).encode("utf-8")
    return hmac.new(str(config["SECRET_KEY"]).encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest()


def session_version(user):
    """The per-user version a JWT carries: a digest of the session token (never the token itself)."""
    return hashlib.sha256(b"jwt-version:" + user.session_token.encode("utf-8")).hexdigest()[:16]


def looks_like_jwt(credentials):
    """True for three dot-separated parts; opaque API tokens (smd_...) contain no dot."""
    return credentials.count(".") == 2


def issue(user, now=None):
    """A signed JWT for user: (token, seconds it lives)."""
    now = now or utcnow()
    ttl = timedelta(minutes=current_app.config["JWT_TTL_MINUTES"])
    claims = {
        "sub": str(user.id), "company": user.company_id, "role": user.role,
        "iat": now, "exp": now + ttl, "jti": uuid.uuid4().hex, "ver": session_version(user),
    }
    return jwt.encode(claims, signing_key(), algorithm=ALGORITHM), int(ttl.total_seconds())


def _claims(token):
    """The verified claims of token, or TokenRejected (bad signature, algorithm, shape, or expired)."""
    if len(token) > 2000 or not token.isascii():
        raise TokenRejected("The bearer token is not one of ours.")
    try:
        return jwt.decode(token, signing_key(), algorithms=[ALGORITHM], options={"require": list(REQUIRED_CLAIMS)})
    except jwt.ExpiredSignatureError:
        raise TokenRejected("The bearer token has expired; get a new one from POST /auth/token.") from None
    except jwt.InvalidTokenError:
        raise TokenRejected("The bearer token is not one of ours.") from None


def user_for(token):
    """The live user a JWT names, or TokenRejected: checked against the database on every request."""
    claims = _claims(token)
    user_id = parse_id(claims["sub"])
    user = db.session.get(User, user_id, options=[so.joinedload(User.company)]) if user_id else None
    if (user is None or not user.is_active or not can(user, Perm.USE_API)
            or claims["ver"] != session_version(user) or claims["role"] != user.role
            or claims["company"] != user.company_id):
        raise TokenRejected("The bearer token is no longer valid; get a new one from POST /auth/token.")
    return user
