"""Editing and deleting MANUAL jobs (issue 21 §5): ours alone, so every field of them is ours to change.

A SmartMoving job's customer, date, window, addresses and location belong to SmartMoving
(the next sync would overwrite them): this service refuses it. A deleted manual job is
kept (soft): it takes the REMOVED sync status every board, count, report and conflict
check already leaves out, and get_job_for stops finding it. Every save and every delete
leaves an AuditEvent.
"""
import logging
from datetime import date

from dashboard.db import db
from dashboard.jobs import spans
from dashboard.jobs.queries import is_deleted_manual
from dashboard.models import AuditEvent
from dashboard.models import DataSource
from dashboard.models import SyncStatus
from dashboard.models import utcnow
from dashboard.stamps import ordered_stamp
from dashboard.timeutil import FIRST_DAY
from dashboard.timeutil import LAST_DAY
from dashboard.timeutil import in_day_range
from dashboard.timeutil import parse_iso_date

log = logging.getLogger(__name__)

# Column -> (the JSON API's name, longest text accepted); the form's limits are the same.
TEXT_FIELDS = {
    "customer_name": ("customerName", 200),
    "customer_phone": ("customerPhone", 64),
    "arrival_window": ("arrivalWindow", 80),
    "origin_address": ("originAddress", 400),
    "destination_address": ("destinationAddress", 400),
}
API_KEYS = {api: column for column, (api, _limit) in TEXT_FIELDS.items()} | {
    "scheduledDate": "scheduled_date", "locationId": "location_id"}


class ManualJobError(ValueError):
    """Input or a job the service refuses; the message is safe to show."""


class NotManual(ManualJobError):
    """The job is SmartMoving's: its fields belong to SmartMoving."""

    def __init__(self):
        super().__init__("This job comes from SmartMoving: change it there (only manual jobs are edited here).")


def is_manual(job):
    """True for a job added here (never synced), which may be edited and deleted."""
    return job.data_source == DataSource.MANUAL.value


def is_deleted(job):
    """True for a manual job someone deleted (kept, hidden everywhere)."""
    return is_deleted_manual(job)


def _shown(value):
    """A value as the audit stores it (JSON): dates as ISO days."""
    return value.isoformat() if isinstance(value, date) else value


def _clean_text(column, value):
    """A text field stripped (None when blank); too long or not text is refused."""
    api_name, limit = TEXT_FIELDS[column]
    if value is not None and not isinstance(value, str):
        raise ManualJobError(f"{api_name} must be text or null.")
    value = " ".join((value or "").split()) if column != "customer_name" else (value or "").strip()
    if len(value) > limit:
        raise ManualJobError(f"{api_name} is longer than {limit} characters.")
    if column == "customer_name" and not value:
        raise ManualJobError("customerName must not be empty: who is the job for?")
    return value or None


def _clean_date(value):
    """A date (from the form) or ISO text (from the API) inside the accepted years."""
    day = value if isinstance(value, date) else parse_iso_date(value) if isinstance(value, str) else None
    if day is None or not in_day_range(day):
        raise ManualJobError(f"scheduledDate must be a day like 2025-01-31, "
                             f"between {FIRST_DAY.year} and {LAST_DAY.year}.")
    return day


def _clean_location(value, locations):
    """The Location of id value among locations (the actor's, in the job's company)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ManualJobError("locationId must be the id of one of your locations.")
    location = next((loc for loc in locations if loc.id == value), None)
    if location is None:
        raise ManualJobError("locationId must be the id of one of your locations.")
    return location


def clean_changes(job, values, locations):
    """{column: cleaned value} of values (columns of TEXT_FIELDS, scheduled_date, location_id).

    locations: where the actor may put the job (their locations); only those of the job's company count.
    """
    mine = [loc for loc in locations if loc.company_id == job.company_id]
    cleaned = {}
    for column, value in values.items():
        if column in TEXT_FIELDS:
            cleaned[column] = _clean_text(column, value)
        elif column == "scheduled_date":
            cleaned[column] = _clean_date(value)
        elif column == "location_id":
            cleaned[column] = _clean_location(value, mine).id
        else:
            raise ManualJobError(f"{column} cannot be edited.")
    return cleaned


def update_manual_job(job, actor, values, locations):
    """Apply values (see clean_changes) to the manual job; {field: [old, new]} of what changed.

    The span follows a new date or arrival window. Flushes, no commit.
    """
    if not is_manual(job) or is_deleted(job):
        raise NotManual() if not is_manual(job) else ManualJobError("This job was deleted.")
    cleaned = {column: value for column, value in clean_changes(job, values, locations).items()
               if getattr(job, column) != value}
    if not cleaned:
        return {}
    # The audit (and the job page's history) shows text: dates as ISO days, the location by name.
    changes = {column: [_shown(getattr(job, column)), _shown(value)] for column, value in cleaned.items()
               if column != "location_id"}
    if "location_id" in cleaned:
        new_location = next(loc for loc in locations if loc.id == cleaned["location_id"])
        changes["location"] = [job.location.name if job.location else None, new_location.name]
    stamp = ordered_stamp(job.company_id)   # before the first write: the company's stamp lock comes first
    for column, value in cleaned.items():
        setattr(job, column, value)
    if "location_id" in cleaned:
        job.location = new_location
    if {"scheduled_date", "arrival_window"} & set(cleaned):
        job.arrival_start_hour = spans.parse_start_hour(job.arrival_window)
        job.span_start, job.span_end = spans.compute_span(job.scheduled_date, job.arrival_start_hour)
    # The board's version and the API's ETag move with this stamp.
    job.dispatch_updated_at = stamp
    job.dispatch_updated_by = actor.id
    db.session.add(AuditEvent(company_id=job.company_id, user_id=actor.id, action="job.edit",
                              target=f"job:{job.id}", detail=changes))
    db.session.flush()
    log.info("manual job %s edited by %s: %s", job.id, actor.email, ", ".join(sorted(changes)))
    return changes


def delete_manual_job(job, actor):
    """Soft-delete the manual job: REMOVED (hidden from boards, API, reports, conflicts), audited. Flushes."""
    if not is_manual(job):
        raise NotManual()
    if is_deleted(job):
        return False
    stamp = ordered_stamp(job.company_id)
    job.sync_status = SyncStatus.REMOVED.value
    job.removed_at = utcnow()
    job.removal_reason = f"Deleted by {actor.full_name or actor.email}"[:200]
    job.dispatch_updated_at = stamp
    job.dispatch_updated_by = actor.id
    db.session.add(AuditEvent(company_id=job.company_id, user_id=actor.id, action="job.delete",
                              target=f"job:{job.id}", detail={"customer": job.customer_name,
                                                              "date": job.scheduled_date.isoformat()}))
    db.session.flush()
    log.info("manual job %s deleted by %s", job.id, actor.email)
    return True


def patch_manual_job(job, actor, body, locations):
    """The JSON API's PATCH of a manual job's own fields (API_KEYS); {field: [old, new]} of what changed."""
    if not isinstance(body, dict):
        raise ManualJobError("The body must be a JSON object.")
    unknown = set(body) - set(API_KEYS)
    if unknown:
        raise ManualJobError(f"Unknown fields: {', '.join(sorted(unknown))[:200]}. "
                             f"Allowed: {', '.join(sorted(API_KEYS))}.")
    return update_manual_job(job, actor, {API_KEYS[key]: value for key, value in body.items()}, locations)
