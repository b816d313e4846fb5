"""The jobs area: blueprint and its views."""
from flask import Blueprint

bp = Blueprint("jobs", __name__)

from dashboard.jobs import views  # noqa: E402,F401  (registers the routes on bp)
