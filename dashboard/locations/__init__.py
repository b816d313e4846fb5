"""The locations area: blueprint and its views."""
from flask import Blueprint

bp = Blueprint("locations", __name__)

from dashboard.locations import views  # noqa: E402,F401  (registers the routes on bp)
