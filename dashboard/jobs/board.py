"""The day board as plain data: each job's row, card or lane block is drawn once per data version.

The markup lives in templates/jobs/_job.html (Jinja macros, autoescaped, sharing the page
helpers `chip` and the cents `money` filter). A 2,000-job board cannot afford a macro call
per job on every poll, so each drawn job is kept in `row_cache` under the stamps it was
drawn from: after a change only that job is drawn again, and the board's template just
joins the strings (STYLE.md, "Dense boards").
"""
import math
import re
import sys
from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import time
from datetime import timedelta
from functools import partial
from operator import attrgetter
from operator import is_not
from types import SimpleNamespace
from typing import NamedTuple

from flask import current_app
from markupsafe import Markup

from dashboard.changes.on_board import gone_text
from dashboard.changes.on_board import is_gone
from dashboard.changes.on_board import open_changes
from dashboard.confirm.states import board_marks
from dashboard.jobs.conflicts import STAFFING_KINDS
from dashboard.jobs.conflicts import conflicts_among
from dashboard.jobs.conflicts import day_conflicts
from dashboard.jobs.conflicts import describe
from dashboard.jobs.conflicts import is_live
from dashboard.jobs.conflicts import needs_crew
from dashboard.jobs.conflicts import needs_truck
from dashboard.jobs.conflicts import rows_of_jobs
from dashboard.jobs.render_cache import OnceCache
from dashboard.jobs.spans import span_for
from dashboard.models import SyncStatus

VIEWS = ("table", "cards", "lanes")
# Table and cards draw this many rows unless ?all=1: an admin's 2,000-job day is narrowed, not scrolled.
PAGE_ROWS = 200
# The most rows any board draws, ?all=1 and lanes included (issue 20 §15): "show all" of an 8,000-job day
# was an 8.5 MB answer. Past it, the board says how many it shows and asks to narrow by location or search.
MAX_ROWS = 2_000
# Lanes draw whole lanes up to this many jobs unless ?all=1 (a morning of 24 trucks is ~100).
LANE_ROWS = 600
GROUPS = ("location", "window", "none")
# Status filters of our own, next to SmartMoving's and dispatch statuses.
NEEDS_TRUCK, NEEDS_CREW, CONFLICT, NEEDS_ASSIGNMENT = "NEEDS_TRUCK", "NEEDS_CREW", "CONFLICT", "NEEDS_ASSIGNMENT"
# Jobs flagged understaffed or without a driver (issue 20): not clashes with another job or with time off, so
# counted and filtered apart from CONFLICT.
SHORT_STAFFED = "SHORT_STAFFED"
SORTS = ("arrival", "job", "customer", "route", "crew", "truck", "location", "status", "dispatch", "value")
_SYNC_FLAGS = {"PENDING": ("Details pending", "f-pending"), "FAILED": ("Sync failed", "f-failed")}


@dataclass
class BoardParams:
    """What the board shows beyond the filters: view, grouping and sort order (all kept in the URL)."""
    view: str = "table"
    group: str = "location"
    sort: str = "arrival"
    descending: bool = False
    # ?member=<CrewMember id>: only that person's jobs (the crew roster's counts link here). By id, not by name:
    # two people with the same name do not get each other's jobs.
    member: int | None = None

    @classmethod
    def parse(cls, args, many_locations):
        """Read ?view=&group=&sort=&member= leniently: unknown values fall back to the defaults."""
        view = args.get("view", "table")
        group = args.get("group", "location" if many_locations else "none")
        sort = args.get("sort", "arrival")
        descending = sort.startswith("-")
        sort = sort.lstrip("-")
        member = (args.get("member") or "").strip()
        return cls(view if view in VIEWS else "table", group if group in GROUPS else "none",
                   sort if sort in SORTS else "arrival", descending,
                   int(member) if member.isascii() and member.isdigit() and 0 < int(member) < 2**31 else None)

    def query(self, many_locations):
        """The non-default parts, for links that must keep them."""
        out = {}
        if self.view != "table":
            out["view"] = self.view
        if self.group != ("location" if many_locations else "none"):
            out["group"] = self.group
        if self.sort != "arrival" or self.descending:
            out["sort"] = ("-" if self.descending else "") + self.sort
        if self.member is not None:
            out["member"] = self.member
        return out


class Fact(NamedTuple):
    """What a job's row is made of, whatever the viewer or the URL: worked out once per job per read of the day
    (day_snapshot keeps them across reads while the job and its clashes do not change)."""
    job: object
    span: tuple
    parts: tuple          # (clashes, crew names, truck name, row class)
    keys: dict            # sort keys by SORTS name
    attention: bool       # the row asks for action (a clash, a failed sync, no truck or crew)
    flags: tuple          # (gone, needs truck, needs crew, a clash, short-staffed): the header's counts and filters
    place: str            # the location group's label
    hour: tuple           # the arrival-window group's (sort key, label)

    @property
    def cents(self):
        return self.job.estimated_value_cents, self.job.actual_charges_cents, self.job.tips_cents


_FLAG_NAMES = ("gone", "needs truck", "needs crew", "clash", "short")
_FLAGS, _STATUS = attrgetter("flags"), attrgetter("job.status")
_GONE, _NEEDS_TRUCK, _NEEDS_CREW, _CLASH, _SHORT = range(len(_FLAG_NAMES))


def job_fact(job, clashes):
    """The Fact of job given its clashes (the day's, from the conflict engine)."""
    span = span_for(job)
    crew = job.effective_crew
    truck = job.truck.name if job.truck else ""
    keys = {
        "arrival": (span[0] is None, span[0] or datetime.min, job.job_number or ""),
        "job": job.job_number or "", "customer": (job.customer_name or "").casefold(),
        "route": (job.origin_address or "").casefold(), "crew": len(crew), "truck": truck.casefold() or "~",
        "location": job.location.name if job.location else "", "status": job.status or "",
        "dispatch": job.dispatch_status or "", "value": job.estimated_value_cents or 0,
    }
    cls = _row_class(job, clashes)
    gone = is_gone(job)
    flags = (gone, not gone and needs_truck(job), not gone and needs_crew(job),
             not gone and any(clash.kind not in STAFFING_KINDS for clash in clashes),
             not gone and any(clash.kind in STAFFING_KINDS for clash in clashes))
    start = span[0]
    hour = ((start is None, start.hour if start else 0),
            f"Arrival {start:%H}:00–{start.hour + 1:02d}:00" if start else "No arrival time")
    return Fact(job, span, (clashes, crew, truck, cls), keys, cls in ("r-alert", "r-needs"), flags,
                job.location.name if job.location else "No location", hour)


def _row_class(job, clashes):
    if is_gone(job):
        return "r-done r-gone"
    if not is_live(job):
        return "r-done"
    if clashes or job.sync_status == SyncStatus.FAILED.value or job.removal_pending_at is not None:
        return "r-alert"
    if job.truck_id is None or not job.effective_crew:
        return "r-needs"
    return ""


class Row:
    """One job drawn for the page: its Fact and the pre-built HTML of the chosen view."""
    __slots__ = ("fact", "html")

    def __init__(self, fact, html):
        self.fact, self.html = fact, html

    job = property(lambda self: self.fact.job)
    span = property(lambda self: self.fact.span)
    parts = property(lambda self: self.fact.parts)
    keys = property(lambda self: self.fact.keys)
    attention = property(lambda self: self.fact.attention)
    cents = property(lambda self: self.fact.cents)

    @property
    def conflict(self):
        return bool(self.fact.parts[0])


@dataclass
class Group:
    label: str
    rows: list
    totals: tuple = (0, 0, 0)
    head: Markup = Markup("")
    total_rows: int = 0
    attention: int = 0

    @property
    def html(self):
        """The group's drawn rows as one Markup: the template writes (and escape-checks) one string, not 200."""
        return Markup("".join(row.html for row in self.rows))


@dataclass
class Board:
    """Everything the board's fragment draws, built once per (data version, viewer, params)."""
    params: BoardParams
    groups: list
    rows: list
    total: int
    columns: int
    foot: Markup = Markup("")
    show_charged: bool = False   # the table's Charged column (some job of the day reports charges or tips)
    lanes: list = field(default_factory=list)
    hours: list = field(default_factory=list)
    track_class: str = ""
    untimed: list = field(default_factory=list)
    shown: int = 0
    confirmed: tuple | None = None   # (people confirmed, people) once the day's plan was published
    more: bool = False   # ?all=1 would draw more rows than shown (the "show all" link)


def short_address(address):
    """'1200 King St, Unit 4, Toronto, ON M5V' -> '1200 King St, Toronto' (street and city)."""
    if not address:
        return "?"
    parts = [p.strip() for p in address.split(",") if p.strip()]
    if len(parts) >= 3:
        return f"{parts[0]}, {parts[-2]}"
    return ", ".join(parts[:2])


def route_text(origin, dest, shorten=None):
    """'origin → destination', or the one address a job has (labour only, packing: no arrow, no "?"), or ''.

    shorten: applied to each address shown (short_address on the board)."""
    shown = [address for address in (origin, dest) if address]
    return " → ".join(shorten(address) for address in shown) if shorten else " → ".join(shown)


_WINDOW_RE = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*([AaPp][Mm])?"   # 8, 8:00, 8:00 AM
                        r"\s*[-–to]+"                                   # -, – or "to"
                        r"\s*(\d{1,2})(?::(\d{2}))?\s*([AaPp][Mm])?\s*$")


def compact_window(text):
    """'8:00 AM - 10:00 AM' -> '8–10 AM', '10:30 AM - 12:30 PM' -> '10:30 AM–12:30 PM'; other text unchanged."""
    match = _WINDOW_RE.match(text or "")
    if not match:
        return text or ""
    h1, m1, p1, h2, m2, p2 = match.groups()
    first = h1 + (f":{m1}" if m1 and m1 != "00" else "")
    second = h2 + (f":{m2}" if m2 and m2 != "00" else "")
    p1, p2 = (p1 or "").upper(), (p2 or "").upper()
    if p1 and p1 != p2:
        first += " " + p1
    return f"{first}–{second}" + (f" {p2}" if p2 else "")


def _window_text(job, span):
    if job.arrival_window:
        return compact_window(job.arrival_window)
    if span[0] is not None:
        return f"{span[0]:%H:%M}"
    return ""


def _row_key(job, viewer, clashes, truck):
    """Everything one row's HTML depends on: a sync or dispatch change, a clash or the viewer's rights change it."""
    return (job.id, job.created_at, job.last_sync_at, job.dispatch_updated_at, job.removal_pending_at,
            job.sync_status, job.status, job.span_start, job.span_end, truck,
            job.location.name if job.location else None,
            tuple((c.kind, c.name, c.other_id, c.start, c.end) for c in clashes), viewer)


def row_size(key, html):
    """A drawn row's bytes: its HTML and its key (tuples of the job's stamps, clashes, changes and marks)."""
    return sys.getsizeof(html) + _ROW_KEY_BYTES


# What a row_cache key holds, measured on a 2,000-job board (a job's stamps, the viewer, a few clashes).
_ROW_KEY_BYTES = 1500

# Drawn rows by _row_key, least recently used out: after one job changes, the others are not redrawn.
row_cache = OnceCache(20_000, share=0.20, sizer=row_size, rank=20)


def job_macros():
    """The macros of templates/jobs/_job.html (row, card, lane_block, group_head, foot), compiled once by Jinja."""
    return current_app.jinja_env.get_template("jobs/_job.html").module


class BoardBuilder:
    """Draws the rows of one board view for one viewer; one instance per render."""

    def __init__(self, jobs, *, params, show_money, can_edit, show_location, visible_location_ids, conflicts,
                 detail_url, assign_url, day_start=6, day_end=20, trucks=(), changes=None, marks=None,
                 show_charged=None):
        self.jobs = jobs
        self.params = params
        self.show_money = show_money
        self.can_edit = can_edit
        self.show_location = show_location
        self.visible = visible_location_ids   # None: every location
        self.conflicts = conflicts
        self.detail_url = detail_url          # "/jobs/{}"
        self.assign_url = assign_url          # "/jobs/{}/assign"
        self.day_start, self.day_end = day_start, day_end
        self.trucks = trucks
        # Charges and tips only once SmartMoving reports some (before the move they are all zero).
        if show_charged is None:
            show_charged = any(j.actual_charges_cents or j.tips_cents for j in jobs)
        self.show_charged = show_money and show_charged
        # {job id: its unacknowledged changes from SmartMoving} for the Changed badges (issue 19); a board cut
        # from the day's snapshot passes the whole day's, read once per data version.
        self.changes = open_changes(jobs, financial=show_money) if changes is None else changes
        # {job id: (Mark, ...)}: each person's answer to the day's published plan (issue 18); {} before one.
        self.marks = board_marks(jobs) if marks is None else marks
        self._drawing = None   # see _drawer

    # -- facts shared by every view -------------------------------------------------
    def _conflict_text(self, clashes):
        """The conflict flag's tooltip ('' without clashes)."""
        if not clashes:
            return ""
        # A job clashing with many others would cost a sentence each: three say enough in a tooltip.
        text = " ".join(describe(c, self.visible is None or c.other_location_id in self.visible)
                        for c in clashes[:3])
        if len(clashes) > 3:
            text += f" And {len(clashes) - 3} more."
        return text

    def _drawer(self):
        """(the macro drawing a row of this view, what the viewer's rows depend on): once per builder, as a table
        view draws group by group."""
        if self._drawing is None:
            view = self.params.view
            macros = job_macros()
            viewer = (view, self.show_money, self.can_edit, self.show_location, self.show_charged,
                      self.detail_url, self.assign_url, self.day_start, self.day_end,
                      None if self.visible is None else frozenset(self.visible))
            self._drawing = {"table": macros.row, "cards": macros.card, "lanes": macros.lane_block}[view], viewer
        return self._drawing

    def draw(self, facts):
        """Rows with the HTML of facts in the chosen view, reusing rows drawn before that did not change."""
        draw, viewer = self._drawer()
        rows = []
        for fact in facts:
            job = fact.job
            clashes, crew, truck, cls = fact.parts
            key = (_row_key(job, viewer, clashes, truck), self.changes.get(job.id), self.marks.get(job.id))
            html = row_cache.get(key)
            if html is None:
                html = self._draw(draw, job, clashes, fact.span, crew, truck, cls)
                row_cache.put(key, html)
            rows.append(Row(fact, html))
        return rows

    def _draw(self, macro, job, clashes, span, crew, truck, cls):
        """One job through macro, given what drawing() works out."""
        return Markup(macro(job, self.drawing(job, clashes, span, crew, truck, cls), self))

    def drawing(self, job, clashes, span, crew, truck, cls):
        """What the macros show of a job beyond its own fields: texts, links, clashes and, in lanes, its place.

        An object, not a dict: Jinja reads `d.cls` by getattr first, and a dict would raise and retry per field.
        """
        d = SimpleNamespace(cls=cls, number=job.job_number or f"#{job.id}", crew=crew, truck=truck,
                            conflict=self._conflict_text(clashes), detail=self.detail_url.format(job.id),
                            assign=self.assign_url.format(job.id))
        d.changes, d.gone = self.changes.get(job.id, ()), gone_text(job)
        d.marks = self.marks.get(job.id, ())
        if self.params.view == "lanes":   # only what a block shows: its place, time and tooltip
            if span[0] is not None:
                day = job.scheduled_date or span[0].date()
                d.cols, d.start = self._cols(span, day), f"{span[0]:%H:%M}"
                # A job running past the lanes' last hour (or starting before their first) is drawn to the edge
                # and says where it really ends (starts): a 15:00–00:30 job is not a quarter-hour sliver.
                d.clip_before, d.clip_after = self._clipped(span, day)
                d.block_title = (f"{d.start}–{span[1]:%H:%M} {job.job_number or ''} {job.customer_name or ''} · "
                                 f"{', '.join(crew) or 'no crew'}")
            else:
                d.start = None
            return d
        origin, dest = job.origin_address or "", job.destination_address or ""
        d.window, d.live, d.sync_flag = _window_text(job, span), is_live(job), _SYNC_FLAGS.get(job.sync_status)
        d.origin, d.dest = origin, dest
        d.route, d.route_full = route_text(origin, dest, short_address), route_text(origin, dest)
        return d

    # -- table ------------------------------------------------------------------------
    def _money_columns(self):
        return (1 + self.show_charged) if self.show_money else 0

    def columns(self):
        return (1 if self.can_edit else 0) + 9 + (1 if self.show_location else 0) + self._money_columns()

    def _lead_span(self):
        """Columns before the money ones (the group label spans them)."""
        return self.columns() - self._money_columns()

    def group_head(self, group):
        return Markup(job_macros().group_head(group, self, self._lead_span()))

    def foot(self, rows, totals):
        if not self.show_money:
            return Markup("")
        return Markup(job_macros().foot(len(rows), totals, self, self._lead_span()))

    # -- lanes ------------------------------------------------------------------------
    @property
    def slots(self):
        return int((self.day_end - self.day_start) * 4)

    def _col(self, moment, day):
        """Grid line (1-based) of a moment, in quarter hours from day's start, clamped to the day's lanes (a moment
        after midnight counts from day, so 00:30 next day is past the last line, not before the first)."""
        hours = (moment - datetime.combine(day, time())) / timedelta(hours=1) - self.day_start
        return max(1, min(self.slots + 1, math.floor(hours * 4) + 1))

    def _cols(self, span, day):
        """(first, last) grid lines of a timed job's block: at least one quarter hour wide, inside the day."""
        start, end = self._col(span[0], day), self._col(span[1], day)
        if end <= start:
            end = min(self.slots + 1, start + 1)
            start = end - 1
        return start, end

    def _clipped(self, span, day):
        """(start text, end text) of a span that the lanes cut at their left or right edge, "" where it fits."""
        midnight = datetime.combine(day, time())
        opens = midnight + timedelta(hours=self.day_start)
        closes = midnight + timedelta(hours=self.day_end)
        before = f"{span[0]:%H:%M}" if span[0] < opens else ""
        after = f"{span[1]:%H:%M}" if span[1] > closes else ""
        return before, after

    def lanes(self, rows):
        """(hour labels, lanes, untimed rows): one lane per truck in view plus 'No truck'."""
        hours = [(f"{h:02d}:00", (h - self.day_start) * 4 + 1, min(self.slots + 1, (h - self.day_start) * 4 + 5))
                 for h in range(int(self.day_start), int(self.day_end))]
        by_truck, untimed = {}, []
        for row in rows:
            if row.span[0] is None:
                untimed.append(row)
                continue
            by_truck.setdefault(row.job.truck_id, []).append(row)
        lanes = []
        names = {t.id: t.name for t in self.trucks}
        # Where each truck is based, shown under its name (issue 20 §4): a location id, 0 for a company-wide truck
        # (None marks the "No truck" lane).
        places = {t.id: t.location_id for t in self.trucks}
        for row_list in by_truck.values():
            for row in row_list:
                if row.job.truck is not None:
                    names.setdefault(row.job.truck_id, row.job.truck.name)
        for truck_id, name in sorted(((k, v) for k, v in names.items()), key=lambda kv: kv[1].casefold()):
            lane_rows = by_truck.get(truck_id, [])
            # The lane's name turns red for a double-booked truck, not for a crew clash on one of its jobs.
            busy = any(clash.kind == "truck" for r in lane_rows for clash in r.parts[0])
            place = places.get(truck_id) or 0
            lanes.append((name, Markup("".join(r.html for r in lane_rows)), len(lane_rows), busy, place))
        no_truck = by_truck.get(None, [])
        waiting = ("No truck", Markup("".join(r.html for r in no_truck)), len(no_truck), False, None)
        # Jobs still waiting for a truck are the dispatcher's work: their lane comes first.
        return hours, ([waiting] + lanes if no_truck else lanes + [waiting]), untimed


def group_facts(facts, group):
    """[(label, facts)] of facts grouped by location or arrival hour (in sort order inside each group)."""
    if group == "none":
        return [("All jobs", facts)]
    buckets = {}
    if group == "location":
        for fact in facts:
            buckets.setdefault(fact.place, (fact.place, []))[1].append(fact)
    else:
        for fact in facts:
            key, label = fact.hour
            buckets.setdefault(key, (label, []))[1].append(fact)
    return [items for _key, items in sorted(buckets.items(), key=lambda item: item[0])]


# A row's or Fact's money columns, read in C (map): a day's totals are worked out after every change, per group too.
_MONEY = tuple(attrgetter(f"job.{name}") for name in ("estimated_value_cents", "actual_charges_cents", "tips_cents"))
_KNOWN = partial(is_not, None)


def totals(rows):
    """(estimated value, charges, tips) in cents over rows (or facts); None for a column nobody has."""
    return tuple(_sum(map(money, rows)) for money in _MONEY)


def _sum(values):
    """The sum of the known values, None when none is known."""
    known = list(filter(_KNOWN, values))
    return sum(known) if known else None


def header_counts(facts):
    """Jobs, needs truck, needs crew, jobs in a conflict and short-staffed jobs, for the board's header.

    Each count is also a filter, so it counts the rows that filter shows: a double
    booking is two jobs, and two jobs clashing twice (truck and crew) are still two.
    Conflicts are clashes with another job, time off or a truck out of service; a crew
    short of its size or without a driver is short-staffed, not a conflict.
    """
    live = [fact for fact in facts if not fact.flags[_GONE]]   # greyed jobs left the day: shown, not counted
    # In C (map, zip, sum): a day's counts are worked out after every change. One column of booleans per flag.
    statuses = Counter(map(_STATUS, live))
    columns = list(zip(*map(_FLAGS, live), strict=True)) or [()] * len(_FLAG_NAMES)
    return {
        "jobs": len(live),
        "needs_truck": sum(columns[_NEEDS_TRUCK]),
        "needs_crew": sum(columns[_NEEDS_CREW]),
        "conflicts": sum(columns[_CLASH]),
        "short_staffed": sum(columns[_SHORT]),
        "statuses": sorted(statuses.items()),
    }


# The board's own status filters: which flags of a Fact (any of them) keep its job.
_FILTER_FLAGS = {NEEDS_TRUCK: (_NEEDS_TRUCK,), NEEDS_CREW: (_NEEDS_CREW,),
                 NEEDS_ASSIGNMENT: (_NEEDS_TRUCK, _NEEDS_CREW), CONFLICT: (_CLASH,), SHORT_STAFFED: (_SHORT,)}


def filter_facts(facts, status):
    """The board's status filter over Facts: ours (needs truck/crew, conflict, short-staffed) or SmartMoving's or
    the dispatch status; a filter narrows the day's own jobs (greyed ones left the day)."""
    if not status:
        return facts
    flags = _FILTER_FLAGS.get(status)
    if flags is not None:
        return [fact for fact in facts if any(fact.flags[flag] for flag in flags)]
    return [fact for fact in facts if not fact.flags[_GONE] and status in (fact.job.status, fact.job.dispatch_status)]


def filter_jobs(jobs, status, conflicts):
    """filter_facts for plain jobs and their {job id: [Clash]} (the print sheet and the CSV)."""
    if not status:
        return jobs
    return [fact.job for fact in filter_facts([job_fact(job, conflicts.get(job.id, ())) for job in jobs], status)]


def _lane_cut(rows, trucks, limit):
    """(rows, trucks) of the whole lanes that fit in limit rows ("No truck" first, then by truck name, as
    lanes() orders them; a first lane longer than limit is cut), and the untimed rows within what is left."""
    timed = [row for row in rows if row.span[0] is not None]
    if len(rows) <= limit:
        return rows, trucks
    by_truck = {}
    for row in timed:
        by_truck.setdefault(row.job.truck_id, []).append(row)
    names = {t.id: t.name for t in trucks}
    for row in timed:
        if row.job.truck is not None:
            names.setdefault(row.job.truck_id, row.job.truck.name)
    order = ([None] if None in by_truck else []) + [truck_id for truck_id, _ in sorted(
        names.items(), key=lambda item: item[1].casefold())]
    kept, keep_trucks = [], set()
    for truck_id in order:
        lane = by_truck.get(truck_id, [])
        if len(kept) + len(lane) > limit:
            if not kept:   # one lane longer than the cap (a morning's unassigned work): its first jobs
                kept, keep_trucks = lane[:limit], {truck_id}
            break
        kept += lane
        keep_trucks.add(truck_id)
    untimed = [row for row in rows if row.span[0] is None][:max(0, limit - len(kept))]
    return kept + untimed, [t for t in trucks if t.id in keep_trucks]


def build(cut, *, params, limit=None, **options):
    """The Board of a cut (jobs.board_cut: the view's Facts in order, grouped) as params asks: at most limit rows
    drawn (None: MAX_ROWS); lanes keep whole lanes within the limit. Only the rows shown are drawn."""
    limit = MAX_ROWS if limit is None else min(limit, MAX_ROWS)
    shared = dict(changes=cut.changes(options["show_money"]), marks=cut.marks, show_charged=cut.show_charged)
    builder = BoardBuilder((), params=params, **shared, **options)
    facts = cut.facts
    board = Board(params=params, groups=[], rows=facts, total=len(facts), columns=builder.columns(),
                  confirmed=cut.confirmed)
    if params.view == "lanes":
        # Lanes are capped like the table (issue 20 §15): 8,000 jobs drew 2.4 MB of blocks.
        cap = min(MAX_ROWS, max(limit, LANE_ROWS))
        shown, builder.trucks = _lane_cut(facts, builder.trucks, cap)
        rows = builder.draw(shown)
        board.shown, board.more = len(rows), cap < MAX_ROWS and len(rows) < len(facts)
        board.hours, board.lanes, board.untimed = builder.lanes(rows)
        board.track_class = f"cols-{builder.slots}"
        if board.untimed:
            cards = BoardBuilder((), params=BoardParams("cards"), **shared, **options)
            board.untimed = cards.draw(sorted((row.fact for row in board.untimed), key=lambda f: f.keys["arrival"]))
        return board
    # A day of thousands of jobs is not read row by row: draw the first rows in display
    # order (counts and totals still cover all of them) and offer the rest on request.
    budget = limit
    for label, items, sums, attention in cut.groups:
        rows = builder.draw(items[:max(budget, 0)])
        budget -= len(rows)
        if rows:
            board.groups.append(Group(label, rows, sums if builder.show_money else (0, 0, 0),
                                      total_rows=len(items), attention=attention))
    board.shown = sum(len(group.rows) for group in board.groups)
    board.more = limit < MAX_ROWS and board.shown < len(facts)
    if params.view == "table":
        for group in board.groups:
            group.head = builder.group_head(group)
        board.foot = builder.foot(facts, cut.totals)
        board.show_charged = builder.show_charged
    return board


def day_conflicts_for(jobs, day, complete=False):
    """Conflicts of day for every company among jobs (a super admin's board spans companies).

    complete: jobs hold every job of their companies' day (the unfiltered board of a
    company-wide role), so the clashes are found among them without reading the day again.
    """
    by_company = {}
    for job in jobs:
        by_company.setdefault(job.company_id, []).append(job)
    conflicts = {}
    for company_id, company_jobs in sorted(by_company.items()):
        conflicts.update(conflicts_among(rows_of_jobs(company_jobs, day)) if complete
                         else day_conflicts(company_id, day))
    shown = {job.id for job in jobs}
    return {job_id: clashes for job_id, clashes in conflicts.items() if job_id in shown}


def lanes_trucks(user, location_ids):
    """Active trucks for the lanes: those of the locations in view, plus company-wide ones (no location)."""
    import sqlalchemy as sa

    from dashboard.db import db
    from dashboard.models import Truck

    stmt = sa.select(Truck).where(Truck.company_id == user.company_id, Truck.is_active.is_(True),
                                  sa.or_(Truck.location_id.in_(location_ids), Truck.location_id.is_(None)))
    return list(db.session.scalars(stmt))

