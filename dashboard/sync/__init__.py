"""The sync area: blueprint and its views."""
from flask import Blueprint

bp = Blueprint("sync", __name__)

from dashboard.sync import views  # noqa: E402,F401  (registers the routes on bp)
