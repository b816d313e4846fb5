"""Views of the api area."""
from dashboard.api import bp  # noqa: F401
