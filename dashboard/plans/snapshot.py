"""What a person was told about a job, its fingerprint, and what changed between two tellings.

A snapshot holds only what the crew sees (no money, no customer contacts):
{"jobNumber", "window", "start", "origin", "destination", "crew": [{"name", "role"}], "truck", "notes"}.
"""
import hashlib
import json

from dashboard.models import truck_label

# A changed note is quoted in the change list up to this many characters.
_NOTE_QUOTE = 80


def crew_with_ids(job):
    """[(name, crew_member_id or None)] of the job's effective crew, in its order."""
    names = job.effective_crew
    ids = list((job.crew_member_ids or []) if job.crew else (job.smartmoving_crew_ids or []))
    if len(ids) != len(names):
        # Only an aligned list says whose id is whose; otherwise the names go without ids.
        ids = [None] * len(names)
    return list(zip(names, ids, strict=True))


def job_snapshot(job, roles_by_id):
    """The job as its crew is told it; roles_by_id maps CrewMember id -> role (driver/foreman/mover)."""
    return {
        "jobNumber": job.job_number or job.quote_number or f"#{job.id}",
        "window": job.arrival_window or "",
        "start": job.span_start.isoformat(timespec="minutes") if job.span_start else None,
        "origin": job.origin_address or "",
        "destination": job.destination_address or "",
        "crew": [{"name": name, "role": roles_by_id.get(member_id) if member_id is not None else None}
                 for name, member_id in crew_with_ids(job)],
        "truck": truck_label(job.truck.name) if job.truck is not None else None,
        "notes": (job.notes or "").strip(),
    }


def fingerprint(snapshot):
    """A stable hash of snapshot: equal fingerprints mean the person was told the same thing."""
    canonical = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _crew_label(member):
    return f"{member['name']} ({member['role']})" if member.get("role") else member["name"]


def _crew_changes(old, new):
    old_labels = [_crew_label(member) for member in old]
    new_labels = [_crew_label(member) for member in new]
    added = [label for label in new_labels if label not in old_labels]
    removed = [label for label in old_labels if label not in new_labels]
    parts = []
    if added:
        parts.append("added " + ", ".join(added))
    if removed:
        parts.append("removed " + ", ".join(removed))
    return ["Crew: " + "; ".join(parts)] if parts else []


def _quote(text):
    text = " ".join(text.split())
    return text if len(text) <= _NOTE_QUOTE else text[:_NOTE_QUOTE - 1] + "…"


def describe_changes(old_snapshot, new_snapshot):
    """Human lines saying what changed from old to new, e.g. "Truck 12 → Truck 7"; [] when nothing did.

    A None old snapshot is a job newly given to the person; a None new one, a job taken away.
    """
    if old_snapshot is None and new_snapshot is None:
        return []
    if old_snapshot is None:
        return [f"New job {new_snapshot['jobNumber']}"]
    if new_snapshot is None:
        return [f"No longer on job {old_snapshot['jobNumber']}"]
    old, new = old_snapshot, new_snapshot
    lines = []
    if old.get("window") != new.get("window"):
        lines.append(f"Arrival {old.get('window') or 'not set'} → {new.get('window') or 'not set'}")
    elif old.get("start") != new.get("start"):
        lines.append("Start time changed")
    for key, label in (("origin", "From"), ("destination", "To")):
        if old.get(key) != new.get(key):
            lines.append(f"{label}: {new.get(key) or 'not set'}")
    lines.extend(_crew_changes(old.get("crew") or [], new.get("crew") or []))
    if old.get("truck") != new.get("truck"):
        lines.append(f"{old.get('truck') or 'No truck'} → {new.get('truck') or 'No truck'}")
    if old.get("notes") != new.get("notes"):
        lines.append(f"Notes changed: {_quote(new['notes'])}" if new.get("notes") else "Notes removed")
    return lines
