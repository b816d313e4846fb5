"""Views of the sync area."""
from dashboard.sync import bp  # noqa: F401
