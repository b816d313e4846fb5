"""Views of the auth area."""
from dashboard.auth import bp  # noqa: F401
