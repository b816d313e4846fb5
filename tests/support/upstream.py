"""Helpers of the upstream-change tests: dispatch a job, edit the sandbox as SmartMoving's users would, read changes."""
import sqlalchemy as sa

from dashboard.changes.models import UpstreamChange
from dashboard.db import db
from dashboard.models import TruckJourney
from dashboard.webhooks import drains
from dashboard.webhooks import events


def detail_reads_every_run(app):
    """Every sync re-reads every opportunity's detail (no TTL, no quota): detail-only edits are seen at once."""
    app.config.update(OPPORTUNITY_REFRESH_MINUTES=0, SMARTMOVING_MONTHLY_QUOTA=0)


def dispatch(app, external_id, notes="Planned: bring the dolly"):
    """Give a stored job local dispatch data (notes and ASSIGNED): it counts as dispatched."""
    with app.app_context():
        db.session.execute(sa.update(TruckJourney).where(TruckJourney.external_id == external_id)
                           .values(notes=notes, dispatch_status="ASSIGNED"))
        db.session.commit()


def job_row(app, external_id):
    """The stored job (detached, read in a transaction of its own)."""
    with app.app_context():
        job = db.session.scalar(sa.select(TruckJourney).where(TruckJourney.external_id == external_id))
        db.session.expunge(job)
        db.session.commit()
        return job


def changes(app, **where):
    """Every stored upstream change (matching where, column=value), oldest first, detached."""
    with app.app_context():
        stmt = sa.select(UpstreamChange).filter_by(**where).order_by(UpstreamChange.id)
        rows = list(db.session.scalars(stmt))
        for row in rows:
            db.session.expunge(row)
        db.session.commit()
        return rows


def set_window(world, job_id, index):
    """Move a sandbox job's arrival window (detail only)."""
    with world._lock:
        world.jobs[job_id].window = index
        world._touch()


def set_origin(world, job_id, address):
    """Change a sandbox job's first address (detail only)."""
    with world._lock:
        job = world.jobs[job_id]
        job.addresses = (address, *tuple(job.addresses)[1:])
        world._touch()


def deliver_webhooks(app, company_id, payloads):
    """Store webhook events as the receiver would, then process them under the lease as the worker does; their ids."""
    ids = []
    with app.app_context():
        for payload in payloads:
            event, _ = events.record(company_id, payload, 1)
            ids.append(event.id)
            db.session.commit()
        assert drains.process_pending(company_id) in ("done", "sweep")
    return ids


def mark_removed(app, external_id):
    """Mark a stored job REMOVED, as an earlier sync would have (SmartMoving still lists it)."""
    with app.app_context():
        db.session.execute(sa.update(TruckJourney).where(TruckJourney.external_id == external_id)
                           .values(sync_status="REMOVED", removed_at=sa.func.now()))
        db.session.commit()


def edit_every_kind(rig, jobs):
    """Make SmartMoving change each of jobs ({kind: (job id, opportunity id)}) the way its kind says."""
    world = rig.world
    for kind, (job_id, opportunity_id) in jobs.items():
        if kind in ("window", "quiet"):
            set_window(world, job_id, (world.jobs[job_id].window + 2) % 6)
        elif kind == "address":
            set_origin(world, job_id, "77 Changed Street, Toronto, ON")
        elif kind == "status":
            world.set_opportunity_status(opportunity_id, 20)
        elif kind == "crew":
            world.change_detail_only(opportunity_id)   # crew and money
        elif kind == "date":
            day = world.jobs[job_id].service_date
            world.move_job(job_id, rig.end if day == rig.start else rig.start)
        elif kind == "removed":
            world.delete_opportunity(opportunity_id)
        elif kind == "revived":
            mark_removed(rig.app, job_id)


def record_change(app, job_id, old, new, source="sync run 1", dispatched=True):
    """Record one change of a stored job directly (dispatching it first unless told not to); returns its ids."""
    from dashboard.changes.service import record_job_changes
    with app.app_context():
        job = db.session.get(TruckJourney, job_id)
        if dispatched:
            job.notes = "Planned"
            db.session.flush()
        record_job_changes(job, old, new, source)
        db.session.commit()
        ids = list(db.session.scalars(sa.select(UpstreamChange.id).where(UpstreamChange.journey_id == job_id)
                                      .order_by(UpstreamChange.id)))
        db.session.commit()
        return ids
