"""Where the JSON API lives: ours under /api/smartmoving, the seed specification's under /smartmoving.

No imports on purpose: the error renderer, the login manager and CORS all ask
is_api_path, and importing the api package from them would be circular.
"""
API_PREFIX = "/api/smartmoving"
# The specification this product grew from (C&C CRM's SmartMoving integration) serves
# the same endpoints here; clients written against it keep working unchanged.
SEED_PREFIX = "/smartmoving"

_JSON_PATH_STARTS = ("/api/", SEED_PREFIX + "/")


def is_api_path(path):
    """True for a path of the JSON API (either prefix): its errors and 401s are JSON, never pages."""
    return path.startswith(_JSON_PATH_STARTS)
