"""The JOB shape of CONTRACT.md (camelCase keys, as in the original mapping)."""
from dashboard.permissions import Perm
from dashboard.permissions import can
from dashboard.timeutil import as_utc_iso

# What drivers and movers get: exactly what their job cards and job page show them
# (no money, no customer email, no SmartMoving bookkeeping such as ids and sync times).
CREW_KEYS = ("id", "jobNumber", "customerName", "customerPhone", "scheduledDate", "location", "originAddress",
             "destinationAddress", "arrivalWindow", "status", "dispatchStatus", "crew", "truck", "notes",
             "syncStatus", "start", "end")


def job_to_dict(job, user):
    """A job as the JSON API shows it to user: money only for financial roles."""
    data = {
        "id": job.id,
        "externalId": job.external_id,
        "jobNumber": job.job_number,
        "quoteNumber": job.quote_number,
        "customerName": job.customer_name,
        "customerPhone": job.customer_phone,
        "customerEmail": job.customer_email,
        "scheduledDate": job.scheduled_date.isoformat(),
        "location": {"id": job.location.id, "name": job.location.name} if job.location else None,
        "originAddress": job.origin_address,
        "destinationAddress": job.destination_address,
        "arrivalWindow": job.arrival_window,
        "status": job.status,
        "dispatchStatus": job.dispatch_status,
        "crew": job.effective_crew,
        "truck": job.truck.name if job.truck else None,
        "notes": job.notes,
        "dataSource": job.data_source,
        "syncStatus": job.sync_status,
        "lastSyncAt": as_utc_iso(job.last_sync_at),
    }
    if can(user, Perm.VIEW_FINANCIAL):
        data["estimatedValue"] = float(job.estimated_value) if job.estimated_value is not None else None
    if not can(user, Perm.VIEW_JOBS):
        data = {key: data[key] for key in CREW_KEYS if key in data}
    return data
