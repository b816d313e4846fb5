"""One board view cut from the day's read: which jobs a URL shows, in what order and groups, and the header's counts.

Every role, location, search, status filter, sort and grouping of a day is cut from one read
of it (jobs.day_snapshot). Making a cut used to build a row object per job and sort them per
request: after a change, eight open boards each paid that for the whole day (66 ms at 8,000
jobs), one after the other under the GIL. Now:

- each job's Fact (sort keys, flags, group labels) is worked out once per read of the day,
  and carried over to the next read while the job and its clashes do not change;
- the whole day is sorted once per data version and sort order (DayIndex.order), and a view
  keeps the jobs of that order it shows, instead of sorting its own;
- the cut itself (the Facts shown, their groups and totals, the counts) is kept per (data
  version, the viewer's locations, filters, order, grouping): the second viewer of a view
  pays nothing, and the page draws only the rows it shows (jobs.board.build).
"""
import threading
from dataclasses import dataclass
from operator import attrgetter

from dashboard.changes.on_board import open_changes
from dashboard.confirm.states import board_marks
from dashboard.confirm.states import confirmed_of
from dashboard.jobs import board as dayboard
from dashboard.jobs import day_snapshot
from dashboard.jobs.board import day_conflicts_for
from dashboard.jobs.queries import VERSION_CREW
from dashboard.jobs.queries import VERSION_OPEN_CHANGES
from dashboard.jobs.queries import VERSION_PLAN
from dashboard.jobs.queries import board_jobs_for_day
from dashboard.jobs.queries import board_version
from dashboard.jobs.queries import company_names
from dashboard.jobs.queries import job_matcher
from dashboard.jobs.render_cache import OnceCache
from dashboard.permissions import visible_location_ids


class DayIndex:
    """A DayCut's jobs as Facts (in day order), the day's order by each sort, and what every view of the day
    shares (the changes, the plan's marks, the whole day's counts), each worked out once on first use."""

    def __init__(self, cut, read_as=None):
        known = cut.facts   # {job id: Fact} shared with the next read of the day (None: not kept)
        facts = []
        for job in cut.jobs:
            fact = known.get(job.id) if known is not None else None
            if fact is None:
                fact = dayboard.job_fact(job, cut.conflicts.get(job.id, ()))
                if known is not None:
                    known[job.id] = fact
            facts.append(fact)
        self.jobs, self.facts, self.conflicts = cut.jobs, facts, cut.conflicts
        # (company id, day, the board_version the day was read under); None for a board spanning companies.
        self.read_as = read_as
        self._memo = {}
        self._lock = threading.Lock()

    def _once(self, key, work):
        """work() once per key (concurrent askers wait for the first)."""
        found = self._memo.get(key)
        if found is None:
            with self._lock:
                found = self._memo.get(key)
                if found is None:
                    found = self._memo[key] = work()
        return found

    def order(self, sort, descending):
        """Every Fact in the board's order for sort (then arrival), as BoardParams names it."""
        return self._once(("order", sort, descending), lambda: sorted(
            self.facts, key=lambda fact: (fact.keys[sort], fact.keys["arrival"]), reverse=descending))

    def counts(self):
        """The header's counts over the whole day."""
        return self._once("counts", lambda: dayboard.header_counts(self.facts))

    def changes(self, financial):
        """{job id: open changes} of the day's jobs (money changes only when financial)."""
        if self.read_as is not None and not any(self.read_as[2][at] for at in VERSION_OPEN_CHANGES):
            return {}   # the version counted no unacknowledged change off or onto the day: nothing to look up
        return self._once(("changes", financial), lambda: open_changes(self.jobs, financial=financial))

    def marks(self):
        """{job id: (Mark, ...)} of the day's jobs once a plan was published, else {}."""
        jobs, known = self.jobs, None
        if self.read_as is not None:   # the day's plan and roster stamps are in its version (moved jobs read theirs)
            company_id, day, version = self.read_as
            known = {(company_id, day): {"stamps": tuple(version[VERSION_PLAN]), "roster": version[VERSION_CREW]}}
            if version[VERSION_PLAN][0] is None:   # no plan for the day yet: only jobs moved off it can have marks
                jobs = [job for job in jobs if job.scheduled_date != day]
        return self._once("marks", lambda: board_marks(jobs, known))

    def whole_day(self):
        """board_cut._shown_figures over every Fact of the day."""
        return self._once("whole day", lambda: _shown_figures(self.facts, self.marks()))


_index_lock = threading.Lock()


def day_index(snapshot, read_as=None):
    """The DayIndex of a day's snapshot, built once and kept with it (in its memo); read_as: (company id, day,
    board_version) it was read under."""
    index = snapshot.memo.get("index")
    if index is None:
        with _index_lock:
            index = snapshot.memo.get("index")
            if index is None:
                index = snapshot.memo["index"] = DayIndex(snapshot, read_as)
    return index


@dataclass
class Cut:
    """One view of a day: the Facts it shows in order, grouped for table and cards, and the header's figures."""
    facts: list           # the Facts shown (status filter applied), in display order: all of them, not a page
    groups: list          # (label, Facts, money totals, rows asking for action) per group ([] for lanes)
    totals: tuple         # money over every Fact shown
    counts: dict          # the header's counts, over the jobs before the status filter
    total: int            # how many jobs before the status filter (greyed ones too)
    show_charged: bool    # some job shown reports charges or tips
    marks: dict           # {job id: (Mark, ...)} of the day's jobs ({} before a plan is published)
    confirmed: tuple | None   # (people confirmed, people) over the jobs shown once a plan was published
    changes: object       # financial -> {job id: open changes}
    conflicts: dict       # {job id: [Clash]} of the day's jobs (looked up by id, so the whole day's serve)


def cut(index, *, visible, location_id, search, status, params):
    """The Cut of index (a day's DayIndex) for a viewer seeing visible locations (None: all), through the
    board's filters and params."""
    facts = index.facts
    person = params.member   # a crew member's id: their jobs only (our crew's ids, else SmartMoving's)
    if visible is None and location_id is None and not search and person is None:
        members, counts = facts, index.counts()
    else:
        matches = job_matcher(search)
        members = [fact for fact in facts
                   if (visible is None or fact.job.location_id in visible)
                   and (location_id is None or fact.job.location_id == location_id) and matches(fact.job)
                   and (person is None or person in fact.job.effective_crew_ids)]
        counts = dayboard.header_counts(members)
    shown = dayboard.filter_facts(members, status)
    ordered = index.order(params.sort, params.descending)
    if len(shown) < len(facts):
        wanted = {fact.job.id for fact in shown}
        ordered = [fact for fact in ordered if fact.job.id in wanted]
    groups = []
    if params.view != "lanes":
        groups = [(label, items, dayboard.totals(items), sum(1 for fact in items if fact.attention))
                  for label, items in _groups(ordered, params.group)]
    marks = index.marks()
    if shown is facts:   # the whole day (most boards): worked out once per version, not per view
        show_charged, confirmed = index.whole_day()
    else:
        show_charged, confirmed = _shown_figures(shown, marks)
    return Cut(ordered, groups, dayboard.totals(ordered), counts, len(members), show_charged, marks, confirmed,
               index.changes, index.conflicts)


# Read in C (map): before the move every job's charges are empty, so the whole day is looked at after every change.
_CHARGES, _TIPS = attrgetter("job.actual_charges_cents"), attrgetter("job.tips_cents")


def _shown_figures(shown, marks):
    """(some job shown reports charges or tips, (people confirmed, people) over them once a plan was published)."""
    show_charged = any(map(_CHARGES, shown)) or any(map(_TIPS, shown))
    if not marks or not any(fact.job.id in marks for fact in shown):
        return show_charged, None
    return show_charged, confirmed_of([fact.job for fact in shown], marks)


def _groups(ordered, group):
    """[(label, Facts)] of ordered Facts by group: by location, one group per location *id* (two companies' or
    branches' same-named locations never merge), in label order; else as the board groups them."""
    if group != "location":
        return dayboard.group_facts(ordered, group)
    buckets = {}
    for fact in ordered:
        items = buckets.get(fact.job.location_id)
        if items is None:
            items = buckets[fact.job.location_id] = []
        items.append(fact)
    # (A location's Facts share its label: the first one's names the group.)
    return sorted(((items[0].place, items) for items in buckets.values()),
                  key=lambda group: (group[0], group[1][0].job.location_id or 0))


def _label_companies(index):
    """On a board spanning several companies, each Fact's location reads "Company · Location" (its group's label and
    its location sort key): the super admin's "All companies" board merged same-named locations of two companies."""
    names = company_names({job.company_id for job in index.jobs})
    if len(names) < 2:
        return
    relabelled = []
    for fact in index.facts:
        place = f"{names.get(fact.job.company_id, '')} · {fact.place}"
        relabelled.append(fact._replace(place=place, keys={**fact.keys, "location": place}))
    index.facts = relabelled


def _cut_size(key, value):
    """A kept Cut's bytes: two references per Fact shown (the order and its group) and a little per group."""
    return 16 * len(value.facts) + 300 * len(value.groups) + 1000


# Cuts by (company, day, data version, the viewer's locations, filters, order, grouping): every viewer of a
# view after a change asks for the same one.
views = OnceCache(64, share=0.05, sizer=_cut_size, rank=30)
day_snapshot.dependents.append(views)


def board_cut(user, day, filters, params, version=None):
    """The Cut of day that user's board shows through filters ({"location", "status", "q"}) and params.

    version: board_version(user, day) if the caller read it already (the partial's ETag did).
    """
    search = filters["q"] or None
    if day_snapshot.serves(user):
        version = version or board_version(user, day)
        visible = visible_location_ids(user)
        key = (user.company_id, day, version, None if visible is None else frozenset(visible), filters["location"],
               search, filters["status"], params.sort, params.descending,
               "lanes" if params.view == "lanes" else params.group, params.member)
        return views.get_or_build(key, lambda: cut(
            day_index(day_snapshot.company_day(user, day, version), (user.company_id, day, version)), visible=visible,
            location_id=filters["location"], search=search, status=filters["status"], params=params))
    # The super admin's board spans companies: read as asked. Unfiltered, it is every
    # job of the day, so the clashes need no second read.
    jobs = board_jobs_for_day(user, day, location_id=filters["location"], search=search)
    conflicts = day_conflicts_for(jobs, day, complete=not filters["location"] and not search)
    index = DayIndex(day_snapshot.DayCut(jobs, conflicts, None, {}))
    _label_companies(index)
    return cut(index, visible=None, location_id=None, search=None, status=filters["status"], params=params)
