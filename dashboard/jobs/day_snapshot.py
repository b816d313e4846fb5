"""One company's day as the boards show it, read once per change per process.

Every open board polls, and after a change each viewer asks for their own cut of the
same day: another role, location, filter, sort or page. Reading the day's jobs and
finding their clashes is most of a board's cost, so it is done once per version of
the day and every cut is made from memory.

The version is jobs.queries.board_version, read *before* the jobs: a write landing
in between can only cost one more read later, never leave an old day under a new
version. It moves with every write a board can show (see board_version).
"""
from collections import namedtuple

from dashboard.jobs.conflicts import conflicts_among
from dashboard.jobs.conflicts import rows_of_jobs
from dashboard.jobs.queries import board_version
from dashboard.jobs.queries import company_board_jobs
from dashboard.jobs.queries import job_matcher
from dashboard.jobs.render_cache import OnceCache
from dashboard.permissions import Scope
from dashboard.permissions import scope_of
from dashboard.permissions import visible_location_ids

# Jobs, {job id: [Clash]} of those jobs, and {job id: what its board row is made of} (filled in
# by the first board that draws a job; None: not shared). The whole day is one, a viewer's cut another.
DayCut = namedtuple("DayCut", "jobs conflicts facts")

# A few companies times today and tomorrow (and a day someone browses to).
snapshots = OnceCache(16)


def _read(company_id, day):
    jobs = company_board_jobs(company_id, day)
    return DayCut(jobs, conflicts_among(rows_of_jobs(jobs, day)), {})


def company_day(user, day):
    """The DayCut of user's company's whole day (current as of this call)."""
    version = board_version(user, day)
    return snapshots.get_or_build((user.company_id, day, version), lambda: _read(user.company_id, day))


def serves(user):
    """True for viewers whose boards are cut from their own company's day (all but the super admin's)."""
    return scope_of(user) in (Scope.OWN_COMPANY, Scope.ASSIGNED_LOCATIONS)


def board_day(user, day, location_id=None, search=None):
    """The DayCut of day for user: the jobs they see matching the location and search, and their clashes.

    Clashes are found over the whole company's day, so a job clashing with one in a
    location the viewer cannot see still carries its badge (the other job stays anonymous).
    """
    snapshot = company_day(user, day)
    visible = visible_location_ids(user)   # None: every location of the company
    matches = job_matcher(search)
    jobs = [job for job in snapshot.jobs
            if (visible is None or job.location_id in visible)
            and (location_id is None or job.location_id == location_id) and matches(job)]
    if len(jobs) == len(snapshot.jobs):
        return DayCut(jobs, snapshot.conflicts, snapshot.facts)
    shown = {job.id for job in jobs}
    return DayCut(jobs, {job_id: clashes for job_id, clashes in snapshot.conflicts.items() if job_id in shown},
                  snapshot.facts)
