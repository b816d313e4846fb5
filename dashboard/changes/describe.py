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
# A job with one address (packing, junk removal, labour): that address is where the crew works, not a "From".
SINGLE_ADDRESS_LABEL = "Address"
# How a readiness line or a sentence names an address change, by the label its texts carry.
ADDRESS_WORDS = {"From": "origin address", "To": "destination address", SINGLE_ADDRESS_LABEL: "address"}
# How a sentence names each kind of change ("arrival window 8–10 AM → 1–3 PM").
KIND_WORDS = {"date": "date", "window": "arrival window", "status": "status", "crew": "SmartMoving crew",
              "value": "estimated value"}
MAX_TEXT = 300


def day_text(day):
    """A date as "Tue 8 Dec" (empty for none)."""
    return f"{day:%a} {day.day} {day:%b}" if day else ""


def crew_text(names):
    """SmartMoving's crew as "Ann, Bo" ("no crew" when empty)."""
    return ", ".join(str(name) for name in names or []) or "no crew"


def _text(column, value, single_address=False):
    """One watched column's value as a dispatcher reads it (a one-address job's address is "Address: …")."""
    if column == "scheduled_date":
        return day_text(value)
    if column == "estimated_value_cents":
        return money(value) or "no value"
    if column == "smartmoving_crew":
        return crew_text(value)
    if column == "status":
        return label(value) or "none"
    if column in ADDRESS_LABELS:
        name = SINGLE_ADDRESS_LABEL if single_address and column == "origin_address" else ADDRESS_LABELS[column]
        return f"{name}: {value or 'none'}"
    return str(value) if value not in (None, "") else "none"


def _same(column, old, new):
    """Equal as far as a dispatcher is concerned (no crew and an empty crew are the same; blank is none)."""
    if column == "smartmoving_crew":
        return list(old or []) == list(new or [])
    if isinstance(old, str) or isinstance(new, str):
        return (old or "").strip() == (new or "").strip()
    return old == new


def has_one_address(stored, record):
    """True when the job has one address before and after (SmartMoving's list held one: no destination).

    Its only address is where the crew works, so a change to it is an "Address" change, not a "From" one.
    """
    before = (stored.get("destination_address") or "").strip()
    after = (record.get("destination_address", stored.get("destination_address")) or "").strip()
    return not before and not after


def field_changes(stored, record):
    """[(kind, before, after)] for the watched columns record carries and stored holds differently."""
    single = has_one_address(stored, record)
    found = []
    for kind, column in WATCHED:
        if column in record and not _same(column, stored[column], record[column]):
            found.append((kind, _text(column, stored[column], single)[:MAX_TEXT],
                          _text(column, record[column], single)[:MAX_TEXT]))
    return found


def change_words(kind, before, after):
    """One change in a sentence: "arrival window 8–10 AM → 1–3 PM", "origin address 1 Old Rd → 9 New Ave",
    "removed in SmartMoving" (stored texts in; the caller puts the job number first)."""
    if kind == "removed":
        return "removed in SmartMoving"
    if kind == "revived":
        return "back in SmartMoving"
    if kind == "address":
        side, colon, old = before.partition(": ")
        new = after.partition(": ")[2] if colon else after
        if colon and side in ADDRESS_WORDS:
            return f"{ADDRESS_WORDS[side]} {old} → {new}"
        return f"address {before} → {after}"
    return f"{KIND_WORDS.get(kind, kind)} {before} → {after}"


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
