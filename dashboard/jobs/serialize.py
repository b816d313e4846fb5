"""The JSON API's job shape (README, "JSON API"): camelCase keys, as in the original mapping."""
from dashboard.changes.service import unacknowledged_counts
from dashboard.confirm.states import day_plan
from dashboard.jobs import crew_roster
from dashboard.jobs.conflicts import BOOKING_KINDS
from dashboard.jobs.conflicts import day_conflicts
from dashboard.jobs.conflicts import is_live
from dashboard.jobs.conflicts import visible_to
from dashboard.jobs.spans import clock
from dashboard.jobs.spans import span_for
from dashboard.permissions import Perm
from dashboard.permissions import can
from dashboard.timeutil import as_utc_iso

# What drivers and movers get: exactly what their job cards and job page show them
# (no money, no customer email, no SmartMoving bookkeeping such as ids and sync times).
CREW_KEYS = ("id", "jobNumber", "customerName", "customerPhone", "scheduledDate", "location", "originAddress",
             "destinationAddress", "arrivalWindow", "status", "dispatchStatus", "crew", "truck", "notes",
             "syncStatus", "start", "end", "crewRequired", "crewSlots")


def job_to_dict(job, user, clashes=None, roster=None, upstream_changes=None, plan=None):
    """A job as the JSON API shows it to user: money only for financial roles.

    clashes: the job's entry of conflicts.day_conflicts (pass it when serializing a
    day's list, so the day is read once); None reads them for this job alone. roster: the
    company's crew_roster (pass it for a list); None reads it. upstream_changes: the job's
    count of unacknowledged SmartMoving changes (pass it for a list); None reads it. plan: the
    confirm.states.DayPlan of the job's day (pass it for a list); None reads it.
    """
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
        "detailsAsOf": as_utc_iso(job.details_as_of),
        "upstreamChanges": upstream_changes if upstream_changes is not None else unacknowledged_counts(
            job.company_id, [job.id], can(user, Perm.VIEW_FINANCIAL)).get(job.id, 0),
    }
    data.update(_span_and_conflicts(job, user, clashes))
    data.update(crew_fields(job, roster, plan if plan is not None else day_plan(job.company_id, job.scheduled_date,
                                                                                [job])))
    if can(user, Perm.VIEW_FINANCIAL):
        data["estimatedValue"] = float(job.estimated_value) if job.estimated_value is not None else None
    if not can(user, Perm.VIEW_JOBS):
        data = {key: data[key] for key in CREW_KEYS if key in data}
    return data


def _span_and_conflicts(job, user, clashes):
    """start, end (ISO local) and conflicts ([{kind, name, jobNumber or None out of scope, from, to}])."""
    start, end = span_for(job)
    if clashes is None:
        clashes = day_conflicts(job.company_id, job.scheduled_date).get(job.id, []) if is_live(job) else []
    return {
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
        "conflicts": conflict_dicts(clashes, user, job.company_id),
    }


def conflict_dicts(clashes, user, company_id):
    """JOB's conflicts shape: [{kind, name, jobNumber (None out of user's scope), from, to}].

    Kinds beyond the double bookings (timeoff, truck-unavailable, understaffed, no-driver)
    concern the job alone: jobNumber is null and "text" says why ("Off Fri 11 Dec (dentist)").
    """
    found = []
    for clash in clashes:
        item = {"kind": clash.kind, "name": clash.name,
                "jobNumber": clash.other_job_number if visible_to(user, clash, company_id) else None,
                "from": clock(clash.start), "to": clock(clash.end, clash.start.date())}
        if clash.kind not in BOOKING_KINDS:
            item["text"] = clash.text
        found.append(item)
    return found


def crew_fields(job, roster=None, plan=None):
    """crewRequired and crewSlots [{name, crewMemberId, role, confirmation}] of the effective crew (role: the
    member's; confirmation: confirm.states of that person on the job in plan, a DayPlan of its day)."""
    roster = roster if roster is not None else crew_roster.load(job.company_id)
    slots = []
    for name, member_id in zip(job.effective_crew, crew_roster.effective_ids(job), strict=True):
        person = roster.person_for(name, member_id)
        slots.append({"name": name, "crewMemberId": person.id if person else None,
                      "role": person.role if person else None,
                      "confirmation": plan.state(job.id, person.id if person else None) if plan else "unsent"})
    return {"crewRequired": job.crew_required, "crewSlots": slots}


def jobs_to_dicts(jobs, user):
    """job_to_dict for a list, reading each company-day's conflicts once."""
    by_day, rosters, plans = {}, {}, {}
    for job in jobs:
        key = (job.company_id, job.scheduled_date)
        if key not in by_day:
            by_day[key] = day_conflicts(*key)
            plans[key] = day_plan(*key, [other for other in jobs if (other.company_id, other.scheduled_date) == key])
        if job.company_id not in rosters:
            rosters[job.company_id] = crew_roster.load(job.company_id)
    changed = {}
    for company_id in rosters:   # one count query per company (one in practice)
        changed.update(unacknowledged_counts(company_id, [job.id for job in jobs if job.company_id == company_id],
                                             can(user, Perm.VIEW_FINANCIAL)))
    return [job_to_dict(job, user, by_day[(job.company_id, job.scheduled_date)].get(job.id, []),
                        rosters[job.company_id], changed.get(job.id, 0), plans[(job.company_id, job.scheduled_date)])
            for job in jobs]
