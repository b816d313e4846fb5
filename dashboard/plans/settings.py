"""The delivery settings (SMTP_URL, MAIL_FROM, TWILIO_*, PUBLIC_BASE_URL): parsed once at start-up.

dashboard/config.py calls parse(); a malformed value raises ValueError with one line naming
the setting (never echoing a password), which config turns into its ConfigError.
"""
from typing import NamedTuple
from urllib.parse import parse_qs
from urllib.parse import unquote
from urllib.parse import urlsplit

# The keys config.py reads from the environment for the crew's plan.
KEYS = ("SMTP_URL", "MAIL_FROM", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM", "PUBLIC_BASE_URL")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


class SmtpSettings(NamedTuple):
    """Where and how to hand mail over: security is 'ssl' (smtps://), 'starttls' or None."""
    host: str
    port: int
    username: str | None
    password: str | None
    security: str | None


def parse_smtp_url(raw):
    """SMTP_URL (smtp://user:pass@host:port, smtps://..., ?starttls=1) as SmtpSettings, None when unset."""
    if raw in (None, ""):
        return None
    try:
        parts = urlsplit(str(raw).strip())
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("SMTP_URL must look like smtp://user:password@host:587?starttls=1 or smtps://host:465")
    query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = sorted(set(query) - {"starttls"})
    if unknown:
        raise ValueError(f"SMTP_URL: unknown option {unknown[0][:40]!r} (only ?starttls=1)")
    starttls = query.get("starttls", "").strip().lower()
    if starttls not in _TRUE + _FALSE:
        raise ValueError("SMTP_URL: starttls must be 1 or 0")
    if parts.scheme == "smtps" and starttls in _TRUE:
        raise ValueError("SMTP_URL: smtps:// is TLS from the start; drop ?starttls=1 (or use smtp://)")
    security = "ssl" if parts.scheme == "smtps" else "starttls" if starttls in _TRUE else None
    default_port = 465 if security == "ssl" else 25
    return SmtpSettings(host=parts.hostname, port=port or default_port,
                        username=unquote(parts.username) if parts.username else None,
                        password=unquote(parts.password) if parts.password else None, security=security)


def parse_mail_from(raw, smtp):
    """MAIL_FROM: an address with an @ (optionally "Name <addr>"); required once SMTP_URL is set."""
    text = str(raw or "").strip()
    if not text:
        if smtp is not None:
            raise ValueError("MAIL_FROM must be set when SMTP_URL is (the sender address, e.g. plans@example.com)")
        return None
    if "@" not in text or "\n" in text or "\r" in text or len(text) > 254:
        raise ValueError("MAIL_FROM must be an e-mail address such as plans@example.com")
    return text


def parse_twilio(sid, token, sender):
    """(sid, token, from) when all three TWILIO_* are set, None when none is; ValueError when only some are."""
    values = [str(value).strip() if value not in (None, "") else "" for value in (sid, token, sender)]
    if not any(values):
        return None
    if not all(values):
        raise ValueError("TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM must be set together")
    if not values[0].startswith("AC") or not values[0].isalnum() or len(values[0]) > 64:
        raise ValueError("TWILIO_ACCOUNT_SID must be an account SID such as AC0123...")
    return tuple(values)


def parse_public_base_url(raw):
    """PUBLIC_BASE_URL: an origin such as https://dispatch.example.com (no query), or None when unset."""
    if raw in (None, ""):
        return None
    text = str(raw).strip().rstrip("/")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        parts = None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query
            or parts.fragment or parts.username or parts.password):
        raise ValueError("PUBLIC_BASE_URL must be an origin such as https://dispatch.example.com")
    return text


def parse(config):
    """The normalised delivery settings of config (a mapping): what config.py stores back."""
    smtp = parse_smtp_url(config.get("SMTP_URL"))
    return {
        "SMTP": smtp,
        "MAIL_FROM": parse_mail_from(config.get("MAIL_FROM"), smtp),
        "TWILIO": parse_twilio(config.get("TWILIO_ACCOUNT_SID"), config.get("TWILIO_AUTH_TOKEN"),
                               config.get("TWILIO_FROM")),
        "PUBLIC_BASE_URL": parse_public_base_url(config.get("PUBLIC_BASE_URL")),
    }
