"""One company's day as the boards show it, read once per change per process.

Every open board polls, and after a change each viewer asks for their own cut of the
same day: another role, location, filter, sort or page. Reading the day's jobs and
finding their clashes is most of a board's cost, so it is done once per version of
the day and every cut is made from memory.

The version is jobs.queries.board_version, read *before* the jobs: a write landing
in between can only cost one more read later, never leave an old day under a new
version. It moves with every write a board can show (see board_version).

After a change, the day is not read whole again: each job's two stamps (last sync,
last dispatch edit) are read from the version index, and only jobs whose stamps moved
are read again; the others, their clash rows and their row facts carry over from the
newest read. Stamps are read before the jobs, so a write landing in between leaves a
stamp that differs next time, never an old job under its new stamp. A change of
locations or trucks (names shown on every row) reads the whole day.
"""
import bisect
import sys
from collections import namedtuple
from operator import attrgetter

from dashboard.jobs import crew_roster
from dashboard.jobs.conflicts import conflicts_among
from dashboard.jobs.conflicts import rows_of_jobs
from dashboard.jobs.queries import VERSION_CREW
from dashboard.jobs.queries import VERSION_PLACES
from dashboard.jobs.queries import VERSION_TIME_OFF
from dashboard.jobs.queries import board_version
from dashboard.jobs.queries import company_board_jobs
from dashboard.jobs.queries import day_stamps
from dashboard.jobs.queries import job_matcher
from dashboard.jobs.queries import moved_away_jobs
from dashboard.jobs.render_cache import Budget
from dashboard.jobs.render_cache import OnceCache
from dashboard.jobs.render_cache import approx_size
from dashboard.models import SyncStatus
from dashboard.permissions import Scope
from dashboard.permissions import scope_of
from dashboard.permissions import visible_location_ids

# Jobs, {job id: [Clash]} of those jobs, {job id: what its board row is made of} (filled in
# by the first board that draws a job; None: not shared), and what boards worked out once over
# exactly these jobs (the header's counts). The whole day is one, a viewer's cut another.
DayCut = namedtuple("DayCut", "jobs conflicts facts memo")

# One read of a day: its cut, the version it was read under, every job's stamps (removed
# jobs too), the clash row of each live job, the roster the clashes were found with, its
# estimated bytes (see _read_bytes), {job id: job} of its jobs in its order, and the ids of
# its removed jobs (each read reads them again).
DayRead = namedtuple("DayRead", "cut version stamps clash_rows roster size by_id removed")

# A few companies times today and tomorrow (and a day someone browses to).
#
# Both draw on one budget, most of the worker's (CACHE_MAX_MB): reading a day again costs the most
# (an 8,000-job day ~1 s; ~40 MB as estimated, ~25 MB measured with tracemalloc). The newest read
# is counted whole; a snapshot only for what it does not share with it (its clashes, a list).
_DAY_BUDGET = Budget(0.70)
snapshots = OnceCache(16, budget=_DAY_BUDGET, sizer=lambda key, cut: _cut_size(cut), rank=40)
# (company id, day) -> the newest DayRead of that day: where the next read starts from.
newest = OnceCache(16, budget=_DAY_BUDGET, sizer=lambda key, read: read.size, rank=60)

# What boards add to a cut's facts per job once they draw it (span, parts, sort keys), in bytes.
_FACT_BYTES = 1500


# A Clash (a namedtuple of ten fields, its names and times shared with the day's jobs) and a job's list of them,
# in bytes, as approx_size measured them on a 2,000-job day: walking a day's clashes per change took ~1 ms.
_CLASH_BYTES = 360
_CLASH_LIST_BYTES = 120


def _cut_size(cut):
    """What a DayCut adds to the newest read it came from: its clashes and its list of (shared) jobs."""
    clashes = sum(map(len, cut.conflicts.values()))
    return (sys.getsizeof(cut.conflicts) + len(cut.conflicts) * _CLASH_LIST_BYTES + clashes * _CLASH_BYTES
            + 8 * len(cut.jobs) + 64)


def _read_size(read):
    """A DayRead's bytes: its jobs, clashes, stamps and clash rows, and the facts boards add per job.

    The facts are counted per job whether drawn yet or carried over from the last read (walking them
    too counted them twice), and the roster not at all: crew_roster's cache holds and counts it. Counted
    twice, an 8,000-job read outgrew the budget and was never kept, so every change read the whole day."""
    cut = read.cut
    return approx_size((cut.jobs, cut.conflicts, read.version, read.stamps, read.clash_rows)) + \
        len(cut.jobs) * _FACT_BYTES + sys.getsizeof(read.by_id)


def _read_bytes(read, base, kept):
    """read's size: estimated anew (_read_size) after a whole read, else base's scaled to read's jobs.

    A read after a change keeps all but a few of base's jobs and shares their objects: walking it all
    again per change (~15 ms at any size, sampled) bought nothing but another figure of the same size."""
    if base is None or not kept or not base.cut.jobs:
        return _read_size(read)
    return base.size * len(read.cut.jobs) // len(base.cut.jobs)


_REMOVED = SyncStatus.REMOVED.value
_ID = attrgetter("id")   # (an enum's .value costs a descriptor call per job)

# Past this share of the day changed (a sync's batch), one read of the whole day is cheaper.
_WHOLE_READ_SHARE = 0.25


def _board_order(job):
    """The day's order, as queries._of_day sorts in SQL (here in Python: a whole read and a kept-up one
    then agree on any database's collation, and the database sorts nothing)."""
    hour = job.arrival_start_hour
    return hour is None, hour or 0, job.job_number or "", job.id


def _in_board_order(jobs, ordered):
    """jobs in _board_order, the first `ordered` of which already are (kept from the last read, in its order):
    the few others are put in place one by one rather than sorting the whole day again."""
    if len(jobs) - ordered > 64:
        return sorted(jobs, key=_board_order)
    in_order = jobs[:ordered]
    for job in jobs[ordered:]:
        bisect.insort(in_order, job, key=_board_order)
    return in_order


def _same_surroundings(version, other):
    """True when locations and trucks (their names are on every row) did not change."""
    return version[VERSION_PLACES] == other[VERSION_PLACES]


def _same_clash_inputs(base, version, roster, clash_rows):
    """True when the day's clashes cannot have changed since base: the same roster (kept while its
    fingerprint holds), the same time off (board_version's availability parts) and
    equal clash rows (a kept row is the base's own object; a re-read one compares field by field)."""
    return (base is not None and base.roster is roster and version[VERSION_TIME_OFF] == base.version[VERSION_TIME_OFF]
            and clash_rows == base.clash_rows)


def _carried(known, kept):
    """A copy of known ({job id: anything}) without the ids not in kept: dict and set work done in C, as an
    8,000-job day's loop per change in Python was ~10 ms."""
    carried = dict(known)
    for job_id in known.keys() - kept.keys():
        del carried[job_id]
    return carried


def _read(company_id, day, version):
    stamps = day_stamps(company_id, day)
    base = newest.get((company_id, day))
    jobs, kept = _jobs_since(base, company_id, day, version, stamps)
    # Jobs SmartMoving moved off this day stay, greyed, until acknowledged (issue 19 §2): read anew
    # every time (a handful), never kept, and not on the day for clashes.
    fresh = jobs[len(kept):] + moved_away_jobs(company_id, day)
    jobs = _in_board_order(jobs[:len(kept)] + fresh, len(kept))
    clash_rows = _carried(base.clash_rows, kept) if kept else {}
    clash_rows.update((row.id, row) for row in rows_of_jobs([job for job in fresh if job.scheduled_date == day], day))
    roster = crew_roster.load(company_id, version[VERSION_CREW])
    if _same_clash_inputs(base, version, roster, clash_rows):
        # An edit of what clashes do not read (notes, customer, money, status among live ones): the
        # day's clashes are the base's, not worked out again over every job.
        conflicts = base.cut.conflicts
    else:
        conflicts = conflicts_among(clash_rows.values())
    facts = {}
    if kept and conflicts is base.cut.conflicts:
        facts = _carried(base.cut.facts, kept)
    elif kept:
        # A row's facts hold its clashes: carry them over only where those did not change.
        for job_id in kept:
            known = base.cut.facts.get(job_id)
            if known is not None and base.cut.conflicts.get(job_id) == conflicts.get(job_id):
                facts[job_id] = known
    read = DayRead(DayCut(jobs, conflicts, facts, {}), version, stamps, clash_rows, roster, 0,
                   dict(zip(map(_ID, jobs), jobs, strict=True)),
                   [job.id for job in fresh if job.sync_status == _REMOVED])
    read = read._replace(size=_read_bytes(read, base, kept))
    newest.put((company_id, day), read)
    return read.cut


def _jobs_since(base, company_id, day, version, stamps):
    """(the day's jobs, {id: job} of those kept from base unread): only jobs whose stamps moved are read."""
    if base is not None and _same_surroundings(version, base.version):
        # (job id, stamps) pairs that are new or differ from base's: compared as sets, in C.
        moved = [job_id for job_id, _stamp in stamps.items() - base.stamps.items()]
        if len(moved) <= max(8, len(stamps) * _WHOLE_READ_SHARE):
            moved_set = set(moved)
            # A job gone from the stamps left the day (moved to another date); a moved job that is now
            # removed is read and not found: both drop out.
            # A removed job still shown (its removal unacknowledged) is read again: an acknowledgement
            # moves no stamp of it, only the version.
            kept = dict(base.by_id)   # in base's order (dicts keep it)
            for job_id in (base.by_id.keys() - stamps.keys()) | moved_set | set(base.removed):
                kept.pop(job_id, None)
            moved += base.removed
            return list(kept.values()) + (company_board_jobs(company_id, day, moved) if moved else []), kept
    return company_board_jobs(company_id, day), {}


# Caches of what is cut from the reads (jobs.board_cut's views): emptied with them.
dependents = []


def forget():
    """Drop every read and what was cut from them (a new app or database; benchmarks timing a first read)."""
    snapshots.clear()
    newest.clear()
    for cache in dependents:
        cache.clear()


def company_day(user, day, version=None):
    """The DayCut of user's company's whole day (current as of this call, or of version if given: a
    board_version read earlier in this request)."""
    version = version or board_version(user, day)
    return snapshots.get_or_build((user.company_id, day, version),
                                  lambda: _read(user.company_id, day, version))


def serves(user):
    """True for viewers whose boards are cut from their own company's day (all but the super admin's)."""
    return scope_of(user) in (Scope.OWN_COMPANY, Scope.ASSIGNED_LOCATIONS)


def board_day(user, day, location_id=None, search=None, version=None):
    """The DayCut of day for user: the jobs they see matching the location and search, and their clashes.

    Clashes are found over the whole company's day, so a job clashing with one in a
    location the viewer cannot see still carries its badge (the other job stays anonymous).
    """
    snapshot = company_day(user, day, version)
    visible = visible_location_ids(user)   # None: every location of the company
    matches = job_matcher(search)
    jobs = [job for job in snapshot.jobs
            if (visible is None or job.location_id in visible)
            and (location_id is None or job.location_id == location_id) and matches(job)]
    if len(jobs) == len(snapshot.jobs):
        return snapshot
    shown = {job.id for job in jobs}
    return DayCut(jobs, {job_id: clashes for job_id, clashes in snapshot.conflicts.items() if job_id in shown},
                  snapshot.facts, {})
