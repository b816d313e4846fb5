"""The auth area: blueprint and its views."""
from flask import Blueprint

bp = Blueprint("auth", __name__)

from dashboard.auth import views  # noqa: E402,F401  (registers the routes on bp)
from dashboard.auth import token_views  # noqa: E402,F401
from dashboard.auth import jwt_views  # noqa: E402,F401
