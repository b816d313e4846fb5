"""A second company to view as a super admin: Harbour, with an office, one reachable mover and a job on a day."""
from dashboard.companies.views import SESSION_KEY
from dashboard.db import db
from dashboard.models import Company
from dashboard.models import Location
from tests.support.plans import add_job
from tests.support.plans import add_member

# Harbour's zone is UTC+14 and Home's UTC-11: 25 hours apart, so their "today" is never the same date.
HARBOUR_TZ = "Pacific/Kiritimati"
HOME_TZ = "Pacific/Pago_Pago"


def build_harbour(app, day, timezone=HARBOUR_TZ, name="Harbour Movers"):
    """{"company": id, "location": id, "member": id, "job": id}: Harbour with Hana (e-mail) on job HARBOUR-1 of day."""
    with app.app_context():
        company = Company(name=name, timezone=timezone, is_default=False, is_active=True)
        db.session.add(company)
        db.session.flush()
        dock = Location(company_id=company.id, name="Harbour Dock")
        db.session.add(dock)
        db.session.flush()
        hana = add_member(company.id, "Hana Harbour", email="hana@example.test")
        job = add_job(company.id, dock.id, "HARBOUR-1", [hana], day=day)
        db.session.commit()
        return {"company": company.id, "location": dock.id, "member": hana.id, "job": job.id}


def switch_to(client, company_id):
    """Pick company_id in a signed-in client's header switcher (the session key the switcher sets)."""
    with client.session_transaction() as session:
        session[SESSION_KEY] = company_id
