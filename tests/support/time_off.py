"""The time-off tests' world: two locations, people and trucks in each, a rival company, and users."""
from dashboard.db import db
from dashboard.models import CrewMember
from dashboard.models import Truck
from dashboard.models import User


def _member(company_id, name, location_id, external_id):
    member = CrewMember(company_id=company_id, name=name, location_id=location_id, external_id=external_id,
                        status="active")
    db.session.add(member)
    return member


def link(app, user, member_id):
    """Link user to the crew member member_id (what the admin's user form does)."""
    with app.app_context():
        row = db.session.get(User, user.id)
        row.crew_member_id = member_id
        db.session.commit()
        return db.session.get(User, user.id)


def build_time_off_world(app, default_company, make_location, make_company, make_user):
    """{"north", "south" (Location), "people": {key: id}, "trucks": {key: id}, "users": {key: User}, ...}."""
    north = make_location("North", external_id="b-north")
    south = make_location("South", external_id="b-south")
    rival_company = make_company("Rival Movers")
    rival_depot = make_location("Rival Depot", company=rival_company, external_id="b-rival")
    with app.app_context():
        people = {"ann": _member(default_company.id, "Ann North", north.id, "c-ann"),
                  "bob": _member(default_company.id, "Bob South", south.id, "c-bob"),
                  "nola": _member(default_company.id, "Nola Nowhere", None, "c-nola"),
                  "rita": _member(rival_company.id, "Rita Rival", rival_depot.id, "c-rita")}
        trucks = {"t1": Truck(company_id=default_company.id, name="101", location_id=north.id),
                  "t2": Truck(company_id=default_company.id, name="202", location_id=south.id),
                  "tr": Truck(company_id=rival_company.id, name="R1", location_id=rival_depot.id)}
        db.session.add_all(trucks.values())
        db.session.commit()
        people = {key: row.id for key, row in people.items()}
        trucks = {key: row.id for key, row in trucks.items()}
    users = {"dispatcher": make_user("DISPATCHER", locations=[north]),
             "admin": make_user("ADMIN"),
             "auditor": make_user("AUDITOR"),
             "rival_admin": make_user("ADMIN", company=rival_company)}
    users["ann"] = link(app, make_user("MOVER"), people["ann"])
    users["bob"] = link(app, make_user("DRIVER"), people["bob"])
    return {"north": north, "south": south, "rival_company": rival_company, "people": people, "trucks": trucks,
            "users": users, "company": default_company}
