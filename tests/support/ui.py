"""Helpers for the UI tests: jobs, trucks and crew rows inserted straight into the database."""
from datetime import timedelta
from decimal import Decimal

from dashboard.db import db
from dashboard.models import Company
from dashboard.models import CrewMember
from dashboard.models import Truck
from dashboard.models import TruckJourney
from dashboard.timeutil import company_today
from tests.support.crew_links import crew_ids_for

MONEY = Decimal("7345.67")
MONEY_MARKERS = ("7345.67", "7,345.67")


def today_of(app, company=None):
    """Today in the (default) company's zone."""
    with app.app_context():
        tz = (db.session.get(Company, company.id).timezone if company else app.config["DASHBOARD_TIMEZONE"])
        return company_today(tz)


def add_job(app, location, day=None, company=None, **fields):
    """Insert a job at location on day (default: the company's today); returns its id."""
    with app.app_context():
        company_id = company.id if company else location.company_id
        day = day or today_of(app, company)
        counter = db.session.query(TruckJourney).count() + 1
        values = dict(
            company_id=company_id, location_id=location.id, scheduled_date=day,
            external_id=f"ext-{counter}", job_number=f"J-{1000 + counter}", customer_name=f"Customer {counter}",
            origin_address="1 King St", destination_address="9 Queen St", arrival_window="8:00 - 9:00",
            arrival_start_hour=8.0, estimated_value_cents=734567, status="BOOKED", smartmoving_crew=["Sam Driver"],
        )
        values.update(fields)
        # Crews are given by name here: the ids a sync or the assign panel would store come from
        # the company's crew members of those names (My jobs follows ids; see tests/support/crew_links.py).
        for names, ids in (("crew", "crew_member_ids"), ("smartmoving_crew", "smartmoving_crew_ids")):
            if values.get(names) and ids not in fields:
                values[ids] = crew_ids_for(company_id, values[names])
        job = TruckJourney(**values)
        db.session.add(job)
        db.session.commit()
        return job.id


def add_truck(app, company, name, location=None, active=True):
    with app.app_context():
        truck = Truck(company_id=company.id, name=name, location_id=location.id if location else None, is_active=active)
        db.session.add(truck)
        db.session.commit()
        return truck.id


def add_crew_member(app, company, name, external_id=None):
    with app.app_context():
        member = CrewMember(company_id=company.id, external_id=external_id or name.lower().replace(" ", "-"), name=name,
                            status="ACTIVE")
        db.session.add(member)
        db.session.commit()
        return member.id


def tomorrow_of(app, company=None):
    return today_of(app, company) + timedelta(days=1)


ROLES = ("SUPER_ADMIN", "ADMIN", "DISPATCHER", "MANAGER", "AUDITOR", "DRIVER", "MOVER")


class World:
    """Two companies, three locations, one user per role and a job per location, today."""


def build_world(app, default_company, make_company, make_location, make_user):
    w = World()
    w.company = default_company
    w.loc_a = make_location("Alpha Branch", external_id="br-a")
    w.loc_b = make_location("Beta Branch")
    w.other_company = make_company("Other Movers")
    w.loc_c = make_location("Gamma Branch", company=w.other_company)
    w.today = today_of(app)
    w.job_a = add_job(app, w.loc_a, customer_name="Alice Able", job_number="A-100",
                      smartmoving_crew=["Dan Driver", "Mo Mover"])
    w.job_b = add_job(app, w.loc_b, customer_name="Bert Beta", job_number="B-200", smartmoving_crew=["Someone Else"])
    w.job_c = add_job(app, w.loc_c, company=w.other_company, customer_name="Carl Other", job_number="C-300",
                      day=today_of(app, w.other_company))
    w.users = {
        "SUPER_ADMIN": make_user("SUPER_ADMIN"),
        "ADMIN": make_user("ADMIN"),
        "DISPATCHER": make_user("DISPATCHER", locations=[w.loc_a]),
        "MANAGER": make_user("MANAGER", locations=[w.loc_a]),
        "AUDITOR": make_user("AUDITOR"),
        "DRIVER": make_user("DRIVER", crew_name="Dan Driver"),
        "MOVER": make_user("MOVER", crew_name="Mo Mover"),
    }
    return w
