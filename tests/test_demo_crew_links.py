"""The demo's crew (QA walkthrough): mover@demo.test is today's busiest *mover* (not a foreman), and the crew's
phones are full fictional numbers in their branch's area code, so tap-to-call dials a whole number."""
import re

import sqlalchemy as sa

from dashboard.auth.users import create_user
from dashboard.db import db
from dashboard.demo import DEMO_PASSWORD
from dashboard.demo import _busiest_today
from dashboard.demo import demo_email
from dashboard.demo import seed_demo_crew
from dashboard.models import Company
from dashboard.models import CrewMember
from dashboard.models import Location
from dashboard.models import User
from tests.support.syncing import sync

FULL_NUMBER = re.compile(r"^\+1 (\d{3}) 555 01\d\d$")


def _seed(sync_app, before=None):
    assert sync(sync_app).status == "SUCCESS"
    with sync_app.app_context():
        company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
        for role in ("DRIVER", "MOVER"):
            create_user(demo_email(role), DEMO_PASSWORD, role, company)
        if before:
            before(company)
        db.session.commit()
        with db.write_transaction() as session:
            list(seed_demo_crew(session, session.get(Company, company.id)))
        return company.id


def _busiest_is_a_foreman(company):
    """Today's busiest person is a foreman and the next busiest a mover (the walkthrough's demo)."""
    members = [m for m in db.session.scalars(sa.select(CrewMember).where(CrewMember.company_id == company.id))
               if m.is_active]
    busiest = _busiest_today(db.session, company, members)
    busiest[0].role = "foreman"
    busiest[1].role = "mover"


def test_the_demo_mover_is_linked_to_the_busiest_mover(sync_app, sandbox):
    company_id = _seed(sync_app, before=_busiest_is_a_foreman)
    with sync_app.app_context():
        company = db.session.get(Company, company_id)
        mover = db.session.scalar(sa.select(User).where(User.email == demo_email("MOVER")))
        assert mover.crew_member.role == "mover"
        members = [m for m in db.session.scalars(sa.select(CrewMember).where(CrewMember.company_id == company_id))
                   if m.is_active]
        busiest_movers = [m for m in _busiest_today(db.session, company, members) if m.role == "mover"]
        assert mover.crew_member_id == busiest_movers[0].id
        assert mover.full_name == busiest_movers[0].name


def test_demo_crew_phones_are_full_numbers_in_their_branchs_area_code(sync_app, sandbox):
    def old_demo_phone(company):   # a crew member seeded by an earlier demo keeps no too-short number
        member = db.session.scalar(sa.select(CrewMember).where(CrewMember.company_id == company.id)
                                   .order_by(CrewMember.id))
        member.phone = "+1 555 0146"
    company_id = _seed(sync_app, before=old_demo_phone)
    with sync_app.app_context():
        areas = {loc.id: re.sub(r"\D", "", loc.phone or "")[-10:][:3]
                 for loc in db.session.scalars(sa.select(Location).where(Location.company_id == company_id))}
        members = [m for m in db.session.scalars(sa.select(CrewMember).where(CrewMember.company_id == company_id))
                   if m.is_active]
        assert members
        for member in members:
            match = FULL_NUMBER.match(member.phone)
            assert match, member.phone
            assert len(re.sub(r"\D", "", member.phone)) == 11
            if areas.get(member.location_id):
                assert match.group(1) == areas[member.location_id]
