"""The sync's crew side (issue 17 §1): branch -> location, a default role only where ours is empty,
our fields never written, and jobs' SmartMoving crew resolved to our CrewMember ids."""
import pytest
import sqlalchemy as sa

from dashboard.auth.users import create_user
from dashboard.db import db
from dashboard.demo import DEMO_PASSWORD
from dashboard.demo import demo_email
from dashboard.demo import seed_demo_crew
from dashboard.jobs.queries import jobs_for_day
from dashboard.models import Company
from dashboard.models import CrewMember
from dashboard.models import TruckJourney
from dashboard.models import User
from dashboard.models import utcnow
from dashboard.smartmoving import normalize
from dashboard.sync.upsert import upsert_crew
from dashboard.timeutil import company_today
from tests.support.syncing import sync


def test_default_crew_role_from_smartmovings_role_name():
    assert normalize.default_crew_role("Driver") == "driver"
    assert normalize.default_crew_role("Crew Lead") == "foreman"
    assert normalize.default_crew_role("FOREMAN") == "foreman"
    assert normalize.default_crew_role("Packer") == "mover"
    assert normalize.default_crew_role(None) is None and normalize.default_crew_role("  ") is None


def test_job_crew_keeps_ids_so_same_names_stay_two_people():
    by_id = {"u1": "Sam Lee", "u2": "Sam Lee", "u3": "Kim"}
    job = {"crewMembers": ["u1", "u2", {"id": "u3"}, "Walk-in", "u1", {"name": "Kim", "id": "u3"}]}
    crew = normalize.job_crew(job, by_id)
    assert crew == [("Sam Lee", "u1"), ("Sam Lee", "u2"), ("Kim", "u3"), ("Walk-in", None)]
    ids = normalize.CrewIds(by_external_id={"u1": 11, "u2": 12, "u3": 13}, by_unique_name={"walk-in": 14})
    assert normalize.crew_member_ids(crew, ids) == [11, 12, 13, 14]
    # A name shared by two people (left out of by_unique_name) is never guessed.
    assert normalize.crew_member_ids([("Sam Lee", None)], normalize.CrewIds({}, {})) == [None]


def test_sync_places_crew_defaults_roles_and_resolves_job_crew_ids(sync_app, sandbox):
    assert sync(sync_app).status == "SUCCESS"
    with sync_app.app_context():
        members = list(db.session.scalars(sa.select(CrewMember)))
        assert members and all(m.location_id is not None for m in members)
        assert {m.role for m in members} <= {"driver", "foreman", "mover"}
        assert any(m.role == "driver" for m in members) and any(m.role == "foreman" for m in members)
        assert all(m.phone is None and m.email is None for m in members)   # SmartMoving's contacts are not ours
        by_external = {m.external_id: m.id for m in members}
        jobs = [job for job in db.session.scalars(sa.select(TruckJourney)) if job.smartmoving_crew]
        assert jobs
        for job in jobs:
            raw = job.external_data["detailJob"]["crewMembers"]
            assert job.smartmoving_crew_ids == [by_external[external_id] for external_id in dict.fromkeys(raw)]
        # Our fields are ours: a later reference refresh leaves them alone.
        first = members[0]
        first.role, first.phone, first.email, first.notes = "mover", "+1 555 0100", "a@example.test", "ours"
        company_id = first.company_id
        db.session.execute(sa.text("UPDATE companies SET reference_synced_at = NULL WHERE id = :id"),
                           {"id": company_id})
        db.session.commit()
        first_id = first.id
    assert sync(sync_app).status == "SUCCESS"
    with sync_app.app_context():
        again = db.session.get(CrewMember, first_id)
        assert (again.role, again.phone, again.email, again.notes) == ("mover", "+1 555 0100", "a@example.test",
                                                                        "ours")


def test_upsert_crew_refuses_our_fields(app):
    with app.app_context(), pytest.raises(ValueError, match="phone"):
        upsert_crew(1, [{"external_id": "x", "name": "X", "phone": "1"}], utcnow())


def test_demo_crew_gets_roles_contacts_and_linked_demo_users_with_jobs(sync_app, sandbox):
    assert sync(sync_app).status == "SUCCESS"
    with sync_app.app_context():
        company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
        for role in ("DRIVER", "MOVER"):
            create_user(demo_email(role), DEMO_PASSWORD, role, company)
        db.session.commit()
        with db.write_transaction() as session:
            lines = list(seed_demo_crew(session, session.get(Company, company.id)))
        assert lines and "driver@demo.test" in lines[0]
        members = list(db.session.scalars(sa.select(CrewMember)))
        assert all(m.role and m.phone and m.email.endswith("@example.test") for m in members if m.is_active)
        today = company_today(company.timezone)
        for role, wanted in (("DRIVER", {"driver"}), ("MOVER", {"mover", "foreman"})):
            user = db.session.scalar(sa.select(User).where(User.email == demo_email(role)))
            assert user.crew_member.role in wanted
            assert jobs_for_day(user, today), role
        with db.write_transaction() as session:
            assert list(seed_demo_crew(session, session.get(Company, company.id))) == []   # once
