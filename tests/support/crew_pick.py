"""The crew pickers' posted values in tests: a roster person's box carries "member:<id>" (dashboard.jobs.crew_pick)."""
import sqlalchemy as sa

from dashboard.db import db
from dashboard.jobs.crew_pick import value_of
from dashboard.models import CrewMember


def picker_value(app, company, name):
    """The picker value of the one crew member of company called name."""
    with app.app_context():
        member_id = db.session.scalar(sa.select(CrewMember.id).where(CrewMember.company_id == company.id,
                                                                     CrewMember.name == name))
    assert member_id is not None, f"{name} is not on the roster"
    return value_of(name, member_id)
