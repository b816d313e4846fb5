"""The admin area: blueprint and its views."""
from flask import Blueprint

bp = Blueprint("admin", __name__)

from dashboard.admin import views  # noqa: E402,F401  (registers the routes on bp)
