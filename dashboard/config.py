"""Configuration: defaults, then instance/config.py, then the environment, then tests.

Every value read from the environment goes through a typed parser that rejects junk,
so a typo in a deployment fails at start-up instead of misbehaving later.
"""
import os
import re
import secrets
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError


class ConfigError(RuntimeError):
    """The configuration cannot run: the message says which setting and why."""


DEFAULTS = {
    "SMARTMOVING_BASE_URL": "https://api-public.smartmoving.com/v1",
    "SMARTMOVING_API_KEY": None,
    "SMARTMOVING_CLIENT_ID": None,
    "DASHBOARD_TIMEZONE": "America/Toronto",
    "SYNC_INTERVAL_MINUTES": 10,
    # Opportunity detail is re-fetched when the sweep shows a change, or when the
    # stored copy is older than this (detail-only edits never show in the sweep).
    "OPPORTUNITY_REFRESH_MINUTES": 60,
    # Branches and crew members change rarely; refreshed at most this often, or at
    # once when a sync meets a branch it does not know.
    "REFERENCE_REFRESH_MINUTES": 360,
    # Seconds between SmartMoving calls: 0.5 s keeps us at <= 120 calls/min.
    "SMARTMOVING_MIN_INTERVAL": 0.5,
    "SMARTMOVING_CONNECT_TIMEOUT": 5.0,
    "SMARTMOVING_READ_TIMEOUT": 30.0,
    # A single run never spends more than this many calls (a runaway guard).
    "SMARTMOVING_CALL_BUDGET": 2000,
    "SMARTMOVING_MAX_RETRY_WAIT": 120.0,
    "SMARTMOVING_MONTHLY_QUOTA": 20000,
    # A run that stops renewing its lease for this long is taken to be dead.
    "SYNC_LEASE_SECONDS": 120,
    "SYNC_DEADLINE_SECONDS": 1800,
    # A run that would remove more than this many jobs AND more than this share of the
    # window's jobs holds the removals ("removal pending") until a later run, a
    # SmartMoving deletion webhook or an admin confirms them: a fault upstream must
    # never empty the board.
    "REMOVAL_HOLD_MIN_JOBS": 5,
    "REMOVAL_HOLD_PERCENT": 20,
    "BOARD_REFRESH_SECONDS": 60,
    "SYNC_STALE_MINUTES": 30,
    "SESSION_IDLE_MINUTES": 30,
    "SESSION_MAX_HOURS": 12,
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_FAILURE_WINDOW_MINUTES": 15,
    "SANDBOX_PORT": 5001,
    # A job's length when SmartMoving gives no labour + travel estimate; the working
    # day the lanes and utilisation are drawn against (company-local HH:MM).
    "DEFAULT_JOB_HOURS": 4.0,
    "BOARD_DAY_START": "06:00",
    "BOARD_DAY_END": "20:00",
    # Days of SmartMoving history demo start-up fills once (reports need past days).
    "DEMO_HISTORY_DAYS": 56,
    "WTF_CSRF_TIME_LIMIT": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "MAX_CONTENT_LENGTH": 1024 * 1024,
}

_INT_KEYS = (
    "SYNC_INTERVAL_MINUTES", "OPPORTUNITY_REFRESH_MINUTES", "REFERENCE_REFRESH_MINUTES",
    "SMARTMOVING_CALL_BUDGET", "SMARTMOVING_MONTHLY_QUOTA", "SYNC_LEASE_SECONDS",
    "SYNC_DEADLINE_SECONDS", "BOARD_REFRESH_SECONDS", "SYNC_STALE_MINUTES",
    "SESSION_IDLE_MINUTES", "SESSION_MAX_HOURS", "LOGIN_MAX_FAILURES",
    "LOGIN_FAILURE_WINDOW_MINUTES", "SANDBOX_PORT", "REMOVAL_HOLD_MIN_JOBS", "REMOVAL_HOLD_PERCENT",
    "DEMO_HISTORY_DAYS",
)
_FLOAT_KEYS = (
    "SMARTMOVING_MIN_INTERVAL", "SMARTMOVING_CONNECT_TIMEOUT", "SMARTMOVING_READ_TIMEOUT",
    "SMARTMOVING_MAX_RETRY_WAIT", "DEFAULT_JOB_HOURS",
)
_STR_KEYS = (
    "DATABASE_URL", "SECRET_KEY", "SMARTMOVING_BASE_URL", "SMARTMOVING_API_KEY",
    "SMARTMOVING_CLIENT_ID", "DASHBOARD_TIMEZONE", "BOARD_DAY_START", "BOARD_DAY_END",
)


def parse_int(name, raw):
    """Parse a whole number >= 0 from the environment or fail with the setting's name."""
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {value}")
    return value


def parse_float(name, raw):
    """Parse a number >= 0 from the environment or fail with the setting's name."""
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {value}")
    return value


def parse_bool(name, raw):
    """Parse true/false, yes/no, 1/0; anything else is an error, never silently true."""
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def parse_timezone(name, raw):
    """Check an IANA zone name (e.g. America/Toronto) and return it unchanged."""
    try:
        ZoneInfo(str(raw))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name} must be an IANA time zone such as America/Toronto, got {raw!r}") from None
    return str(raw)


def parse_clock(name, raw):
    """Parse HH:MM (00:00-24:00) into fractional hours, or fail with the setting's name."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", str(raw).strip())
    hours = int(match.group(1)) + int(match.group(2)) / 60 if match and int(match.group(2)) < 60 else None
    if hours is None or hours > 24:
        raise ConfigError(f"{name} must be a time of day such as 06:00, got {raw!r}")
    return hours


def load_config(app, test_config=None):
    """Fill app.config in precedence order and validate what the app cannot run without."""
    app.config.from_mapping(DEFAULTS)
    app.config["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "dashboard.sqlite")
    app.config.from_pyfile("config.py", silent=True)
    for key in _STR_KEYS + _INT_KEYS + _FLOAT_KEYS:
        if os.environ.get(key) not in (None, ""):
            app.config[key] = os.environ[key]
    if test_config:
        app.config.update(test_config)

    for key in _INT_KEYS:
        app.config[key] = parse_int(key, app.config[key])
    for key in _FLOAT_KEYS:
        app.config[key] = parse_float(key, app.config[key])
    app.config["DASHBOARD_TIMEZONE"] = parse_timezone("DASHBOARD_TIMEZONE", app.config["DASHBOARD_TIMEZONE"])
    app.config["SMARTMOVING_BASE_URL"] = str(app.config["SMARTMOVING_BASE_URL"]).rstrip("/")
    day_start = parse_clock("BOARD_DAY_START", app.config["BOARD_DAY_START"])
    day_end = parse_clock("BOARD_DAY_END", app.config["BOARD_DAY_END"])
    if day_end <= day_start:
        raise ConfigError("BOARD_DAY_END must be later than BOARD_DAY_START")
    app.config["BOARD_DAY_HOURS"] = (day_start, day_end)

    # Demo mode: no API key means the built-in sandbox stands in for SmartMoving.
    app.config["DEMO_MODE"] = not app.config.get("SMARTMOVING_API_KEY")
    if not app.config.get("SECRET_KEY"):
        if app.config["DEMO_MODE"] or app.config.get("TESTING"):
            app.config["SECRET_KEY"] = secrets.token_hex(32)
        else:
            raise ConfigError("SECRET_KEY is required when SMARTMOVING_API_KEY is set (production mode)")
    if not app.config["DEMO_MODE"] and not app.config.get("TESTING"):
        # Production cookies travel over HTTPS only; COOKIE_SECURE=false for a plain-HTTP intranet.
        secure = parse_bool("COOKIE_SECURE", os.environ.get("COOKIE_SECURE", "true"))
        app.config["SESSION_COOKIE_SECURE"] = secure
        app.config["REMEMBER_COOKIE_SECURE"] = secure
