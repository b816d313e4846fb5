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


def deliver_webhook(app, company_id, payload):
    """Store a webhook event as the receiver would, then process it under the lease as the worker does."""
    with app.app_context():
        event, _ = events.record(company_id, payload, 1)
        event_id = event.id
        db.session.commit()
        outcome = drains.process_pending(company_id)
    return event_id, outcome


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
