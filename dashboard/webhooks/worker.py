"""Who drains webhook events, and when: a thread kicked by each delivery, and every sync run.

A delivery kicks a background thread that takes the company's sync lease, drains,
and lets go. When the lease is busy, its holder drains before it lets go (a sync run
calls drain_quietly from sync.service.execute_run), so an event the kick could not
handle waits at most for the next run; after kill -9 it is still PENDING and the next
kick or run takes it. A sync finding a drain in progress waits a moment for it
(sync_may_wait), then answers. Every loop here stops when a batch finishes nothing,
and the drain after a sync is bounded in time, so no drain can keep the lease from syncs.
"""
import logging
import threading
import time
from datetime import datetime
from datetime import timezone

from flask import current_app

from dashboard.db import db
from dashboard.sync.lease import acquire_lease
from dashboard.sync.lease import claim_slot
from dashboard.sync.lease import lease_holder
from dashboard.sync.lease import lease_name_for
from dashboard.sync.lease import new_owner_id
from dashboard.sync.lease import release_if_holder_dead
from dashboard.sync.lease import release_lease
from dashboard.sync.lease import renew_lease
from dashboard.webhooks.events import has_pending
from dashboard.webhooks.processor import drain

log = logging.getLogger(__name__)

# A drain's lease owner says so: a sync finding the lease held by one waits for it.
OWNER_PREFIX = "webhook:"
KICK_WAIT_SECONDS = 30
# How long "Sync now" (or a scheduled run) waits for a webhook drain's batch before answering:
# a user waits for this answer, so it is short; a busy drain then gets a 409 that says so.
SYNC_WAIT_SECONDS = 2.0
# The drain a sync run does before releasing its lease: at most this long, then the rest
# waits for the next kick or run (so a flood can never keep the lease, nor the run busy).
DRAIN_AFTER_SYNC_SECONDS = 20.0


def drain_quietly(company_id, owner, seconds=DRAIN_AFTER_SYNC_SECONDS):
    """drain() for a sync run about to release its lease; never raises (the run's outcome stands).

    Drains while batches finish events and time is left; a batch that finished none ends it.
    """
    deadline = time.monotonic() + seconds
    try:
        waiting = has_pending(company_id)
        db.session.commit()
        # A run that lost its lease must not write: another runner may hold it now.
        while (waiting and time.monotonic() < deadline
               and renew_lease(lease_name_for(company_id), owner, current_app.config["SYNC_LEASE_SECONDS"])):
            counts = drain(company_id, owner)
            waiting = counts["more"]
            if counts["sweep"]:
                log.info("webhook events name jobs we do not store: the next sweep looks for them",
                         extra={"company_id": company_id})
    except Exception:
        db.session.rollback()
        log.exception("webhook drain after a sync failed", extra={"company_id": company_id})


def process_pending(company_id):
    """Take the lease, drain one batch, release; "busy", "sweep" (events wait for one), "more" or "done"."""
    owner = OWNER_PREFIX + new_owner_id()
    name = lease_name_for(company_id)
    if not acquire_lease(name, owner, current_app.config["SYNC_LEASE_SECONDS"]):
        return "busy"
    try:
        counts = drain(company_id, owner)
    finally:
        release_lease(name, owner)
        db.session.remove()
    if counts["more"]:
        return "more"
    return "sweep" if counts["sweep"] else "done"


def request_sweep(company_id, now=None):
    """A sync now for events naming records we do not store, at most once per WEBHOOK_SWEEP_MINUTES."""
    from dashboard.sync.service import SyncAlreadyRunning
    from dashboard.sync.service import run_sync

    seconds = max(current_app.config["WEBHOOK_SWEEP_MINUTES"], 1) * 60
    epoch = int((now or datetime.now(timezone.utc)).timestamp())
    slot = datetime.fromtimestamp(epoch - epoch % seconds, timezone.utc).replace(tzinfo=None)
    if not claim_slot(f"webhook-sweep:{company_id}", slot, new_owner_id()):
        return None   # debounced: the next sync (scheduled or requested) covers these events
    try:
        return run_sync(company_id, trigger="webhook")
    except SyncAlreadyRunning:
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


def drain_holds_lease(company_id):
    """True when a webhook drain (not a sync) holds the company's lease right now."""
    holder = lease_holder(lease_name_for(company_id))
    return holder is not None and holder[0].startswith(OWNER_PREFIX)


def sync_may_wait(company_id, owner, ttl_seconds, wait_seconds=SYNC_WAIT_SECONDS):
    """For a sync that found the lease taken: when a webhook drain holds it, wait briefly; True once ours.

    A drain whose process is gone from this host (kill -9) is released at once rather than
    waited for; a sync holding the lease is not waited for at all.
    """
    name = lease_name_for(company_id)
    deadline = time.monotonic() + wait_seconds
    while True:
        holder = lease_holder(name)
        if holder is not None and not holder[0].startswith(OWNER_PREFIX):
            return False
        if holder is not None:
            release_if_holder_dead(name)
        if acquire_lease(name, owner, ttl_seconds):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
