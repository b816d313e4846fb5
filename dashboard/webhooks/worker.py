"""Who drains webhook events, and when: a thread kicked by each delivery (the runner drains too).

A delivery kicks a background thread that takes the company's sync lease, drains one
batch at a time (webhooks.drains.process_pending) and lets go. When the lease is busy,
its holder drains before it lets go (a sync run calls drains.drain_quietly), so an event
the kick could not handle waits at most for the next run; after kill -9 it is still
PENDING and the next kick or run takes it. Events naming records we do not store ask
for a sweep: a sync run, at most one per WEBHOOK_SWEEP_MINUTES.
"""
import logging
import threading
import time
from datetime import UTC
from datetime import datetime

from flask import current_app

from dashboard.sync import service
from dashboard.sync.lease import claim_slot
from dashboard.sync.lease import new_owner_id
from dashboard.webhooks.drains import OWNER_PREFIX  # noqa: F401  (part of worker's API: the drills read it here)
from dashboard.webhooks.drains import drain_quietly  # noqa: F401  (as OWNER_PREFIX)
from dashboard.webhooks.drains import process_pending

log = logging.getLogger(__name__)

KICK_WAIT_SECONDS = 30


def request_sweep(company_id, now=None):
    """A sync now for events naming records we do not store, at most once per WEBHOOK_SWEEP_MINUTES."""
    seconds = max(current_app.config["WEBHOOK_SWEEP_MINUTES"], 1) * 60
    epoch = int((now or datetime.now(UTC)).timestamp())
    slot = datetime.fromtimestamp(epoch - epoch % seconds, UTC).replace(tzinfo=None)
    if not claim_slot(f"webhook-sweep:{company_id}", slot, new_owner_id()):
        return None   # debounced: the next sync (scheduled or requested) covers these events
    try:
        return service.run_sync(company_id, trigger="webhook")
    except service.SyncAlreadyRunning:
        return None   # that run, or the next, drains what it covers


_lock = threading.Lock()
_active = set()
_again = set()


def kick(app, company_id):
    """Process the company's pending events soon, in a background thread (one per company per process)."""
    with _lock:
        if company_id in _active:
            _again.add(company_id)
            return False
        _active.add(company_id)
    threading.Thread(target=_work, args=(app, company_id), name=f"webhooks-{company_id}", daemon=True).start()
    return True


def _work(app, company_id):
    deadline = time.monotonic() + KICK_WAIT_SECONDS
    try:
        with app.app_context():
            while True:
                try:
                    outcome = process_pending(company_id)
                except Exception:
                    log.exception("webhook processing failed", extra={"company_id": company_id})
                    outcome = "done"
                if outcome == "busy" and time.monotonic() < deadline:
                    time.sleep(0.5)   # a sync or another drain holds the lease; it drains at its end
                    continue
                if outcome == "more":
                    time.sleep(0.2)   # let a waiting sync take the lease between batches
                    continue
                if outcome == "sweep":
                    request_sweep(company_id)
                with _lock:
                    if company_id not in _again:
                        _active.discard(company_id)
                        return
                    _again.discard(company_id)
    finally:
        with _lock:
            _active.discard(company_id)
            _again.discard(company_id)
