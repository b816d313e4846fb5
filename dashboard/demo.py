"""Demo mode: a first sync from the built-in sandbox, demo users for every role, a few trucks.

Only ever runs when no SMARTMOVING_API_KEY is set. Idempotent: running init-db
again changes nothing that already exists. What it seeds is marked `is_demo`, so a
live start-up on the same database can disable the demo users (their password is
public) and say that the company holds demo data.
"""
import sqlalchemy as sa
from flask import current_app
from flask import request

from dashboard.audit.trail import record
from dashboard.auth.users import create_user
from dashboard.auth.users import end_all_access
from dashboard.db import db
from dashboard.models import Company
from dashboard.models import Location
from dashboard.models import SyncRun
from dashboard.models import Truck
from dashboard.models import TruckJourney
from dashboard.models import User
from dashboard.reports import demo as reports_demo
from dashboard.sandbox.embedded import announce_to
from dashboard.sync.history import summarize
from dashboard.sync.service import run_sync
from dashboard.timeutil import company_today

DEMO_PASSWORD = "demo-password"
DEMO_ROLES = ("SUPER_ADMIN", "ADMIN", "DISPATCHER", "MANAGER", "AUDITOR", "DRIVER", "MOVER")


def demo_email(role):
    return f"{role.lower().replace('_', '')}@demo.test"


def seed_demo(app):
    """Seed the demo company; yields lines to print."""
    company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
    if _is_live(company):
        # SMARTMOVING_API_KEY missing on a live database: no sandbox data, no public-password accounts.
        yield ("Demo mode on a live database (its users are not demo users): nothing seeded. "
               "Set SMARTMOVING_API_KEY to run it live.")
        return
    if db.session.scalar(sa.select(sa.func.count(SyncRun.id)).where(SyncRun.company_id == company.id)) == 0:
        db.session.commit()
        yield "Demo mode: first sync from the built-in SmartMoving sandbox..."
        yield summarize(run_sync(company.id, trigger="demo"))
    with db.write_transaction() as session:
        company = session.get(Company, company.id)
        company.is_demo = True
        locations = list(session.scalars(sa.select(Location).where(Location.company_id == company.id)
                                         .order_by(Location.name)))
        _ensure_trucks(session, company, locations)
        crew = _crew_names_on(session, company)
        for index, role in enumerate(DEMO_ROLES):
            email = demo_email(role)
            if session.scalar(sa.select(User.id).where(User.email == email)) is not None:
                continue
            assigned = locations[:2] if role in ("DISPATCHER", "MANAGER") else []
            crew_name = crew[index % len(crew)] if role in ("DRIVER", "MOVER") and crew else None
            user = create_user(email, DEMO_PASSWORD, role, company, assigned,
                               full_name=crew_name or f"Demo {role.replace('_', ' ').title()}", crew_name=crew_name)
            user.is_demo = True
    if app.config["DEMO_HISTORY_DAYS"] and not reports_demo.history_done(company.id):
        yield from reports_demo.fill_history(app, company, app.config["DEMO_HISTORY_DAYS"])
        # The sync page's "Last run" is then today's and tomorrow's, not the history's last day
        # (an unchanged re-sync: its sweep calls only).
        yield summarize(run_sync(company.id, trigger="demo"))
    yield f"Demo users (password '{DEMO_PASSWORD}'): " + ", ".join(demo_email(role) for role in DEMO_ROLES)


def _is_live(company):
    """True when company was not seeded by demo mode and has users of its own."""
    return not company.is_demo and db.session.scalar(
        sa.select(sa.func.count(User.id)).where(User.company_id == company.id, User.is_demo.is_(False))) > 0


def demo_accounts():
    """(email, role) of every demo user, for the sign-in page in demo mode."""
    return [(demo_email(role), role) for role in DEMO_ROLES]


def disable_demo_users():
    """Live mode: disable every active demo user, ending their sessions and tokens; a line saying so, or None.

    Flushes; the caller commits. Their password is in the README: on a live database
    they would be open doors.
    """
    # FOR UPDATE: workers starting together disable (and audit) each demo user once.
    users = list(db.session.scalars(sa.select(User).where(User.is_demo.is_(True), User.is_active_user.is_(True))
                                    .order_by(User.id).with_for_update()))
    for user in users:
        user.is_active_user = False
        end_all_access(user)
        record(user.company_id, None, "user.disable", user.email, reason="demo user in live mode")
    if not users:
        return None
    db.session.flush()
    line = f"Live mode: disabled {len(users)} demo user(s) ({', '.join(user.email for user in users)})"
    demo_companies = list(db.session.scalars(sa.select(Company.name).where(Company.is_demo.is_(True))))
    if demo_companies:
        line += f"; {', '.join(demo_companies)} still holds the demo's sandbox data"
    return line + "."


def _ensure_trucks(session, company, locations):
    if session.scalar(sa.select(sa.func.count(Truck.id)).where(Truck.company_id == company.id)):
        return
    for number, location in enumerate(locations, start=1):
        for slot in range(3):
            session.add(Truck(company_id=company.id, location_id=location.id, name=f"Truck {number}{slot + 1:02d}"))
    session.flush()


def _crew_names_on(session, company):
    """Crew names on today's jobs, most frequent first, so demo drivers have work to see."""
    today = company_today(company.timezone)
    counts = {}
    for crew in session.scalars(sa.select(TruckJourney.smartmoving_crew).where(
            TruckJourney.company_id == company.id, TruckJourney.scheduled_date == today)):
        for name in crew or ():
            counts[name] = counts.get(name, 0) + 1
    return sorted(counts, key=lambda name: (-counts[name], name))


def announces_webhooks(app):
    """Demo mode: once this process serves a request, its sandbox announces changes to its own webhook route."""
    return app.config["DEMO_MODE"] and not (app.testing and not app.config.get("DEMO_WEBHOOKS"))


def wire_demo_webhooks():
    """before_request (demo mode): point the sandbox's announcements at this process's webhook route."""
    config = current_app.config
    # The socket this process serves on; loopback reaches it whatever host it was bound to.
    port = request.environ.get("SERVER_PORT")
    if port and port.isdigit():
        announce_to(f"http://127.0.0.1:{port}/api/smartmoving/webhooks", config["SMARTMOVING_WEBHOOK_SECRET"],
                    config["SMARTMOVING_WEBHOOK_HEADER"])
