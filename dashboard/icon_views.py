"""/favicon.ico: browsers ask for it on every site whatever the page links, so it answers instead of a 404.

Pages link static/favicon.svg (templates/base.html); this serves the same truck as a 32 px ICO.
"""
from flask import Blueprint
from flask import current_app
from flask import send_from_directory

from dashboard.permissions import public

bp = Blueprint("icons", __name__)

ICON_MAX_AGE = 7 * 24 * 3600   # a week: the icon holds no data and rarely changes


@bp.get("/favicon.ico")
@public
def favicon():
    """The site icon (no sign-in: the login page shows it too)."""
    return send_from_directory(current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon",
                               max_age=ICON_MAX_AGE)
