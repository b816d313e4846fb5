"""Per-company SmartMoving credentials, encrypted at rest with Fernet under CREDENTIALS_KEY.

The database holds Fernet tokens only: a stolen copy of it without CREDENTIALS_KEY
reveals no key. A key is never shown again once stored; pages say when it was set
and its last four characters.
"""
import os

from cryptography.fernet import Fernet
from cryptography.fernet import InvalidToken

LAST_SHOWN = 4


class CredentialsError(ValueError):
    """A key cannot be stored or read: the message says why (never the key itself)."""


def parse_credentials_key(name, raw):
    """Check a Fernet key (32 url-safe base64-encoded bytes) and return it as text; None when unset."""
    if raw in (None, ""):
        return None
    text = str(raw).strip()
    try:
        Fernet(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        # The value is not echoed: it is a secret.
        raise CredentialsError(f"{name} must be a Fernet key (44 url-safe base64 characters; make one with "
                               f"python -c \"from cryptography.fernet import Fernet; "
                               f"print(Fernet.generate_key().decode())\")") from None
    return text


def _fernet(credentials_key):
    """The Fernet for credentials_key, or CredentialsError when none is configured."""
    if not credentials_key:
        raise CredentialsError("CREDENTIALS_KEY is not set: SmartMoving keys cannot be stored without it "
                               "(set it to a Fernet key, the same in every process).")
    return Fernet(credentials_key.encode("ascii"))


def encrypt(credentials_key, secret):
    """The Fernet token (text) of secret under credentials_key."""
    return _fernet(credentials_key).encrypt(secret.encode("utf-8")).decode("ascii")


def decrypt(credentials_key, token):
    """The secret a stored token holds; CredentialsError when CREDENTIALS_KEY is missing or another key."""
    try:
        return _fernet(credentials_key).decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise CredentialsError("the stored SmartMoving key does not open with CREDENTIALS_KEY "
                               "(was CREDENTIALS_KEY changed?); set the company's key again") from None


def clean_secret(text, what="SmartMoving API key"):
    """A key as typed or piped in, trimmed; CredentialsError when empty or not one line of printable text."""
    secret = (text or "").strip()
    if not secret:
        raise CredentialsError(f"the {what} is empty")
    if len(secret) > 500 or any(not char.isprintable() or char.isspace() for char in secret):
        raise CredentialsError(f"the {what} must be one word of printable characters (at most 500)")
    return secret


def last_shown(secret):
    """What pages may show of a key: its last four characters (none of a short one)."""
    return secret[-LAST_SHOWN:] if len(secret) >= 3 * LAST_SHOWN else None


def has_stored_key(company):
    """True when company holds an encrypted key of its own."""
    return bool(company.api_key_encrypted)


def api_key_for(company, config, environ=os.environ):
    """The SmartMoving API key to use for company now, or None.

    In order: the encrypted key set on the Companies page or by `flask set-smartmoving-key`;
    the environment variable named by company.api_key_env; SMARTMOVING_API_KEY for the default company.
    Read at the start of each sync, so a new key takes effect at the next sync and a
    running sync keeps the client it started with.
    """
    if company.api_key_encrypted:
        return decrypt(config.get("CREDENTIALS_KEY"), company.api_key_encrypted)
    if company.api_key_env and environ.get(company.api_key_env):
        return environ[company.api_key_env]
    if company.is_default:
        return config.get("SMARTMOVING_API_KEY") or None
    return None


def client_id_for(company, config):
    """The x-client-id for company: its own, else SMARTMOVING_CLIENT_ID for the default company."""
    if company.smartmoving_client_id:
        return company.smartmoving_client_id
    return config.get("SMARTMOVING_CLIENT_ID") if company.is_default else None


def has_credentials(company, config, environ=os.environ):
    """True when a sync of company has a key to send (encrypted, env var, default, or the demo sandbox)."""
    if company.api_key_encrypted or (company.api_key_env and environ.get(company.api_key_env)):
        return True
    if company.is_default:
        return True   # SMARTMOVING_API_KEY, or the demo sandbox without one
    return bool(company.is_demo and config.get("DEMO_MODE"))


def mode_of(company, config):
    """"demo" when company's data comes from the built-in sandbox, else "live"."""
    if company.api_key_encrypted or (company.api_key_env and os.environ.get(company.api_key_env)):
        return "live"
    if company.is_default:
        return "demo" if config.get("DEMO_MODE") else "live"
    return "demo" if company.is_demo else "live"
