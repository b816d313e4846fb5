"""The confirmation tests' world: crew members, jobs that name them by id, and plan versions written directly.

`tell_crew` writes what a publish writes for the states and the personal page (a PlanVersion, one
PlanAssignment per person and job with its snapshot, one live CrewLink per person), without the
outbox: those tests are about answers, not delivery.
"""
from datetime import datetime
from datetime import time
from datetime import timedelta
from types import SimpleNamespace

import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import CrewMember
from dashboard.models import Location
from dashboard.models import Truck
from dashboard.models import TruckJourney
from dashboard.models import utcnow
from dashboard.plans.links import LINK_PATH
from dashboard.plans.links import issue_link
from dashboard.plans.links import token_for
from dashboard.plans.models import PlanAssignment
from dashboard.plans.models import PlanVersion
from dashboard.plans.snapshot import crew_with_ids
from dashboard.plans.snapshot import fingerprint
from dashboard.plans.snapshot import job_snapshot
from dashboard.timeutil import company_today
from tests.support import csrf_token_from


def add_member(company_id, name, role="mover", location_id=None):
    """A crew member of company with an e-mail address (committed)."""
    member = CrewMember(company_id=company_id, external_id=f"cm-{name}", name=name, role=role,
                        location_id=location_id, status="active",
                        email=name.lower().replace(" ", ".") + "@crew.example.test")
    db.session.add(member)
    db.session.commit()
    return member


def add_truck(company_id, name, location_id=None):
    """A truck of company (committed)."""
    truck = Truck(company_id=company_id, name=name, location_id=location_id)
    db.session.add(truck)
    db.session.commit()
    return truck


def add_job(company_id, location_id, day, members, number, truck=None, customer="Customer", **fields):
    """A job on day whose crew is members (by name and id), arriving 8–10 (committed)."""
    values = dict(
        company_id=company_id, location_id=location_id, scheduled_date=day, job_number=number,
        customer_name=customer, origin_address="12 Oak St, Toronto, ON", destination_address="9 Elm Ave, Toronto, ON",
        arrival_window="8:00 AM - 10:00 AM", arrival_start_hour=8.0,
        span_start=_at(day, 8), span_end=_at(day, 12), crew=[m.name for m in members],
        crew_member_ids=[m.id for m in members], truck_id=truck.id if truck else None, data_source="MANUAL",
        dispatch_status="ASSIGNED", dispatch_updated_at=utcnow())
    job = TruckJourney(**dict(values, **fields))
    db.session.add(job)
    db.session.commit()
    return job


def _at(day, hour):
    """Naive company-local time hour:00 on day (job spans are stored that way)."""
    return datetime.combine(day, time(hour))


def tell_crew(company, day, user_id=None):
    """Publish the company's day as a new version (assignments, links, no messages): (version, {member id: token})."""
    number = (db.session.scalar(sa.select(sa.func.max(PlanVersion.version)).where(
        PlanVersion.company_id == company.id, PlanVersion.day == day)) or 0) + 1
    version = PlanVersion(company_id=company.id, day=day, version=number, published_by=user_id,
                          base_url="http://localhost")
    db.session.add(version)
    db.session.flush()
    jobs = list(db.session.scalars(sa.select(TruckJourney).where(
        TruckJourney.company_id == company.id, TruckJourney.scheduled_date == day)))
    roles = dict(db.session.execute(sa.select(CrewMember.id, CrewMember.role)).all())
    tokens = {}
    for job in jobs:
        snapshot = job_snapshot(job, roles)
        for _name, member_id in crew_with_ids(job):
            if member_id is None:
                continue
            db.session.add(PlanAssignment(plan_version_id=version.id, crew_member_id=member_id, journey_id=job.id,
                                          fingerprint=fingerprint(snapshot), snapshot=snapshot))
            if member_id not in tokens:
                tokens[member_id] = token_for(issue_link(company, member_id, day, version).id)
    db.session.commit()
    return version, tokens


def build_plan_world(app, company, publish=True):
    """Tomorrow's two jobs of company, told to their crews as version 1 (unless publish is False).

    J-100 (Ana driver, Bo mover, truck 12, a gate code) and J-200 (Cy, Dee: another customer),
    a location with an office phone, and a spare truck 7. Returns a namespace of ids and tokens.
    """
    with app.app_context():
        company = db.session.get(type(company), company.id)
        location = Location(company_id=company.id, name="Toronto", phone="+1 416 555 0100", data_source="MANUAL")
        db.session.add(location)
        db.session.commit()
        day = company_today(company.timezone) + timedelta(days=1)
        ana = add_member(company.id, "Ana Driver", "driver", location.id)
        bo = add_member(company.id, "Bo Mover", "mover", location.id)
        cy = add_member(company.id, "Cy Other", "mover", location.id)
        dee = add_member(company.id, "Dee Lead", "foreman", location.id)
        truck12 = add_truck(company.id, "12", location.id)
        truck7 = add_truck(company.id, "7", location.id)
        first = add_job(company.id, location.id, day, [ana, bo], "J-100", truck12, customer="Alice Private",
                        customer_email="alice@example.test", customer_phone="+1 416 555 0199",
                        estimated_value_cents=123456, notes="Gate code 4411")
        second = add_job(company.id, location.id, day, [cy, dee], "J-200", truck7, customer="Zed Elsewhere",
                         origin_address="77 Secret Rd, Toronto, ON")
        version, tokens = tell_crew(company, day) if publish else (None, {})
        return SimpleNamespace(
            company_id=company.id, location_id=location.id, day=day, version_id=version.id if version else None,
            ana=ana.id, bo=bo.id, cy=cy.id, dee=dee.id, truck12=truck12.id, truck7=truck7.id,
            first=first.id, second=second.id, tokens=tokens)


def answer_link(client, token, answer, reason=None, csrf=True):
    """Open the personal page of token and POST answer ("confirmed" or "declined", with reason) as its form does."""
    page = client.get(LINK_PATH + token)
    data = {"answer": answer}
    if csrf:
        data["csrf_token"] = csrf_token_from(page.get_data(as_text=True))
    if reason is not None:
        data["reason"] = reason
    return client.post(LINK_PATH + token, data=data)
