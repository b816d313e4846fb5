"""/docs: the OpenAPI document rendered by Swagger UI, served from our own files (no CDN) under our CSP.

The Swagger UI build comes from the flask-swagger-ui package (its dist/ folder); its
own page configures Swagger UI in an inline script, which our CSP refuses, so the
page here is ours (templates/docs.html) and its configuration a static file
(static/docs.js).
"""
import os

import flask_swagger_ui
from flask import Blueprint
from flask import abort
from flask import render_template
from flask import send_from_directory

from dashboard.api_paths import API_PREFIX
from dashboard.permissions import public

bp = Blueprint("docs", __name__)

_DIST = os.path.join(os.path.dirname(flask_swagger_ui.__file__), "dist")
# What the page loads; nothing else of the package is served.
ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png"})


@bp.get("/docs")
@public
def index():
    """Anyone (as the document itself): Swagger UI for /api/smartmoving/openapi.json."""
    return render_template("docs.html", spec_url=f"{API_PREFIX}/openapi.json")


@bp.get("/docs/assets/<name>")
@public
def asset(name):
    """One file of the Swagger UI build (a fixed list)."""
    if name not in ASSETS:
        abort(404)
    return send_from_directory(_DIST, name, max_age=86400)
