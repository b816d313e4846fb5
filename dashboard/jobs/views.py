"""Views of the jobs area."""
from dashboard.jobs import bp  # noqa: F401
