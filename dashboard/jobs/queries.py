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
from dashboard.permissions import Scope
from dashboard.permissions import scope_of
from dashboard.permissions import scope_query


def jobs_for_day(user, day: date, location_id=None, status=None, search=None, include_removed=False):
    """Jobs on day that user may see, ordered by arrival then job number.

    Board roles see their scope; drivers and movers see only jobs whose crew names them.
    """
    stmt = (
        sa.select(TruckJourney)
        # The raw SmartMoving JSON is big and no board shows it: leave it in the database.
        .options(so.defer(TruckJourney.external_data),
                 so.selectinload(TruckJourney.location).defer(Location.external_data),
                 so.selectinload(TruckJourney.truck))
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


def board_version(user, day):
    """A cheap fingerprint of everything a board of day can show user, in one statement.

    It changes whenever a job of that day is created, synced, removed or edited, a
    location is re-synced, or a sync run succeeds; the polled board partial's ETag is
    made of it.
    """
    from dashboard.models import SyncRun

    jobs = sa.select(sa.func.count(TruckJourney.id), sa.func.max(TruckJourney.id),
                     sa.func.max(TruckJourney.last_sync_at), sa.func.max(TruckJourney.dispatch_updated_at)
                     ).where(TruckJourney.scheduled_date == day)
    newest_location = sa.select(sa.func.max(Location.last_sync_at))
    location_count = sa.select(sa.func.count(Location.id))
    last_success = sa.select(sa.func.max(SyncRun.finished_at)).where(SyncRun.company_id == user.company_id,
                                                                      SyncRun.status.in_(("SUCCESS", "PARTIAL")))
    if scope_of(user) is not Scope.ALL_COMPANIES:
        jobs = jobs.where(TruckJourney.company_id == user.company_id)
        newest_location = newest_location.where(Location.company_id == user.company_id)
        location_count = location_count.where(Location.company_id == user.company_id)
    stmt = jobs.add_columns(newest_location.scalar_subquery(), location_count.scalar_subquery(),
                            last_success.scalar_subquery())
    return tuple(db.session.execute(stmt).one())
