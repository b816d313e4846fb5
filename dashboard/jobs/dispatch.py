"""The dispatch edit service: truck, crew, dispatch status and notes on one job.

These are our own columns; a sync never writes them. Every saved change leaves an
AuditEvent. Double bookings are reported, not refused: a dispatcher may know that
the truck does a morning job and an afternoon one.
"""
import logging
from dataclasses import dataclass

import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import AuditEvent
from dashboard.models import CrewMember
from dashboard.models import DataSource
from dashboard.models import DispatchStatus
from dashboard.models import SyncStatus
from dashboard.models import Truck
from dashboard.models import TruckJourney
from dashboard.models import utcnow

log = logging.getLogger(__name__)

MAX_CREW = 20
MAX_NAME = 80


class DispatchError(ValueError):
    """Input the service refuses; the message is safe to show."""


@dataclass(frozen=True)
class Conflict:
    """One double booking: kind is 'truck' or 'crew', name what is doubly booked, other the other job."""
    kind: str
    name: str
    other: TruckJourney

    def describe(self, visible):
        """A sentence for the dispatcher; jobs they may not see stay anonymous."""
        if visible:
            who = self.other.job_number or f"#{self.other.id}"
            where = f" ({self.other.customer_name}" + (f", {self.other.arrival_window})" if self.other.arrival_window else ")")
            job = f"job {who}{where}"
        else:
            job = "a job in another location"
        what = "Truck" if self.kind == "truck" else "Crew member"
        return f"{what} {self.name} is also booked on {job} that day."


def unique_names(names):
    """Strip, drop blanks and duplicates (case-insensitive), keep order."""
    seen, crew = set(), []
    for raw in names or ():
        name = " ".join(str(raw).split())
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            crew.append(name)
    return crew


def normalise_crew(names):
    """unique_names, refusing absurd input (over-long names, crews over MAX_CREW)."""
    crew = unique_names(names)
    if any(len(name) > MAX_NAME for name in crew):
        raise DispatchError(f"A crew name is longer than {MAX_NAME} characters.")
    if len(crew) > MAX_CREW:
        raise DispatchError(f"At most {MAX_CREW} people per crew.")
    return crew


def dispatch_version(job):
    """A token that changes whenever the job's dispatch fields are saved."""
    return job.dispatch_updated_at.isoformat() if job.dispatch_updated_at else "0"


def concurrent_edit_message(job):
    """What to tell someone whose form is older than the last save."""
    from dashboard.models import User
    who = db.session.get(User, job.dispatch_updated_by) if job.dispatch_updated_by else None
    name = (who.full_name or who.email) if who else "Someone"
    return (f"{name} saved changes to this job while you were editing. The page now shows your edits; "
            "compare them with the job and save again to replace theirs.")


def split_free_text(text):
    """'Ann, Bob; Cy' -> ['Ann', 'Bob', 'Cy']."""
    return [part for part in (text or "").replace(";", ",").replace("\n", ",").split(",") if part.strip()]


def truck_options(company_id, include_id=None):
    """Active trucks of a company (plus include_id, e.g. the job's current truck even when retired)."""
    stmt = sa.select(Truck).where(Truck.company_id == company_id)
    if include_id:
        stmt = stmt.where(sa.or_(Truck.is_active.is_(True), Truck.id == include_id))
    else:
        stmt = stmt.where(Truck.is_active.is_(True))
    return list(db.session.scalars(stmt.order_by(Truck.name)))


def crew_options(company_id, extra=()):
    """Crew member names of a company, plus extra names (e.g. the job's current crew), sorted."""
    names = db.session.scalars(
        sa.select(CrewMember.name).where(CrewMember.company_id == company_id)
        .where(sa.or_(CrewMember.status.is_(None), sa.func.upper(CrewMember.status) != "INACTIVE"))
    ).all()
    return sorted(unique_names(list(names) + list(extra)), key=str.casefold)


def find_conflicts(job, truck_id, crew):
    """Other live jobs of the same company and day that share the truck or a crew member."""
    others = db.session.scalars(
        sa.select(TruckJourney).where(
            TruckJourney.company_id == job.company_id,
            TruckJourney.scheduled_date == job.scheduled_date,
            TruckJourney.id != job.id,
            TruckJourney.sync_status != SyncStatus.REMOVED.value,
        ).order_by(TruckJourney.arrival_start_hour, TruckJourney.id)
    ).all()
    wanted = {name.casefold(): name for name in (crew or ())}
    truck = db.session.get(Truck, truck_id) if truck_id else None
    conflicts = []
    for other in others:
        if truck is not None and other.truck_id == truck.id:
            conflicts.append(Conflict("truck", truck.name, other))
        for member in other.effective_crew:
            key = str(member).strip().casefold()
            if key in wanted:
                conflicts.append(Conflict("crew", wanted[key], other))
    return conflicts


def update_dispatch(job, actor, truck_id, crew, dispatch_status, notes):
    """Apply a dispatch edit to job; returns {field: [old, new]} of what changed (flushes, no commit)."""
    if dispatch_status not in {s.value for s in DispatchStatus}:
        raise DispatchError("Unknown dispatch status.")
    if truck_id:
        truck = db.session.get(Truck, truck_id)
        if truck is None or truck.company_id != job.company_id:
            raise DispatchError("That truck does not belong to this company.")
        if not truck.is_active and truck.id != job.truck_id:
            raise DispatchError(f"Truck {truck.name} is out of service.")
    crew = normalise_crew(crew) or None
    notes = (notes or "").strip() or None
    old_truck = job.truck.name if job.truck else None
    new_truck = db.session.get(Truck, truck_id).name if truck_id else None
    changes = {}
    if (job.truck_id or None) != (truck_id or None):
        changes["truck"] = [old_truck, new_truck]
        job.truck_id = truck_id or None
    if (job.crew or None) != crew:
        changes["crew"] = [job.crew, crew]
        job.crew = crew
    if job.dispatch_status != dispatch_status:
        changes["dispatch_status"] = [job.dispatch_status, dispatch_status]
        job.dispatch_status = dispatch_status
    if (job.notes or None) != notes:
        changes["notes"] = [job.notes, notes]
        job.notes = notes
    if changes:
        job.dispatch_updated_at = utcnow()
        job.dispatch_updated_by = actor.id
        db.session.add(AuditEvent(company_id=job.company_id, user_id=actor.id, action="job.dispatch",
                                  target=f"job:{job.id}", detail=changes))
        db.session.flush()
        log.info("job %s dispatch edited by %s: %s", job.id, actor.email, ", ".join(sorted(changes)))
    return changes


def create_manual_job(actor, location, scheduled_date, customer_name, notes=None, **details):
    """Add a MANUAL job at location (flushes, no commit). No sync ever writes or removes it.

    details: customer_phone, customer_email, origin_address, destination_address, arrival_window.
    """
    allowed = {"customer_phone", "customer_email", "origin_address", "destination_address", "arrival_window"}
    unknown = set(details) - allowed
    if unknown:
        raise DispatchError(f"Unknown job fields: {', '.join(sorted(unknown))}")
    job = TruckJourney(
        company_id=location.company_id, location_id=location.id, scheduled_date=scheduled_date,
        customer_name=customer_name.strip(), notes=(notes or "").strip() or None,
        data_source=DataSource.MANUAL.value, status="BOOKED", dispatch_status=DispatchStatus.UNASSIGNED.value,
        dispatch_updated_at=utcnow(), dispatch_updated_by=actor.id,
        **{name: (value or "").strip() or None for name, value in details.items()},
    )
    db.session.add(job)
    db.session.flush()
    db.session.add(AuditEvent(company_id=job.company_id, user_id=actor.id, action="job.create",
                              target=f"job:{job.id}", detail={"customer": job.customer_name,
                                                              "date": scheduled_date.isoformat()}))
    log.info("manual job %s created by %s", job.id, actor.email)
    return job


def job_history(job, limit=20):
    """The job's dispatch audit trail, newest first."""
    return list(db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.target == f"job:{job.id}", AuditEvent.company_id == job.company_id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    ))
