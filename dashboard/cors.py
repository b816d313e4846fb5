"""CORS for the JSON API (flask-cors): only the origins named in CORS_ORIGINS, only the API's paths.

Bearer tokens only: browsers are never told to send credentials (no
Access-Control-Allow-Credentials), so a page on an allowed origin reaches the API with
the token its script holds, never with a user's session cookie. Pages and forms get no
CORS headers at all, and neither does any other origin.
"""
import re

from flask_cors import CORS

from dashboard.api_paths import API_PREFIX
from dashboard.api_paths import SEED_PREFIX

API_RESOURCES = (rf"{re.escape(API_PREFIX)}/.*", rf"{re.escape(SEED_PREFIX)}/.*", r"/auth/token")


def _exact(origin):
    """A pattern matching exactly this origin (flask-cors would read "[" of an IPv6 host as a regex)."""
    return re.compile(re.escape(origin) + r"\Z", re.IGNORECASE)


def init_app(app):
    """Answer CORS (preflight included) for CORS_ORIGINS on the API paths; nothing when the list is empty."""
    origins = app.config["CORS_ORIGINS"]
    if not origins:
        return
    options = {
        "origins": [_exact(origin) for origin in origins],
        "methods": ["GET", "HEAD", "POST", "PATCH", "OPTIONS"],
        "allow_headers": ["Authorization", "Content-Type", "If-Match"],
        "expose_headers": ["ETag", "Retry-After", "WWW-Authenticate"],
        "supports_credentials": False,
        "max_age": 600,
    }
    CORS(app, resources={pattern: options for pattern in API_RESOURCES})
