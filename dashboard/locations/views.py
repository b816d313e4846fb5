"""Views of the locations area."""
from dashboard.locations import bp  # noqa: F401
