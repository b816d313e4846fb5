"""Structured logging: one JSON object per line on stderr, secrets redacted."""
import json
import logging
import re
import sys

_SECRET_PATTERNS = [
    (re.compile(r"(x-api-key['\"]?\s*[:=]\s*['\"]?)[^'\",\s}]+", re.I), r"\1[REDACTED]"),
    (re.compile(r"(api-key=)[^&\s]+", re.I), r"\1[REDACTED]"),
    (re.compile(r"(Bearer\s+)[A-Za-z0-9_\-\.]+"), r"\1[REDACTED]"),
]


def redact(text):
    """Remove API keys and bearer tokens from text."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line with timestamp, level, logger and message."""

    def __init__(self, secrets=()):
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def format(self, record):
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        message = redact(message)
        for secret in self.secrets:
            message = message.replace(secret, "[REDACTED]")
        payload = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        for key in ("sync_run_id", "company_id", "user_id"):
            if hasattr(record, key):
                payload[key] = getattr(record, key)
        return json.dumps(payload)


def configure_logging(app):
    """Send the dashboard's logs as JSON lines to stderr (once per process)."""
    import time
    logging.Formatter.converter = time.gmtime
    root = logging.getLogger("dashboard")
    formatter = JsonFormatter(secrets=[app.config.get("SMARTMOVING_API_KEY"), app.config.get("SECRET_KEY")])
    for handler in root.handlers:
        if getattr(handler, "_dashboard", False):
            handler.setFormatter(formatter)
            return
    handler = logging.StreamHandler(sys.stderr)
    handler._dashboard = True
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = bool(app.config.get("TESTING"))
