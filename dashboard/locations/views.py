"""Pages of the locations area: the branches one may see, with their sync state and job counts."""
from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint
from flask import render_template
from flask_login import current_user

from dashboard import web
from dashboard.db import db
from dashboard.jobs.queries import locations_for
from dashboard.models import SyncStatus
from dashboard.models import TruckJourney
from dashboard.permissions import Perm
from dashboard.permissions import require
from dashboard.permissions import scope_query

bp = Blueprint("locations", __name__)


def job_counts(user, days):
    """{(location_id, day): count} of live jobs on days, within user's scope (one query)."""
    stmt = (
        sa.select(TruckJourney.location_id, TruckJourney.scheduled_date, sa.func.count(TruckJourney.id))
        .where(TruckJourney.scheduled_date.in_(days), TruckJourney.sync_status != SyncStatus.REMOVED.value)
        .group_by(TruckJourney.location_id, TruckJourney.scheduled_date)
    )
    stmt = scope_query(stmt, user, TruckJourney.company_id, TruckJourney.location_id)
    return {(loc, day): count for loc, day, count in db.session.execute(stmt)}


@bp.get("/")
@require(Perm.VIEW_JOBS)
def index():
    """Branches in scope with data source, last sync, and today's and tomorrow's job counts."""
    today = web.user_today()
    tomorrow = today + timedelta(days=1)
    locations = locations_for(current_user)
    counts = job_counts(current_user, [today, tomorrow])
    rows = [(loc, counts.get((loc.id, today), 0), counts.get((loc.id, tomorrow), 0)) for loc in locations]
    return render_template("locations/index.html", rows=rows, today=today, tomorrow=tomorrow)
