"""A day's readiness in one sentence, for pages that sit before an action (the Send plan panel):
"8 blockers remain — 5 jobs without a truck, 2 double booked, 1 understaffed…"."""
from dashboard.jobs.queries import day_is_synced
from dashboard.readiness import blockers

# How a kind reads after "N jobs" (kinds not named read as their label).
PHRASES = {
    "declined": "with someone who can't make it", "changed": "changed since confirmed",
    "upstream-change": "changed in SmartMoving", "conflict": "double booked", "timeoff": "with crew off",
    "truck-unavailable": "with a truck out of service", "no-driver": "without a driver",
    "understaffed": "understaffed", "unassigned-truck": "without a truck", "unassigned-crew": "without a crew",
    "unconfirmed": "not confirmed",
}
SHOWN_KINDS = 3   # the most urgent kinds named; the panel lists the rest


def _part(kind, label, items):
    if kind == "stale-sync":
        return "SmartMoving data may be out of date"
    jobs = len({item["jobId"] for item in items})
    return f"{jobs} job{'' if jobs == 1 else 's'} {PHRASES.get(kind, label.lower())}"


def sentence(found):
    """ "8 blockers remain — 5 jobs without a truck, 2 double booked…" of day_blockers' list ("" when ready)."""
    if not found:
        return ""
    rank = {kind: index for index, kind in enumerate(blockers.KIND_ORDER)}
    groups = sorted(blockers.grouped(found), key=lambda group: rank.get(group[0], len(rank)))   # most urgent first
    parts = ", ".join(_part(kind, label, items) for kind, label, items in groups[:SHOWN_KINDS])
    more = "…" if len(groups) > SHOWN_KINDS else ""
    count = len(found)
    return f"{count} blocker{'' if count == 1 else 's'} remain{'s' if count == 1 else ''} — {parts}{more}"


def not_synced(view):
    """True when the panel cannot call the day ready: it has no jobs (so no job blocks it) and no successful
    sync run's window covered it (SmartMoving's jobs for it were never fetched; the board's banner says it may
    be incomplete). view: blockers.day_view of the day."""
    return not view.jobs and not day_is_synced(view.company_id, view.day)
