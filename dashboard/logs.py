"""Structured logging: one JSON object per line on stderr, secrets redacted."""
import json
import logging
import os
import re
import sys
import time
import traceback

from dashboard.error_text import describe_error

_SECRET_PATTERNS = [
    # Header dumps: x-api-key: abc, 'x-api-key': 'abc', "x-api-key"="abc"
    (re.compile(r"(x-api-key['\"]?\s*[:=]\s*['\"]?)[^'\",\s}]+", re.I), r"\1[REDACTED]"),
    # Query strings and key=value text: api-key=, api_key=, apikey=, access_token=, password=
    (re.compile(r"((?:api[-_]?key|access[-_]?token|token|password|secret)=)[^&\s'\",]+", re.I), r"\1[REDACTED]"),
    (re.compile(r"(Bearer\s+)[A-Za-z0-9_\-\.~+/=]+"), r"\1[REDACTED]"),
    # Credentials inside database URLs: scheme://user:password@host
    (re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^/\s:@]+:)[^@\s/]+(@)", re.I), r"\1[REDACTED]\2"),
]

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
# Environment variables whose values are secrets whatever the app's config says.
_SECRET_ENV_RE = re.compile(r"(API_KEY|SECRET|TOKEN|PASSWORD)", re.I)
_MIN_SECRET_LENGTH = 6


def redact(text):
    """Remove API keys, bearer tokens and URL passwords from text."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def secrets_from_environment(environ=None):
    """Values of environment variables named like secrets (per-company API keys included)."""
    environ = os.environ if environ is None else environ
    return [value for name, value in environ.items()
            if _SECRET_ENV_RE.search(name) and value and len(value) >= _MIN_SECRET_LENGTH]


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line: timestamp, level, logger, message, and any `extra=` fields."""

    converter = time.gmtime

    def __init__(self, secrets=()):
        super().__init__()
        # Longest first, so a secret that contains another is removed whole.
        self.secrets = sorted({str(s) for s in secrets if s and len(str(s)) >= _MIN_SECRET_LENGTH},
                              key=len, reverse=True)

    def clean(self, text):
        """text with every known secret and secret-shaped value removed."""
        for secret in self.secrets:
            text = text.replace(secret, "[REDACTED]")
        return redact(text)

    def formatException(self, exc_info):
        """The traceback's frames, but each exception as describe_error has it: no SQL, no bound values."""
        chain, error = [], exc_info[1]
        while error is not None and all(error is not seen for seen in chain):   # the chain, outermost first
            chain.append(error)
            error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
        lines = []
        for inner, error in zip([None] + chain[::-1], chain[::-1], strict=False):   # each with the one before it
            if inner is not None:
                lines.append("\nThe above exception was the direct cause of the following exception:\n"
                             if error.__cause__ is inner else
                             "\nDuring handling of the above exception, another exception occurred:\n")
            lines.append("Traceback (most recent call last):")
            lines.extend(line.rstrip("\n") for line in traceback.format_tb(error.__traceback__))
            lines.append(f"{type(error).__module__}.{describe_error(error)}")
        return "\n".join(lines)

    def _field(self, value):
        if isinstance(value, (bool, int, float)) or value is None:
            return value
        return self.clean(str(value))

    def format(self, record):
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line
            message = f"{record.msg!r} {record.args!r}"
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            message += "\n" + self.formatStack(record.stack_info)
        payload = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": self.clean(message),
            "pid": record.process,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_") and key not in payload:
                payload[key] = self._field(value)
        return json.dumps(payload, default=str)


def configure_logging(app):
    """Send the dashboard's (and APScheduler's) logs as JSON lines to stderr (one handler per process)."""
    secrets = [app.config.get("SMARTMOVING_API_KEY"), app.config.get("SECRET_KEY")]
    formatter = JsonFormatter(secrets=secrets + secrets_from_environment())
    root = logging.getLogger("dashboard")
    handler = next((h for h in root.handlers if getattr(h, "_dashboard", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler._dashboard = True
        root.addHandler(handler)
    handler.setFormatter(formatter)
    root.setLevel(logging.INFO)
    root.propagate = bool(app.config.get("TESTING"))
    # APScheduler reports missed and failed jobs on its own logger: same format, warnings up.
    scheduler_logger = logging.getLogger("apscheduler")
    if handler not in scheduler_logger.handlers:
        scheduler_logger.addHandler(handler)
    scheduler_logger.setLevel(logging.WARNING)
    scheduler_logger.propagate = bool(app.config.get("TESTING"))
