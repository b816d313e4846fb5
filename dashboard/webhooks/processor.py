"""Acting on stored webhook events, under the company's sync lease (the one writer of synced jobs).

Who calls drain() is webhooks.worker: a background thread per delivery, and every sync
run before it releases its lease. An event stays PENDING until its work is committed.

What each event does (docs/smartmoving-api.md §7):
- opportunity-created/-changed/-status-changed, payment-made with an opportunity-id:
  one detail call, stored through the sync's own path (Syncer.refresh_opportunities);
- opportunity-deleted, job-deleted: of an opportunity (job) we store, the detail call
  first; only the application's 404 (or detail without the job) removes, by the one
  removal rule (sync.removals.apply: a mass is held, a held job is confirmed). One we
  never stored costs no call;
- job-* and customer-updated: the opportunities of our stored jobs; one naming a job
  we do not store is done at once and asks for a sweep (at most one per
  WEBHOOK_SWEEP_MINUTES); a customer we do not store needs nothing;
- anything else is kept, logged and marked IGNORED.
Every event of a batch leaves PENDING unless its read failed, so a drain always moves on.
"""
import logging
from collections import namedtuple
from dataclasses import dataclass
from dataclasses import field
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from dashboard.changes.service import ChangeSource
from dashboard.db import db
from dashboard.models import ApiCall
from dashboard.models import Company
from dashboard.models import DataSource
from dashboard.models import SyncStatus
from dashboard.models import TruckJourney
from dashboard.models import WebhookEvent
from dashboard.models import WebhookStatus
from dashboard.models import utcnow
from dashboard.stamps import ordered_stamp
from dashboard.sync import plan
from dashboard.sync import removals
from dashboard.sync.syncer import FATAL_ERRORS
from dashboard.sync.syncer import LeaseLost
from dashboard.sync.syncer import Syncer
from dashboard.sync.usage import month_used
from dashboard.timeutil import company_today
from dashboard.timeutil import day_window
from dashboard.webhooks import events as stored_events

log = logging.getLogger(__name__)

REFRESHING = frozenset({"opportunity-created", "opportunity-changed", "opportunity-status-changed", "payment-made"})
JOB_EVENTS = frozenset({"job-created", "job-finalized", "job-closed", "job-reset"})
# Events per lease hold: a drain keeps the lease a few seconds at most, then lets a sync in.
BATCH_EVENTS = 20
DEFERRED = "deferred"   # an opportunity's outcome when the quota plan leaves its read to a sweep

# The Syncer's view of a run: webhook work has no SyncRun row (it would crowd the history
# and make a failing sweep look fresh), only the sync window.
RunlessWindow = namedtuple("RunlessWindow", "id window_start window_end")


@dataclass
class Plan:
    """What one event asks for."""
    refresh: list = field(default_factory=list)          # opportunity ids to re-read
    deleted: bool = False                                 # a deletion: the app's 404 removes the jobs
    sweep: bool = False                                   # done at once, and asks for a sweep
    note: str = ""
    ignored: bool = False


def _stored_opportunities_of_jobs(company_id, job_ids):
    return sorted(set(db.session.scalars(sa.select(TruckJourney.opportunity_external_id).where(
        TruckJourney.company_id == company_id, TruckJourney.external_id.in_(job_ids),
        TruckJourney.data_source == DataSource.SMARTMOVING.value,
        TruckJourney.opportunity_external_id.is_not(None)))))


def _stored_opportunities_of_customer(company_id, customer_id, since):
    """Opportunities of our current jobs whose stored SmartMoving JSON names customer_id."""
    data = TruckJourney.external_data
    return sorted(set(db.session.scalars(sa.select(TruckJourney.opportunity_external_id).where(
        TruckJourney.company_id == company_id, TruckJourney.scheduled_date >= since,
        TruckJourney.data_source == DataSource.SMARTMOVING.value,
        TruckJourney.sync_status != SyncStatus.REMOVED.value,
        sa.or_(data[("detail", "customer", "id")].as_string() == customer_id,
               data[("sweep", "customer", "id")].as_string() == customer_id)))))


def plan_for(event, company_id, window_start):
    """The work an event asks for, from its type and our stored jobs."""
    kind = event.event_type
    if kind in REFRESHING or kind == "opportunity-deleted":
        if not event.opportunity_id:
            return Plan(note=f"{kind} without an opportunity-id: nothing to read", ignored=kind != "payment-made")
        if kind == "opportunity-deleted":
            if not removals.removable_rows(company_id, opportunity_ids=[event.opportunity_id]):
                return Plan(note="an opportunity we do not store (or removed already) was deleted: nothing to do")
            return Plan(refresh=[event.opportunity_id], deleted=True)
        return Plan(refresh=[event.opportunity_id])
    if kind in JOB_EVENTS or kind == "job-deleted":
        if not event.job_id:
            return Plan(note=f"{kind} without a job-id", ignored=True)
        opportunities = _stored_opportunities_of_jobs(company_id, [event.job_id])
        if kind == "job-deleted":
            if not opportunities:
                return Plan(note="a job we do not store was deleted: nothing to do")
            return Plan(refresh=opportunities, deleted=True)
        if opportunities:
            return Plan(refresh=opportunities)
        return Plan(sweep=True, note="a job we do not store: a sweep was asked for")
    if kind == "customer-updated" and event.customer_id:
        opportunities = _stored_opportunities_of_customer(company_id, event.customer_id, window_start)
        if opportunities:
            return Plan(refresh=opportunities)
        return Plan(note="a customer without stored jobs: nothing to update")
    if kind == "customer-created":
        return Plan(note="a new customer has no jobs yet; its opportunity events follow")
    return Plan(note=f"event type {kind!r} is not acted on", ignored=True)


def drain(company_id, owner, limit=BATCH_EVENTS):
    """Act on up to limit pending events; the caller holds the company's sync lease. Counts by outcome.

    Returns {"processed", "failed", "ignored", "retry" (left PENDING after a failed read),
    "sweep" (events asking for a sweep), "more"}. "more" means a full batch of which at
    least one event finished: a batch that finished none must not be drained again at once.
    """
    config = current_app.config
    company = db.session.get(Company, company_id)
    start, end = day_window(company_today(company.timezone))
    batch = stored_events.pending(company_id, limit)
    counts = {"processed": 0, "failed": 0, "ignored": 0, "retry": 0, "sweep": 0, "more": False}
    if not batch:
        db.session.commit()
        return counts
    plans = {event.id: plan_for(event, company_id, start) for event in batch}
    received = {event.id: (event.event_type, event.attempts) for event in batch}
    db.session.commit()
    callers = [event_id for event_id, plan in plans.items() if plan.refresh]
    # Counted before any call: an event that kills its process every time is given up.
    _bump_attempts(callers)

    wanted, deferred = _within_allowance(company_id, {oid for plan in plans.values() for oid in plan.refresh})
    outcomes, fatal = dict.fromkeys(deferred, DEFERRED), None
    if wanted:
        syncer = Syncer(company, RunlessWindow(None, start, end), owner)
        # Changes it sees are named after the (first) event that asked for each opportunity.
        syncer.webhook_for = {oid: event_id for event_id, plan in sorted(plans.items(), reverse=True)
                              for oid in plan.refresh}
        try:
            outcomes.update(syncer.refresh_opportunities(wanted))
        except (LeaseLost, *FATAL_ERRORS) as error:
            fatal = error
            log.warning("webhook processing stopped: %s", error, extra={"company_id": company_id})
    # Only the application's 404, read after the event, confirms a deletion (never the event alone).
    deleted_gone = {oid for plan in plans.values() if plan.deleted for oid in plan.refresh
                    if outcomes.get(oid) == "not_found"}
    now = utcnow()
    with db.write_transaction() as session:
        held = _remove_opportunities(company_id, deleted_gone, ordered_stamp(company_id)) if deleted_gone else []
        for event_id, plan in plans.items():
            kind, attempts = received[event_id]
            values = _outcome(plan, outcomes, fatal, deleted_gone, held, attempts + 1,
                              config["WEBHOOK_MAX_ATTEMPTS"], now)
            session.execute(sa.update(WebhookEvent).where(WebhookEvent.id == event_id).values(**values))
            status = values.get("status", WebhookStatus.PENDING.value)
            key = {"PROCESSED": "processed", "FAILED": "failed", "IGNORED": "ignored"}.get(status, "retry")
            counts[key] += 1
            counts["sweep"] += plan.sweep or any(outcomes.get(oid) == DEFERRED for oid in plan.refresh)
            level = logging.WARNING if status in ("FAILED", "IGNORED") else logging.INFO
            log.log(level, "webhook %s %s: %s", kind, status.lower(), values.get("result") or values.get("error"),
                    extra={"company_id": company_id, "webhook_event_id": event_id})
    finished = counts["processed"] + counts["failed"] + counts["ignored"]
    counts["more"] = len(batch) >= limit and finished > 0
    return counts


def _outcome(plan, outcomes, fatal, deleted_gone, held, attempts, max_attempts, now):
    """Column values for one event after a drain."""
    if plan.ignored:
        return {"status": WebhookStatus.IGNORED.value, "processed_at": now, "result": plan.note[:300]}
    if not plan.refresh:
        return {"status": WebhookStatus.PROCESSED.value, "processed_at": now, "result": plan.note[:300]}
    results = [outcomes.get(oid) for oid in plan.refresh]
    failures = [r for r in results if r is None or r.startswith("failed")]
    not_found = [oid for oid in plan.refresh if outcomes.get(oid) == "not_found" and oid not in deleted_gone]
    if fatal is not None and failures:
        # Nothing could be asked; this attempt does not count against the event.
        return {"status": WebhookStatus.PENDING.value, "attempts": attempts - 1, "error": str(fatal)[:500]}
    if failures:
        error = (failures[0] or "not read")[:500]
        if attempts >= max_attempts:
            return {"status": WebhookStatus.FAILED.value, "processed_at": now, "error": error}
        return {"status": WebhookStatus.PENDING.value, "error": error}
    if all(outcomes.get(oid) == DEFERRED for oid in plan.refresh):
        return {"status": WebhookStatus.PROCESSED.value, "processed_at": now, "error": None,
                "result": "not read: webhook reads are over the quota plan's allowance; a sweep was asked for"}
    calls = len(plan.refresh)
    result = f"{calls} opportunit{'y' if calls == 1 else 'ies'} re-read"
    gone = deleted_gone & set(plan.refresh)
    if gone and gone & set(held):
        result += "; deleted in SmartMoving: too many removals of one day at once, so held for an admin"
    elif gone:
        result += "; deleted in SmartMoving: its jobs were removed"
    elif plan.deleted:
        result += "; SmartMoving still has the opportunity: the deletion was not taken on the event's word"
    if not_found:
        result += "; SmartMoving answered 404 (kept; the next sweep decides)"
    return {"status": WebhookStatus.PROCESSED.value, "processed_at": now, "result": result[:300], "error": None}


def read_allowance(company_id, now=None):
    """Detail reads webhook work may spend now, by the quota plan's budget (None: no quota, no limit).

    What the month's budget (TARGET_SHARE of the quota) has left, spread evenly over the
    hours left in the month, less what webhook work read in the last hour. Not the plan's
    projection: that already counts past webhook reads, and its TTL refreshes give way to
    them (sync.plan), so a normal rate of edits is always read while a flood is capped.
    """
    quota = current_app.config.get("SMARTMOVING_MONTHLY_QUOTA")
    if not quota:
        return None
    now = now or utcnow()
    left = quota * plan.TARGET_SHARE - month_used(company_id, now)
    per_hour = max(int(left / max(plan.month_minutes_left(now) / 60, 1.0)), 0)
    read = db.session.scalar(sa.select(sa.func.count(ApiCall.id)).where(
        ApiCall.company_id == company_id, ApiCall.sync_run_id.is_(None),
        ApiCall.called_at >= now - timedelta(hours=1))) or 0
    db.session.commit()
    return max(per_hour - read, 0)


def _within_allowance(company_id, opportunity_ids):
    """(ids to read now, ids left to a sweep): stored opportunities first, within read_allowance."""
    if not opportunity_ids:
        return [], []
    allowance = read_allowance(company_id)
    stored = set(db.session.scalars(sa.select(TruckJourney.opportunity_external_id).where(
        TruckJourney.company_id == company_id, TruckJourney.opportunity_external_id.in_(sorted(opportunity_ids)))))
    db.session.commit()
    ordered = sorted(opportunity_ids, key=lambda oid: (oid not in stored, oid))
    if allowance is None:
        return ordered, []
    if len(ordered) > allowance:
        log.warning("%s webhook read(s) left to the next sweep: over the quota plan's allowance",
                    len(ordered) - allowance, extra={"company_id": company_id})
    return ordered[:allowance], ordered[allowance:]


def _bump_attempts(event_ids):
    if not event_ids:
        return
    with db.write_transaction() as session:
        session.execute(sa.update(WebhookEvent).where(WebhookEvent.id.in_(event_ids))
                        .values(attempts=WebhookEvent.attempts + 1))


def _remove_opportunities(company_id, opportunity_ids, now):
    """Remove, by the one removal rule, the live jobs of opportunities SmartMoving deleted (its 404 confirmed it).

    Returns the opportunity ids of which some jobs were held instead (too many at once).
    """
    rows = removals.removable_rows(company_id, opportunity_ids=opportunity_ids)
    decision = removals.apply(company_id, rows, now, current_app.config,
                              "Deleted in SmartMoving (announced by webhook, confirmed by its 404).",
                              "Deleted in SmartMoving by webhook (held: too many removals of one day at once).",
                              source="webhook", change_source=ChangeSource("webhook deletion"))
    held = set(decision.hold)
    return sorted({row.opportunity_external_id for row in rows if row.id in held})
