"""Jobs whose truck or a crew member is booked on another live job at an overlapping time.

A local helper until the board's conflict module (issue 8) is on main; the rule is
the same: same company and day, spans overlap, cancelled and removed jobs never clash.
Completed jobs do clash here: a report looks back at days whose jobs are all done.
"""
from collections import defaultdict


def _overlapping(intervals):
    """Ids among (start, end, id) intervals that overlap at least one other."""
    hits = set()
    holder_end, holder = None, None
    for start, end, job_id in sorted(intervals):
        if holder_end is not None and start < holder_end:
            hits.update((job_id, holder))
        if holder_end is None or end > holder_end:
            holder_end, holder = end, job_id
    return hits


def conflicting_job_ids(jobs):
    """Ids of jobs (JobFacts, already live and not cancelled) in a truck or crew double booking."""
    groups = defaultdict(list)
    for job in jobs:
        if job.end <= job.start:
            continue
        if job.truck_id is not None:
            groups[(job.company_id, job.day, "truck", job.truck_id)].append((job.start, job.end, job.id))
        for name in {member.strip().casefold() for member in job.effective_crew if member.strip()}:
            groups[(job.company_id, job.day, "crew", name)].append((job.start, job.end, job.id))
    hits = set()
    for intervals in groups.values():
        if len(intervals) > 1:
            hits |= _overlapping(intervals)
    return hits
