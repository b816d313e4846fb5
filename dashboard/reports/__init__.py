"""The reports area: a managers' view of money and operations over the stored days."""
from flask import Blueprint

bp = Blueprint("reports", __name__)

from dashboard.reports import views  # noqa: E402,F401  (registers the routes on bp)
