"""The JSON API tests' world (two locations of ours, one of a rival company) and bearer tokens."""
from datetime import timedelta

from dashboard.db import db
from dashboard.models import TruckJourney
from dashboard.timeutil import company_today

MONEY_CENTS = 734567  # 7345.67: distinctive, so its absence is meaningful


def build_api_world(app, default_company, make_location, make_company):
    """The JSON API tests' `world` fixture (tests/conftest.py).

    Two locations of the default company, one of another company, a job in each for today.
    """
    north = make_location("North", external_id="b-north")
    south = make_location("South", external_id="b-south")
    other_company = make_company("Rival Movers")
    rival = make_location("Rival Depot", company=other_company, external_id="b-rival")
    with app.app_context():
        today = company_today(default_company.timezone)
        jobs = {}
        for key, location, company_id, crew in (("north", north, default_company.id, ["Sam Driver"]),
                                                ("south", south, default_company.id, ["Kim Mover"]),
                                                ("rival", rival, other_company.id, ["Sam Driver"])):
            job = TruckJourney(company_id=company_id, location_id=location.id, external_id=f"job-{key}",
                               job_number=f"J-{key}", customer_name=f"Customer {key}", scheduled_date=today,
                               estimated_value_cents=MONEY_CENTS, smartmoving_crew=crew, data_source="SMARTMOVING")
            db.session.add(job)
            jobs[key] = job
        db.session.add(TruckJourney(company_id=default_company.id, location_id=north.id, external_id="job-tomorrow",
                                    job_number="J-tomorrow", customer_name="Later", data_source="SMARTMOVING",
                                    scheduled_date=today + timedelta(days=1)))
        db.session.commit()
        return {"north": north, "south": south, "rival": rival, "today": today,
                "jobs": {k: v.id for k, v in jobs.items()}, "other_company": other_company}


def user_for(make_user, role, world):
    """A user of role who sees the world's north location (or its crew, for crew roles)."""
    locations = [world["north"]] if role in ("DISPATCHER", "MANAGER") else []
    crew_name = "Sam Driver" if role in ("DRIVER", "MOVER") else None
    return make_user(role, locations=locations, crew_name=crew_name)


def bearer(app, user):
    """Authorization headers with a fresh API token of user's."""
    from dashboard.auth.tokens import issue_token
    with app.app_context():
        db.begin_write()
        _, token = issue_token(db.session.merge(user))
        db.session.commit()
    return {"Authorization": f"Bearer {token}"}
