"""What changed between a stored job and SmartMoving's new record, in words a dispatcher reads.

Pure functions (no database): the sync and webhook paths hand in the stored row and
the record they are about to write; removals hand in the row alone.
"""
from dashboard.formatting import label
from dashboard.formatting import money
from dashboard.models import DispatchStatus

# kind -> the SmartMoving-owned columns it watches (address watches two: one change each).
WATCHED = (
    ("date", "scheduled_date"),
    ("window", "arrival_window"),
    ("address", "origin_address"),
    ("address", "destination_address"),
    ("status", "status"),
    ("crew", "smartmoving_crew"),
    ("value", "estimated_value_cents"),
)
WATCHED_COLUMNS = tuple(column for _, column in WATCHED)
# Our dispatch columns: whether the job was planned when the change arrived.
DISPATCH_COLUMNS = ("truck_id", "crew", "notes", "dispatch_status")
# What a change line names besides the change itself.
IDENTITY_COLUMNS = ("company_id", "scheduled_date")
ADDRESS_LABELS = {"origin_address": "From", "destination_address": "To"}
MAX_TEXT = 300


def day_text(day):
    """A date as "Tue 8 Dec" (empty for none)."""
    return f"{day:%a} {day.day} {day:%b}" if day else ""


def crew_text(names):
    """SmartMoving's crew as "Ann, Bo" ("no crew" when empty)."""
    return ", ".join(str(name) for name in names or []) or "no crew"


def _text(column, value):
    """One watched column's value as a dispatcher reads it."""
    if column == "scheduled_date":
        return day_text(value)
    if column == "estimated_value_cents":
        return money(value) or "no value"
    if column == "smartmoving_crew":
        return crew_text(value)
    if column == "status":
        return label(value) or "none"
    if column in ADDRESS_LABELS:
        return f"{ADDRESS_LABELS[column]}: {value or 'none'}"
    return str(value) if value not in (None, "") else "none"


def _same(column, old, new):
    """Equal as far as a dispatcher is concerned (no crew and an empty crew are the same; blank is none)."""
    if column == "smartmoving_crew":
        return list(old or []) == list(new or [])
    if isinstance(old, str) or isinstance(new, str):
        return (old or "").strip() == (new or "").strip()
    return old == new


def field_changes(stored, record):
    """[(kind, before, after)] for the watched columns record carries and stored holds differently."""
    found = []
    for kind, column in WATCHED:
        if column in record and not _same(column, stored[column], record[column]):
            found.append((kind, _text(column, stored[column])[:MAX_TEXT], _text(column, record[column])[:MAX_TEXT]))
    return found


def is_dispatched(row):
    """True when we had planned the job: a truck, a crew, notes, or a dispatch status beyond Unassigned."""
    return bool(row["truck_id"] or row["crew"] or (row["notes"] or "").strip()
                or (row["dispatch_status"] or DispatchStatus.UNASSIGNED.value) != DispatchStatus.UNASSIGNED.value)


def removal_texts(kind, day):
    """(before, after) of a removal or a revival of a job of day."""
    where = f" ({day_text(day)})" if day else ""
    if kind == "removed":
        return f"In SmartMoving{where}", f"Removed in SmartMoving{where}"
    return f"Removed in SmartMoving{where}", f"Back in SmartMoving{where}"


# A change's stored source (ChangeSource.label) in words: "{time}" is when the change was seen.
_SOURCE_WORDS = {
    "sync run": "Sync at {time}",
    "webhook deletion": "SmartMoving webhook (deleted), {time}",
    "webhook": "SmartMoving webhook, {time}",
    "removal": "Removal confirmed, {time}",
    "revival": "Back in the sync, {time}",
    "sweep": "Sync at {time}",
    "detail": "Sync at {time}",
}


def source_text(source, time):
    """ "Sync at 06:10" / "SmartMoving webhook, 06:12" for a stored source ("sync run 812", "webhook 3");
    the run or webhook id stays in the stored source (the API's) for a title."""
    words = (source or "").strip()
    kind = words.rstrip("0123456789").strip()
    pattern = _SOURCE_WORDS.get(kind)
    if pattern is None:
        return f"{words[:1].upper()}{words[1:]}, {time}" if words else time
    return pattern.format(time=time)


def source_id(source):
    """The run or webhook id a stored source names ("812" of "sync run 812"), else ""."""
    last = (source or "").rsplit(" ", 1)[-1]
    return last if last.isdigit() else ""
