"""The api area: blueprint and its views."""
from flask import Blueprint

bp = Blueprint("api", __name__)

from dashboard.api import views  # noqa: E402,F401  (registers the routes on bp)
