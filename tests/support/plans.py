"""The plan tests' world: two offices, people with and without contacts, trucks and jobs for one day."""
from datetime import date
from datetime import datetime

import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import Company
from dashboard.models import CrewMember
from dashboard.models import Location
from dashboard.models import Truck
from dashboard.models import TruckJourney
from dashboard.plans.models import OutboxMessage

DAY = date(2031, 3, 4)


def add_member(company_id, name, email=None, phone=None, role="mover", location_id=None):
    """A CrewMember of company_id (flushed)."""
    member = CrewMember(company_id=company_id, external_id=f"cm-{name.lower().replace(' ', '-')}", name=name,
                        status="active", email=email, phone=phone, role=role, location_id=location_id)
    db.session.add(member)
    db.session.flush()
    return member


def add_job(company_id, location_id, number, members, typed=(), truck=None, notes=None, window="8-10 AM",
            hour=8.0, origin="12 Main St, Toronto", destination="99 Queen St W, Toronto", day=DAY, **extra):
    """A job on day with our crew: members (CrewMember rows) by id, then names typed by hand (flushed)."""
    job = TruckJourney(company_id=company_id, location_id=location_id, external_id=f"job-{number}",
                       job_number=number, customer_name="Customer " + number, scheduled_date=day,
                       arrival_window=window, arrival_start_hour=hour, origin_address=origin,
                       destination_address=destination, crew=[m.name for m in members] + list(typed),
                       crew_member_ids=[m.id for m in members] + [None] * len(typed),
                       truck_id=truck.id if truck is not None else None, notes=notes,
                       span_start=datetime.combine(day, datetime.min.time()).replace(hour=int(hour)),
                       data_source="SMARTMOVING", **extra)
    db.session.add(job)
    db.session.flush()
    return job


def build_plan_world(app):
    """{"company", "north", "south", "members": {name: id}, "jobs": {number: id}, "trucks": {name: id}}.

    North: J-1 (Ana driver + Ben, truck 12, gate-code notes), J-2 (Cy, no contact, and "Temp Tom" typed).
    South: J-3 (Dee by phone only).
    """
    with app.app_context():
        company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
        north = Location(company_id=company.id, name="North", phone="416-555-0100")
        south = Location(company_id=company.id, name="South", phone="905-555-0199")
        db.session.add_all([north, south])
        db.session.flush()
        truck12 = Truck(company_id=company.id, location_id=north.id, name="12")
        truck7 = Truck(company_id=company.id, location_id=north.id, name="7")
        db.session.add_all([truck12, truck7])
        db.session.flush()
        ana = add_member(company.id, "Ana Driver", email="ana@example.test", role="driver")
        ben = add_member(company.id, "Ben Mover", email="ben@example.test", phone="+14165550001")
        cy = add_member(company.id, "Cy Nocontact")
        dee = add_member(company.id, "Dee Phone", phone="+14165550002")
        j1 = add_job(company.id, north.id, "J-1", [ana, ben], truck=truck12, notes="Gate code 4411")
        j2 = add_job(company.id, north.id, "J-2", [cy], typed=["Temp Tom"], window="1-3 PM", hour=13.0)
        j3 = add_job(company.id, south.id, "J-3", [dee])
        db.session.commit()
        return {"company": company, "north": north, "south": south,
                "members": {m.name: m.id for m in (ana, ben, cy, dee)},
                "jobs": {j.job_number: j.id for j in (j1, j2, j3)},
                "trucks": {"12": truck12.id, "7": truck7.id}}


def outbox(company_id=None):
    """Every outbox message (ordered by id), read afresh (the session keeps rows across commits)."""
    db.session.expire_all()
    stmt = sa.select(OutboxMessage).order_by(OutboxMessage.id)
    if company_id is not None:
        stmt = stmt.where(OutboxMessage.company_id == company_id)
    return list(db.session.scalars(stmt))
