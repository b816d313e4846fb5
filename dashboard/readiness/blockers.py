"""Is the day ready? What still blocks a company's day, for one viewer (issue 17 §4).

Computed from the rows the board already reads: the board's snapshot of the day
(jobs.day_snapshot, read once per change of the day and shared by every board and poll),
else jobs.queries.board_jobs_for_day and the day's conflicts. No table of its own. A blocker
is {"kind", "jobId", "jobNumber", "message"}; stale-sync concerns the whole day (jobId and
jobNumber null).

The checks are a list of functions `check(day_view) -> [Blocker]` (CHECKS); other features
add theirs with `register(check)` (their module's import does it), e.g. confirmations
(unconfirmed, declined, changed) and upstream changes (upstream-change).
"""
from dataclasses import dataclass
from datetime import date

from dashboard.jobs import conflicts
from dashboard.jobs import day_snapshot
from dashboard.jobs.queries import board_jobs_for_day
from dashboard.permissions import visible_location_ids
from dashboard.sync import history

# The order the panel and the API list kinds in: most urgent first. Someone said no or the job moved under
# them (declined, changed, upstream-change); then the day cannot run as booked (double bookings, people off,
# trucks out); then jobs short of what they need; then what is merely not done yet. Kinds of features not
# loaded are skipped; kinds another feature adds that are not named here follow, in the order registered.
KIND_ORDER = ["declined", "changed", "upstream-change", "conflict", "timeoff", "truck-unavailable", "no-driver",
              "understaffed", "unassigned-truck", "unassigned-crew", "unconfirmed", "stale-sync"]
KIND_LABELS = {
    "unassigned-truck": "No truck", "unassigned-crew": "No crew", "understaffed": "Understaffed",
    "no-driver": "No driver", "conflict": "Double booked", "timeoff": "Crew off", "truck-unavailable":
    "Truck out of service", "stale-sync": "Stale sync", "unconfirmed": "Unconfirmed", "declined": "Declined",
    "changed": "Changed since confirmed", "upstream-change": "Changed in SmartMoving",
}


@dataclass(frozen=True)
class Blocker:
    """One thing that keeps the day from being ready."""
    kind: str
    job_id: int | None
    job_number: str | None
    message: str

    def as_dict(self):
        """The JSON shape: {"kind", "jobId", "jobNumber", "message"}."""
        return {"kind": self.kind, "jobId": self.job_id, "jobNumber": self.job_number, "message": self.message}


@dataclass
class DayView:
    """What the checks read: the viewer's live jobs of one company's day and their conflicts."""
    company_id: int
    day: date
    user: object
    jobs: list           # BoardJobs of the day the user may see, live or not
    conflicts: dict      # {job id: [conflicts.Clash]} of those jobs


def _number(job):
    return job.job_number or f"#{job.id}"


def _live(view):
    return [job for job in view.jobs if conflicts.is_live(job)]


def unassigned(view):
    """unassigned-truck and unassigned-crew: live jobs without a truck, or without a crew."""
    found = []
    for job in _live(view):
        if job.truck_id is None:
            found.append(Blocker("unassigned-truck", job.id, job.job_number, f"{_number(job)} has no truck."))
        if not job.effective_crew:
            found.append(Blocker("unassigned-crew", job.id, job.job_number, f"{_number(job)} has no crew."))
    return found


_CLASH_KINDS = {"truck": "conflict", "crew": "conflict", conflicts.TIMEOFF: "timeoff",
                conflicts.TRUCK_UNAVAILABLE: "truck-unavailable", conflicts.UNDERSTAFFED: "understaffed",
                conflicts.NO_DRIVER: "no-driver"}


def from_conflicts(view):
    """conflict (double bookings), timeoff, truck-unavailable, understaffed and no-driver, in words."""
    visible = visible_location_ids(view.user)
    found = []
    for job in _live(view):
        said = set()
        for clash in view.conflicts.get(job.id, ()):
            kind = _CLASH_KINDS.get(clash.kind)
            if kind is None:
                continue
            seen = visible is None or clash.other_location_id in visible
            message = f"{_number(job)}: {conflicts.describe(clash, seen)}"
            if (kind, message) not in said:
                said.add((kind, message))
                found.append(Blocker(kind, job.id, job.job_number, message))
    return found


def stale_sync(view):
    """stale-sync: the last successful SmartMoving sync is older than SYNC_STALE_MINUTES (or there is none)."""
    run = history.last_finished_run(view.company_id, successful_only=True)
    if not history.is_stale(run.finished_at if run else None):
        return []
    return [Blocker("stale-sync", None, None, "SmartMoving data may be out of date: no successful sync recently.")]


CHECKS = [unassigned, from_conflicts, stale_sync]


def register(check, kinds=()):
    """Add a check (view -> [Blocker] or [dict]) and the kinds it reports (listed after ours)."""
    if check not in CHECKS:
        CHECKS.append(check)
    for kind in kinds:
        if kind not in KIND_ORDER:
            KIND_ORDER.append(kind)


def day_view(company_id, day, user):
    """The DayView of company's day as user sees it: the board's cut of the day when it serves user (cached
    per version of the day), else read (two queries for the jobs and conflicts, three for the roster)."""
    if day_snapshot.serves(user) and company_id == user.company_id:
        cut = day_snapshot.board_day(user, day)
        # Jobs moved to another day show on this board until acknowledged: they block the other day.
        return DayView(company_id, day, user, [job for job in cut.jobs if job.scheduled_date == day],
                       cut.conflicts)
    jobs = [job for job in board_jobs_for_day(user, day) if job.company_id == company_id]
    if visible_location_ids(user) is None:
        # The viewer sees the whole company's day: its clashes are found among these very rows.
        found = conflicts.conflicts_among(conflicts.rows_of_jobs(jobs, day))
    else:
        found = conflicts.day_conflicts(company_id, day)
    return DayView(company_id, day, user, jobs, found)


def _as_blocker(item):
    if isinstance(item, Blocker):
        return item
    return Blocker(item["kind"], item.get("jobId"), item.get("jobNumber"), item["message"])


def day_blockers(company_id, day, user, view=None):
    """Every blocker of company's day that user may see, as dicts, in KIND_ORDER then job order.

    view: the day_view of it when the caller read it already (the panel asks whether the day has jobs)."""
    view = view or day_view(company_id, day, user)
    order = {job.id: index for index, job in enumerate(view.jobs)}
    blockers = [_as_blocker(item) for check in CHECKS for item in check(view)]
    rank = {kind: index for index, kind in enumerate(KIND_ORDER)}
    blockers.sort(key=lambda b: (rank.get(b.kind, len(rank)), order.get(b.job_id, -1)))
    return [blocker.as_dict() for blocker in blockers]


def line_under(label, blocker):
    """The blocker's message as a line under its group's heading: "J-1: 1 of 5 people assigned." rather than
    "J-1: Understaffed: 1 of 5 people assigned." under "Understaffed" (the API's message keeps the full text)."""
    message = blocker["message"]
    number = blocker.get("jobNumber") or (f"#{blocker['jobId']}" if blocker.get("jobId") else "")
    lead = f"{number}: " if number and message.startswith(f"{number}: ") else ""
    rest = message[len(lead):]
    if rest.lower().startswith(f"{label.lower()}: "):
        rest = rest[len(label) + 2:]
        return lead + rest[:1].upper() + rest[1:] if not lead else lead + rest
    return message


def grouped(blockers):
    """[(kind, label, [blocker dict with "line"])] in the blockers' order (KIND_ORDER): the panel's sections."""
    groups = {}
    for blocker in blockers:
        groups.setdefault(blocker["kind"], []).append(blocker)
    sections = []
    for kind, items in groups.items():
        label = KIND_LABELS.get(kind, kind.replace("-", " ").capitalize())
        sections.append((kind, label, [{**item, "line": line_under(label, item)} for item in items]))
    return sections
