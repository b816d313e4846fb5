"""Views of the admin area."""
from dashboard.admin import bp  # noqa: F401
