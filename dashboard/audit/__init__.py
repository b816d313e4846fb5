"""The audit area: who changed what, when, from what to what."""
from flask import Blueprint

bp = Blueprint("audit", __name__)

from dashboard.audit import views  # noqa: E402,F401  (registers the routes on bp)
