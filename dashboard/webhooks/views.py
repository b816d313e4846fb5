"""POST /api/smartmoving/webhooks: SmartMoving's change events, authenticated by a shared secret.

No session and no CSRF token: SmartMoving is not a browser, and the secret in a custom
header (SMARTMOVING_WEBHOOK_HEADER) is the credential. The event is stored, then
answered 202 at once; processing happens in the background (worker.kick).
"""
import hmac
import logging

import sqlalchemy as sa
from flask import Blueprint
from flask import current_app
from flask import request

from dashboard.db import db
from dashboard.errors import json_error
from dashboard.extensions import csrf
from dashboard.guards import BodyError
from dashboard.guards import parse_json
from dashboard.guards import read_body
from dashboard.guards import reads_raw_body
from dashboard.models import Company
from dashboard.permissions import public
from dashboard.webhooks import events
from dashboard.webhooks import worker

bp = Blueprint("webhooks", __name__)

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024


def _secret_matches(expected):
    """Constant-time comparison of the configured secret with the one the caller sent."""
    supplied = request.headers.get(current_app.config["SMARTMOVING_WEBHOOK_HEADER"], "")
    return hmac.compare_digest(supplied.encode("utf-8"), str(expected).encode("utf-8"))


@bp.post("/webhooks")
@csrf.exempt
@reads_raw_body  # SmartMoving's Content-Type is not ours to trust: the body is read and checked here
@public  # authenticates by the shared secret, not by a session
def receive():
    """Store one SmartMoving event and answer 202; 401 wrong secret, 404 not configured, 413, 422."""
    secret = current_app.config.get("SMARTMOVING_WEBHOOK_SECRET")
    if not secret:
        return json_error(404, "Webhooks are not configured (SMARTMOVING_WEBHOOK_SECRET is unset).")
    if not _secret_matches(secret):
        log.warning("webhook refused: wrong or missing secret", extra={"remote_addr": request.remote_addr})
        return json_error(401, "Wrong or missing webhook secret.")
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return json_error(413, f"A webhook body may be at most {MAX_BODY_BYTES // 1024} KiB.")
    # Read bounded, whatever the Content-Type and transfer encoding (a chunked body has no length).
    try:
        payload = parse_json(read_body(MAX_BODY_BYTES))
    except BodyError as refused:
        if refused.code == 413:
            return json_error(413, f"A webhook body may be at most {MAX_BODY_BYTES // 1024} KiB.")
        return json_error(422, refused.description)   # not JSON, NaN, too deep, control characters
    if not isinstance(payload, dict):
        return json_error(422, "The body must be a JSON object.")
    company_id = db.session.scalar(sa.select(Company.id).where(Company.is_default.is_(True)))
    event, duplicate = events.record(company_id, payload, current_app.config["WEBHOOK_DEDUPE_SECONDS"])
    answer = {"id": event.id, "eventType": event.event_type, "status": event.status, "duplicate": duplicate}
    db.session.commit()   # stored before we answer: a crash from here on loses nothing
    log.info("webhook %s received%s", event.event_type, " (duplicate)" if duplicate else "",
             extra={"company_id": company_id, "webhook_event_id": event.id})
    if not duplicate:
        worker.kick(current_app._get_current_object(), company_id)
    return answer, 202
