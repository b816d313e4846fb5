"""Configuration: defaults, then instance/config.py, then the environment, then tests.

Every value read from the environment goes through a typed parser that rejects junk,
so a typo in a deployment fails at start-up instead of misbehaving later.
"""
import os
import secrets
import sys
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

import sqlalchemy as sa

from dashboard.companies import credentials
from dashboard.jobs import crew_size
from dashboard.plans import settings as delivery_settings
from dashboard.sync import plan
from dashboard.timeutil import clock_hours


class ConfigError(RuntimeError):
    """The configuration cannot run: the message says which setting and why."""


def stop_on_config_error(error):
    """End a command or a server's start-up on a bad setting: one line naming it on stderr, exit status 2."""
    sys.stderr.write(f"Configuration error: {error}\n")
    sys.stderr.flush()
    raise SystemExit(2)


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
    # The whole of one call (connect, headers and body): a trickling server trips it.
    "SMARTMOVING_CALL_TIMEOUT": 60.0,
    # A single run never spends more than this many calls (a runaway guard).
    "SMARTMOVING_CALL_BUDGET": 2000,
    "SMARTMOVING_MAX_RETRY_WAIT": 120.0,
    # The SmartMoving plan ("basic" or "premium") and its monthly call quota; the
    # quota defaults to the plan's (20,000 or 125,000). See dashboard/sync/plan.py.
    "SMARTMOVING_PLAN": "basic",
    "SMARTMOVING_MONTHLY_QUOTA": None,
    # Company-local hours in which today's board is worth the most (swept most often).
    "SYNC_BUSINESS_HOURS": "06:00-20:00",
    # A run that stops renewing its lease for this long is taken to be dead.
    "SYNC_LEASE_SECONDS": 120,
    "SYNC_DEADLINE_SECONDS": 1800,
    # Opportunities written per sync transaction (dashboard/sync/service.py).
    "SYNC_WRITE_BATCH": 100,
    # A run that would remove more than this many jobs AND more than this share of the
    # window's jobs holds the removals ("removal pending") until a later run, a
    # SmartMoving deletion webhook or an admin confirms them: a fault upstream must
    # never empty the board.
    "REMOVAL_HOLD_MIN_JOBS": 5,
    "REMOVAL_HOLD_PERCENT": 20,
    "BOARD_REFRESH_SECONDS": 10,
    # Megabytes a worker's in-process caches (rendered boards, drawn rows, day reads, rosters, plan
    # marks) may hold together; dashboard/jobs/render_cache.py. 0 keeps nothing.
    "CACHE_MAX_MB": 64,
    # A job's span when SmartMoving gives no labour estimate (hours).
    "DEFAULT_JOB_HOURS": 4.0,
    # The working day the truck lanes show, in company time (HH:MM).
    "BOARD_DAY_START": "06:00",
    "BOARD_DAY_END": "20:00",
    "SYNC_STALE_MINUTES": 30,
    "SESSION_IDLE_MINUTES": 30,
    "SESSION_MAX_HOURS": 12,
    # Sign-in throttling (dashboard/auth/throttle.py): free failures per (account,
    # address) and per address, then delays from LOGIN_DELAY_SECONDS doubling to the cap.
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_MAX_FAILURES_PER_IP": 30,
    "LOGIN_FAILURE_WINDOW_MINUTES": 15,
    "LOGIN_DELAY_SECONDS": 30,
    "LOGIN_MAX_DELAY_SECONDS": 900,
    # Reverse proxies in front of the app (each appends to X-Forwarded-For): ProxyFix
    # trusts that many hops, so throttling and logs see the real client address.
    "TRUSTED_PROXIES": 0,
    "SANDBOX_PORT": 5001,
    # Days of SmartMoving history demo start-up fills once (reports need past days).
    "DEMO_HISTORY_DAYS": 56,
    "WTF_CSRF_TIME_LIMIT": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    # SmartMoving webhooks (Premium; dashboard/webhooks): unset secret = the route answers 404.
    "SMARTMOVING_WEBHOOK_SECRET": None,
    "SMARTMOVING_WEBHOOK_HEADER": "X-Webhook-Secret",
    # Identical deliveries this close together are one event (SmartMoving may repeat one).
    "WEBHOOK_DEDUPE_SECONDS": 60,
    # An event naming a job we do not store asks for a sweep: at most one per this many minutes.
    "WEBHOOK_SWEEP_MINUTES": 5,
    # An event that failed this many times is marked FAILED; the regular sync reconciles.
    "WEBHOOK_MAX_ATTEMPTS": 5,
    # POST /auth/token's JWTs (dashboard/auth/jwt_tokens.py): their lifetime, and their key
    # (unset: derived from SECRET_KEY; if set, at least 32 characters and the same on every worker).
    "JWT_TTL_MINUTES": 60,
    "JWT_SECRET": None,
    # Browser origins (comma-separated, e.g. https://crm.example.com) whose scripts may call
    # the JSON API with a bearer token (dashboard/cors.py). Empty: none.
    "CORS_ORIGINS": "",
    # Company time on the day before a job by which its crew should have confirmed their plan;
    # later, people who have not are readiness blockers (dashboard/confirm/states.py).
    "PLAN_CONFIRM_BY": "18:00",
    # People a job needs by SmartMoving move size when it states no crew size (dashboard/jobs/crew_size.py).
    "CREW_SIZE_DEFAULTS": "studio=2,1br=2,2br=3,3br=4,4br=5",
    # The crew's plan (dashboard/plans): e-mail over SMTP, SMS through Twilio, the origin of personal
    # links (unset: the publishing request's). Secrets come from the environment; see plans/settings.py.
    "SMTP_URL": None, "MAIL_FROM": None, "SMTP_TIMEOUT": 10.0,
    "TWILIO_ACCOUNT_SID": None, "TWILIO_AUTH_TOKEN": None, "TWILIO_FROM": None, "PUBLIC_BASE_URL": None,
    # Fernet key that encrypts each company's SmartMoving key (dashboard/companies/credentials.py);
    # unset: no key can be stored. Companies the scheduler syncs at once (a thread pool per tick).
    "CREDENTIALS_KEY": None, "SYNC_PARALLEL_COMPANIES": 2,
}

_INT_KEYS = (
    "SYNC_INTERVAL_MINUTES", "OPPORTUNITY_REFRESH_MINUTES", "REFERENCE_REFRESH_MINUTES",
    "SMARTMOVING_CALL_BUDGET", "SMARTMOVING_MONTHLY_QUOTA", "SYNC_LEASE_SECONDS",
    "SYNC_DEADLINE_SECONDS", "SYNC_WRITE_BATCH", "BOARD_REFRESH_SECONDS", "SYNC_STALE_MINUTES",
    "SESSION_IDLE_MINUTES", "SESSION_MAX_HOURS", "LOGIN_MAX_FAILURES", "LOGIN_MAX_FAILURES_PER_IP",
    "LOGIN_FAILURE_WINDOW_MINUTES", "LOGIN_DELAY_SECONDS", "LOGIN_MAX_DELAY_SECONDS", "TRUSTED_PROXIES",
    "SANDBOX_PORT", "REMOVAL_HOLD_MIN_JOBS", "REMOVAL_HOLD_PERCENT",
    "WEBHOOK_DEDUPE_SECONDS", "WEBHOOK_SWEEP_MINUTES", "WEBHOOK_MAX_ATTEMPTS", "DEMO_HISTORY_DAYS",
    "JWT_TTL_MINUTES", "SYNC_PARALLEL_COMPANIES", "CACHE_MAX_MB",
)
_FLOAT_KEYS = (
    "SMARTMOVING_MIN_INTERVAL", "SMARTMOVING_CONNECT_TIMEOUT", "SMARTMOVING_READ_TIMEOUT", "SMARTMOVING_CALL_TIMEOUT",
    "SMARTMOVING_MAX_RETRY_WAIT", "DEFAULT_JOB_HOURS", "SMTP_TIMEOUT",
)
_STR_KEYS = (
    "DATABASE_URL", "SECRET_KEY", "SMARTMOVING_BASE_URL", "SMARTMOVING_API_KEY",
    "SMARTMOVING_CLIENT_ID", "DASHBOARD_TIMEZONE", "BOARD_DAY_START", "BOARD_DAY_END",
    "SMARTMOVING_PLAN", "SYNC_BUSINESS_HOURS", "SMARTMOVING_WEBHOOK_SECRET", "SMARTMOVING_WEBHOOK_HEADER",
    "JWT_SECRET", "CORS_ORIGINS", "PLAN_CONFIRM_BY", "CREW_SIZE_DEFAULTS", "CREDENTIALS_KEY",
) + delivery_settings.KEYS


def _parse_not_negative(name, raw, convert, what):
    """convert(raw) (int or float) when it works and is >= 0, else a ConfigError naming the setting."""
    try:
        value = convert(str(raw).strip())
    except ValueError:
        raise ConfigError(f"{name} must be {what}, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {value}")
    return value


def parse_int(name, raw):
    """Parse a whole number >= 0 from the environment or fail with the setting's name."""
    return _parse_not_negative(name, raw, int, "a whole number")


def parse_float(name, raw):
    """Parse a number >= 0 from the environment or fail with the setting's name."""
    return _parse_not_negative(name, raw, float, "a number")


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
    """Check a time of day "HH:MM" (00:00 to 24:00) and return it zero-padded ("6:00" -> "06:00")."""
    text = str(raw).strip()
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and len(hours) <= 2):
        raise ConfigError(f"{name} must be a time of day as HH:MM, got {raw!r}")
    hour, minute = int(hours), int(minutes)
    if minute > 59 or hour > 24 or (hour == 24 and minute):
        raise ConfigError(f"{name} must be between 00:00 and 24:00, got {raw!r}")
    return f"{hour:02d}:{minute:02d}"


def parse_database_url(name, raw):
    """Check a SQLAlchemy URL (its form and that its driver is installed) and return it as text."""
    try:
        sa.engine.make_url(str(raw)).get_dialect()
    except sa.exc.ArgumentError:
        # The value is not echoed: it may carry a password.
        raise ConfigError(f"{name} must be a database URL such as postgresql+psycopg://user@host/db") from None
    except sa.exc.NoSuchModuleError:
        raise ConfigError(f"{name} names a database driver that is not installed "
                          f"(use sqlite:/// or postgresql+psycopg://)") from None
    return str(raw)


def parse_origins(name, raw):
    """A comma-separated list of browser origins (scheme://host[:port]) as a tuple; empty for none.

    No wildcard: each origin that may call the API with a bearer token is named.
    """
    items = raw if isinstance(raw, (list, tuple)) else str(raw or "").split(",")
    origins = []
    for item in (str(text).strip().rstrip("/") for text in items):
        if not item:
            continue
        try:
            parts = urlsplit(item)
            parts.port  # noqa: B018  (raises ValueError on a bad port)
        except ValueError:
            parts = None
        if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.path
                or parts.query or parts.fragment or parts.username or parts.password):
            raise ConfigError(f"{name} must list origins such as https://crm.example.com (no path, no *), "
                              f"got {item[:100]!r}")
        origins.append(item.lower())  # browsers send scheme and host in lower case
    return tuple(origins)


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

    plan_name = str(app.config.get("SMARTMOVING_PLAN") or "basic").strip().lower()
    if plan_name not in plan.QUOTAS:
        raise ConfigError(f"SMARTMOVING_PLAN must be basic or premium, got {plan_name!r}")
    app.config["SMARTMOVING_PLAN"] = plan_name
    if app.config.get("SMARTMOVING_MONTHLY_QUOTA") in (None, ""):
        app.config["SMARTMOVING_MONTHLY_QUOTA"] = plan.QUOTAS[plan_name]
    try:
        plan.parse_hours(app.config["SYNC_BUSINESS_HOURS"])
    except ValueError as error:
        raise ConfigError(f"SYNC_BUSINESS_HOURS: {error}") from None
    for key in _INT_KEYS:
        app.config[key] = parse_int(key, app.config[key])
    for key in _FLOAT_KEYS:
        app.config[key] = parse_float(key, app.config[key])
    if not 0 < app.config["DEFAULT_JOB_HOURS"] <= 24:
        raise ConfigError("DEFAULT_JOB_HOURS must be more than 0 and at most 24, "
                          f"got {app.config['DEFAULT_JOB_HOURS']}")
    for key in ("BOARD_DAY_START", "BOARD_DAY_END"):
        app.config[key] = parse_clock(key, app.config[key])
    day_start, day_end = (clock_hours(app.config[key]) for key in ("BOARD_DAY_START", "BOARD_DAY_END"))
    if day_start >= day_end:
        raise ConfigError(f"BOARD_DAY_START ({app.config['BOARD_DAY_START']}) must come before "
                          f"BOARD_DAY_END ({app.config['BOARD_DAY_END']})")
    app.config["BOARD_DAY_HOURS"] = (day_start, day_end)
    app.config["PLAN_CONFIRM_BY"] = parse_clock("PLAN_CONFIRM_BY", app.config["PLAN_CONFIRM_BY"])
    try:
        app.config["CREW_SIZE_DEFAULTS"] = crew_size.parse_defaults(app.config["CREW_SIZE_DEFAULTS"]) \
            if not isinstance(app.config["CREW_SIZE_DEFAULTS"], dict) else app.config["CREW_SIZE_DEFAULTS"]
    except ValueError as error:
        raise ConfigError(f"CREW_SIZE_DEFAULTS: {error}") from None
    app.config["DASHBOARD_TIMEZONE"] = parse_timezone("DASHBOARD_TIMEZONE", app.config["DASHBOARD_TIMEZONE"])
    app.config["SMARTMOVING_BASE_URL"] = str(app.config["SMARTMOVING_BASE_URL"]).rstrip("/")
    app.config["DATABASE_URL"] = parse_database_url("DATABASE_URL", app.config["DATABASE_URL"])
    if app.config["JWT_TTL_MINUTES"] < 1:
        raise ConfigError("JWT_TTL_MINUTES must be at least 1")
    if app.config.get("JWT_SECRET") and len(str(app.config["JWT_SECRET"])) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(f"JWT_SECRET must be at least {MIN_SECRET_KEY_LENGTH} characters when set")
    app.config["CORS_ORIGINS"] = parse_origins("CORS_ORIGINS", app.config["CORS_ORIGINS"])
    try:
        app.config["CREDENTIALS_KEY"] = credentials.parse_credentials_key("CREDENTIALS_KEY",
                                                                          app.config["CREDENTIALS_KEY"])
    except credentials.CredentialsError as error:
        raise ConfigError(str(error)) from None
    if app.config["SYNC_PARALLEL_COMPANIES"] < 1:
        raise ConfigError("SYNC_PARALLEL_COMPANIES must be at least 1")
    try:
        app.config.update(delivery_settings.parse(app.config))
    except ValueError as error:
        raise ConfigError(str(error)) from None

    # Demo mode: no API key means the built-in sandbox stands in for SmartMoving.
    app.config["DEMO_MODE"] = not app.config.get("SMARTMOVING_API_KEY")
    _check_secrets(app)
    if not app.config["DEMO_MODE"] and not app.config.get("TESTING"):
        # Production cookies travel over HTTPS only; COOKIE_SECURE=false for a plain-HTTP intranet.
        secure = parse_bool("COOKIE_SECURE", os.environ.get("COOKIE_SECURE", "true"))
        app.config["SESSION_COOKIE_SECURE"] = secure
        app.config["REMEMBER_COOKIE_SECURE"] = secure


# Production SECRET_KEYs are at least this long: a short one can be guessed offline from any signed cookie.
MIN_SECRET_KEY_LENGTH = 32


def _check_secrets(app):
    """SECRET_KEY and, in demo mode, the webhook secret: set, long enough, the same in every worker."""
    config = app.config
    if config["DEMO_MODE"]:
        # Generated once and kept in instance/, so gunicorn's workers (and restarts) share
        # them: a per-process key made 3 of 4 sign-ins fail as "form expired".
        if not config.get("SMARTMOVING_WEBHOOK_SECRET"):
            # Demo mode's sandbox announces its changes to this app by webhook (dashboard/demo.py).
            config["SMARTMOVING_WEBHOOK_SECRET"] = instance_secret(app.instance_path, "demo-webhook-secret")
        if not config.get("SECRET_KEY"):
            config["SECRET_KEY"] = instance_secret(app.instance_path, "demo-secret-key")
        return
    if config.get("TESTING"):
        config["SECRET_KEY"] = config.get("SECRET_KEY") or secrets.token_hex(32)
        return
    key = str(config.get("SECRET_KEY") or "")
    if not key:
        raise ConfigError("SECRET_KEY is required when SMARTMOVING_API_KEY is set (production mode)")
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters outside demo mode, "
                          f"got {len(key)} (python3 -c 'import secrets; print(secrets.token_hex(32))')")


def instance_secret(instance_path, name):
    """The secret kept in instance_path/name (mode 0600), generated there by the first process that asks.

    Written to a private temporary file and linked into place, so processes starting
    together never read a half-written file and all end up with the same secret.
    """
    path = os.path.join(instance_path, name)
    try:
        if not os.path.exists(path):
            _write_once(path, secrets.token_hex(32))
        with open(path) as handle:
            secret = handle.read().strip()
    except OSError as error:
        raise ConfigError(f"SECRET_KEY: demo mode keeps its secrets in {instance_path}, which failed "
                          f"({error.strerror}); set SECRET_KEY and SMARTMOVING_WEBHOOK_SECRET instead") from None
    if len(secret) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(f"{path} holds no usable secret: delete it and start again")
    return secret


def _write_once(path, text):
    """Create path (mode 0600) holding text, unless another process created it first."""
    temporary = f"{path}.{os.getpid()}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass  # another process got there first: use its secret
    finally:
        os.unlink(temporary)
