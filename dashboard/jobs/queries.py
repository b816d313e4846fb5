"""Reading jobs for boards and the API, always through the permission scope."""
from datetime import date

import sqlalchemy as sa
import sqlalchemy.orm as so

from dashboard.db import db
from dashboard.models import Location
from dashboard.models import SyncStatus
from dashboard.models import TruckJourney
from dashboard.permissions import Perm
from dashboard.permissions import can
from dashboard.permissions import is_assigned_to
from dashboard.permissions import scope_query


def jobs_for_day(user, day: date, location_id=None, status=None, search=None, include_removed=False):
    """Jobs on day that user may see, ordered by arrival then job number.

    Board roles see their scope; drivers and movers see only jobs whose crew names them.
    """
    stmt = (
        sa.select(TruckJourney)
        .options(so.selectinload(TruckJourney.location), so.selectinload(TruckJourney.truck))
        .where(TruckJourney.scheduled_date == day)
        .order_by(TruckJourney.arrival_start_hour.is_(None), TruckJourney.arrival_start_hour,
                  TruckJourney.job_number, TruckJourney.id)
    )
    if not include_removed:
        stmt = stmt.where(TruckJourney.sync_status != SyncStatus.REMOVED.value)
    if location_id is not None:
        stmt = stmt.where(TruckJourney.location_id == location_id)
    if status:
        stmt = stmt.where(sa.or_(TruckJourney.status == status, TruckJourney.dispatch_status == status))
    if search:
        pattern = f"%{search.strip().lower()}%"
        stmt = stmt.where(sa.or_(
            sa.func.lower(TruckJourney.customer_name).like(pattern),
            sa.func.lower(TruckJourney.job_number).like(pattern),
            sa.func.lower(TruckJourney.quote_number).like(pattern),
        ))
    if can(user, Perm.VIEW_JOBS):
        stmt = scope_query(stmt, user, TruckJourney.company_id, TruckJourney.location_id)
        return list(db.session.scalars(stmt))
    if can(user, Perm.VIEW_OWN_JOBS):
        # Crew lists are JSON, so the name match happens here rather than in SQL;
        # one company's day is at most a few hundred rows.
        stmt = stmt.where(TruckJourney.company_id == user.company_id)
        return [job for job in db.session.scalars(stmt) if is_assigned_to(user, job)]
    return []


def locations_for(user):
    """Locations user may see, by name."""
    stmt = sa.select(Location).order_by(Location.name)
    if can(user, Perm.VIEW_JOBS):
        stmt = scope_query(stmt, user, Location.company_id, Location.id)
        return list(db.session.scalars(stmt))
    return []


def get_job_for(user, job_id):
    """The job with this id if user may see it, else None (never reveals other tenants' ids)."""
    from dashboard.permissions import can_see_journey
    job = db.session.get(TruckJourney, job_id)
    if job is None or not can_see_journey(user, job):
        return None
    return job
