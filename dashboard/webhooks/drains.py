"""Draining webhook events under the company's sync lease: what the runner and the kick thread call.

A sync run drains before it releases its lease (drain_quietly, from sync.service.execute_run);
a delivery's kick thread (webhooks.worker) takes the lease to drain one batch (process_pending).
A sync finding a drain in progress waits a moment for it (sync_may_wait), then answers. Every
loop here stops when a batch finishes nothing, and the drain after a sync is bounded in time,
so no drain can keep the lease from syncs.
"""
import logging
import time

from flask import current_app

from dashboard.db import db
from dashboard.sync.lease import acquire_lease
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
