"""POST /api/smartmoving/webhooks: SmartMoving's change events, authenticated by a shared secret.

No session and no CSRF token: SmartMoving is not a browser, and the secret in a custom
header (SMARTMOVING_WEBHOOK_HEADER) is the credential. It also says whose event it is:
SMARTMOVING_WEBHOOK_SECRET is the default company's, and a company with a webhook secret of
its own (the Companies page) gets the deliveries carrying it (webhooks.senders). The event
is stored under that company, then answered 202 at once; processing happens in the
background (worker.kick).
"""
import logging

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
from dashboard.permissions import public
from dashboard.webhooks import events
from dashboard.webhooks import senders
from dashboard.webhooks import worker

bp = Blueprint("webhooks", __name__)

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024


@bp.post("/webhooks")
@csrf.exempt
@reads_raw_body  # SmartMoving's Content-Type is not ours to trust: the body is read and checked here
@public  # authenticates by the shared secret, not by a session
def receive():
    """Store one SmartMoving event and answer 202; 401 wrong secret, 404 not configured, 413, 422."""
    secrets = senders.configured_secrets(current_app.config)
    if not secrets:
        return json_error(404, "Webhooks are not configured (SMARTMOVING_WEBHOOK_SECRET is unset and no "
                               "company has a webhook secret).")
    company_id = senders.company_for(
        request.headers.get(current_app.config["SMARTMOVING_WEBHOOK_HEADER"], ""), secrets)
    if company_id is None:
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
    event, duplicate = events.record(company_id, payload, current_app.config["WEBHOOK_DEDUPE_SECONDS"])
    answer = {"id": event.id, "eventType": event.event_type, "status": event.status, "duplicate": duplicate}
    db.session.commit()   # stored before we answer: a crash from here on loses nothing
    log.info("webhook %s received%s", event.event_type, " (duplicate)" if duplicate else "",
             extra={"company_id": company_id, "webhook_event_id": event.id})
    if not duplicate:
        worker.kick(current_app._get_current_object(), company_id)
    return answer, 202
