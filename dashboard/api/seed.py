"""The seed specification's paths beside ours: the api blueprint again under /smartmoving,
and a GET on the sync trigger explained."""
from flask import current_app
from flask import request
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed

from dashboard.errors import json_error

# app.py registers the api blueprint a second time under SEED_PREFIX with this name.
SEED_BLUEPRINT = "seed_api"

SYNC_NEEDS_POST = "A sync is started with POST to this path (a GET never changes anything)."


def _post_endpoint():
    """The endpoint this request's path would reach by POST, or None."""
    try:
        endpoint, _args = current_app.create_url_adapter(request).match(method="POST")
    except HTTPException:  # also a routing redirect (werkzeug's RequestRedirect is one)
        return None
    return endpoint


def explain_get_on_sync():
    """before_request: GET (or HEAD) on jobs/sync is 405 with Allow: POST and a message saying so.

    Routing already refused the method; this only gives the answer a clearer message
    than the generic one, on both prefixes.
    """
    if request.method not in ("GET", "HEAD") or not isinstance(request.routing_exception, MethodNotAllowed):
        return None
    endpoint = _post_endpoint()
    if endpoint is None or endpoint.rsplit(".", 1)[-1] != "sync_now":
        return None
    body, status = json_error(405, SYNC_NEEDS_POST)
    return body, status, {"Allow": "POST"}
