"""Demo mode: a first sync from the built-in sandbox, demo users for every role, a few trucks.

Only ever runs when no SMARTMOVING_API_KEY is set. Idempotent: running init-db
again changes nothing that already exists. What it seeds is marked `is_demo`, so a
live start-up on the same database can disable the demo users (their password is
public) and say that the company holds demo data.
"""
import os
import re
from datetime import datetime
from datetime import time
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask import request

from dashboard.audit.trail import record
from dashboard.auth.users import create_user
from dashboard.auth.users import end_all_access
from dashboard.auth.users import link_crew_member
from dashboard.companies import service as companies
from dashboard.db import db
from dashboard.jobs.conflicts import is_live
from dashboard.models import Company
from dashboard.models import CrewMember
from dashboard.models import Location
from dashboard.models import SyncRun
from dashboard.models import TimeOff
from dashboard.models import Truck
from dashboard.models import TruckJourney
from dashboard.models import User
from dashboard.models import utcnow
from dashboard.reports import demo as reports_demo
from dashboard.sandbox.embedded import announce_to
from dashboard.sandbox.embedded import start_demo_changes
from dashboard.sync.clients import SANDBOX_EXTENSION
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
    with db.write_transaction() as session:
        yield from seed_demo_crew(session, session.get(Company, company.id))
    with db.write_transaction() as session:
        yield from seed_demo_dispatch(session, session.get(Company, company.id))
    with db.write_transaction() as session:
        yield from seed_demo_time_off(session, session.get(Company, company.id))
    if app.config["DEMO_HISTORY_DAYS"] and not reports_demo.history_done(company.id):
        yield from reports_demo.fill_history(app, company, app.config["DEMO_HISTORY_DAYS"])
        # The sync page's "Last run" is then today's and tomorrow's, not the history's last day
        # (an unchanged re-sync: its sweep calls only).
        yield summarize(run_sync(company.id, trigger="demo"))
    yield from seed_second_demo_company()
    yield f"Demo users (password '{DEMO_PASSWORD}'): " + ", ".join(demo_email(role) for role in DEMO_ROLES)


# ---------------------------------------------------------------- a second demo company (issue 21 §4)

SECOND_DEMO_COMPANY = "Harbour Movers (demo)"
SECOND_DEMO_TIMEZONE = "America/Vancouver"
SECOND_DEMO_ROLES = ("ADMIN", "DISPATCHER")


def second_demo_email(role):
    """admin2@demo.test, dispatcher2@demo.test: the second demo company's accounts."""
    return f"{role.lower().replace('_', '')}2@demo.test"


def seed_second_demo_company():
    """A second demo company with its own sandbox world (another key on the same sandbox) and its own demo
    users, so a super admin's company switcher has something to switch; idempotent. Yields lines to print."""
    company = db.session.scalar(sa.select(Company).where(Company.is_demo.is_(True), Company.is_default.is_(False))
                                .order_by(Company.id).limit(1))
    if company is None:
        with db.write_transaction():
            company = companies.create_company(SECOND_DEMO_COMPANY, SECOND_DEMO_TIMEZONE, is_demo=True)
    company_id = company.id
    if db.session.scalar(sa.select(sa.func.count(SyncRun.id)).where(SyncRun.company_id == company_id)) == 0:
        db.session.commit()
        yield f"Demo mode: first sync of {company.name} from its own sandbox world..."
        yield summarize(run_sync(company_id, trigger="demo"))
    with db.write_transaction() as session:
        company = session.get(Company, company_id)
        locations = list(session.scalars(sa.select(Location).where(Location.company_id == company_id)
                                         .order_by(Location.name)))
        _ensure_trucks(session, company, locations)
        for role in SECOND_DEMO_ROLES:
            email = second_demo_email(role)
            if session.scalar(sa.select(User.id).where(User.email == email)) is None:
                user = create_user(email, DEMO_PASSWORD, role, company, locations[:1] if role == "DISPATCHER" else [],
                                   full_name=f"Demo {role.title()} ({company.name})")
                user.is_demo = True
    yield (f"Second demo company {company.name}: " + ", ".join(second_demo_email(role) for role in SECOND_DEMO_ROLES)
           + " (super admins switch companies in the header)")


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


# ---------------------------------------------------------------- demo crew: roles, contacts, links (issue 17 §1)

# The demo accounts that are crew, and the roles they may be linked as, in order of preference: the demo mover
# is the busiest mover, a foreman only when no mover works today.
DEMO_CREW_LINKS = (("DRIVER", ("driver",)), ("MOVER", ("mover", "foreman")))
# The demo crew's phones: a full fictional number in the area code of their branch (555-01xx is reserved for fiction).
DEMO_AREA_CODE = "416"
_OLD_DEMO_PHONE = re.compile(r"^\+1 555 01\d\d$")   # what earlier demos seeded: too short to dial


def seed_demo_crew(session, company):
    """Give the sandbox's crew our fields (a role where none, a phone and an example.test e-mail) and link
    the demo driver and mover to the busiest people of their role today, so My jobs shows work.

    Only empty fields are filled (and the too-short phones earlier demos seeded replaced) and only unlinked
    demo users linked: a second run changes nothing.
    Yields the line to print.
    """
    members = [member for member in session.scalars(sa.select(CrewMember).where(
        CrewMember.company_id == company.id).order_by(CrewMember.id)) if member.is_active]
    areas = _area_codes(session, company)
    for index, member in enumerate(members):
        member.role = member.role or ("driver", "foreman", "mover", "mover")[index % 4]
        if not member.phone or _OLD_DEMO_PHONE.match(member.phone):
            member.phone = f"+1 {areas.get(member.location_id, DEMO_AREA_CODE)} 555 01{index % 100:02d}"
        member.email = member.email or f"{'.'.join(member.name.lower().split())}@example.test".replace("..", ".")
    busiest = _busiest_today(session, company, members)
    linked = []
    for role, wanted in DEMO_CREW_LINKS:
        user = session.scalar(sa.select(User).where(User.email == demo_email(role)))
        if user is None or user.crew_member_id is not None:
            continue
        taken = set(session.scalars(sa.select(User.crew_member_id).where(User.crew_member_id.is_not(None))))
        free = [m for m in busiest if m.id not in taken]
        # The busiest person of the first role that has anyone free (a mover before a foreman).
        member = next((m for kind in wanted for m in free if m.role == kind), None)
        if member is None:
            continue
        link_crew_member(user, member)
        user.full_name = member.name
        linked.append(f"{user.email} → {member.name}")
    session.flush()
    if linked:
        yield "Demo crew links: " + ", ".join(linked) + "."


def _area_codes(session, company):
    """{location id: its phone's area code} of company's locations whose phone has one (10 or 11 digits)."""
    codes = {}
    for location_id, phone in session.execute(sa.select(Location.id, Location.phone).where(
            Location.company_id == company.id)):
        digits = re.sub(r"\D", "", phone or "")
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        if len(digits) == 10:
            codes[location_id] = digits[:3]
    return codes


def _busiest_today(session, company, members):
    """members ordered by how many of today's live jobs they are on (by id), most first."""
    today = company_today(company.timezone)
    counts = {}
    for job in session.scalars(sa.select(TruckJourney).where(TruckJourney.company_id == company.id,
                                                              TruckJourney.scheduled_date == today)):
        if is_live(job):
            for member_id in job.effective_crew_ids:
                counts[member_id] = counts.get(member_id, 0) + 1
    return sorted((m for m in members if counts.get(m.id)), key=lambda m: (-counts[m.id], m.id))


# ---------------------------------------------------------------- demo time off (issue 17 §2)

DEMO_TIME_OFF_REASONS = ("Dentist", "Family event", "Medical appointment")


def seed_demo_time_off(session, company):
    """Tomorrow's time off and a truck out of service, so the board shows `timeoff` and `truck-unavailable`.

    Once per tomorrow (a restart the same day adds nothing): one person on a job tomorrow is off all
    day, another from 08:00 to 12:00, a third (free) all day; someone never works Sundays; and the
    truck of one of tomorrow's jobs (given one if none has a truck yet) is out of service all day.
    Yields the line to print.
    """
    tomorrow = company_today(company.timezone) + timedelta(days=1)
    start = datetime.combine(tomorrow, time())
    if session.scalar(sa.select(TimeOff.id).where(TimeOff.company_id == company.id, TimeOff.created_by.is_(None),
                                                  TimeOff.starts_at == start).limit(1)) is not None:
        return
    members = list(session.scalars(sa.select(CrewMember).where(CrewMember.company_id == company.id)
                                   .order_by(CrewMember.id)))
    members = [member for member in members if member.is_active]
    jobs = [job for job in session.scalars(sa.select(TruckJourney).where(
        TruckJourney.company_id == company.id, TruckJourney.scheduled_date == tomorrow).order_by(
        TruckJourney.arrival_start_hour, TruckJourney.id)) if is_live(job)]
    if not members or not jobs:
        return
    assigned = _crew_on(jobs, members)
    assigned_ids = {member.id for member in assigned}
    free = [member for member in members if member.id not in assigned_ids]
    end = start + timedelta(days=1)
    off = [(assigned[:1], start, end, DEMO_TIME_OFF_REASONS[0]),
           (assigned[1:2], start + timedelta(hours=8), start + timedelta(hours=12), DEMO_TIME_OFF_REASONS[2]),
           (free[:1], start, end, DEMO_TIME_OFF_REASONS[1])]
    for people, begins, ends, reason in off:
        for member in people:
            session.add(TimeOff(company_id=company.id, crew_member_id=member.id, starts_at=begins, ends_at=ends,
                                reason=reason))
    sunday_person = (free[1:2] or members[-1:])[0]
    if session.scalar(sa.select(TimeOff.id).where(TimeOff.crew_member_id == sunday_person.id,
                                                  TimeOff.weekday == 6).limit(1)) is None:
        session.add(TimeOff(company_id=company.id, crew_member_id=sunday_person.id, weekday=6,
                            reason="Never on Sundays"))
    truck_job = _job_with_truck(session, company, jobs)
    if truck_job is not None:
        session.add(TimeOff(company_id=company.id, truck_id=truck_job.truck_id, starts_at=start, ends_at=end,
                            reason="Brake repair"))
    session.flush()
    yield (f"Demo time off for {tomorrow}: {len(assigned[:2]) + len(free[:1])} people off, "
           f"{'one truck' if truck_job is not None else 'no truck'} out of service.")


def _crew_on(jobs, members):
    """Crew members on these jobs (by id when the job carries ids, else by name), in job order."""
    by_id = {member.id: member for member in members}
    by_name = {" ".join(member.name.split()).casefold(): member for member in members}
    found = []
    for job in jobs:
        people = [by_id.get(member_id) for member_id in job.effective_crew_ids] or [
            by_name.get(" ".join(str(name).split()).casefold()) for name in job.effective_crew]
        found.extend(member for member in people if member is not None and member not in found)
    return found


def _job_with_truck(session, company, jobs):
    """The first of jobs with a truck; else the first one given a truck of its location (a dispatch field)."""
    for job in jobs:
        if job.truck_id is not None:
            return job
    trucks = list(session.scalars(sa.select(Truck).where(Truck.company_id == company.id,
                                                         Truck.is_active.is_(True)).order_by(Truck.name)))
    for job in jobs:
        truck = next((t for t in trucks if t.location_id in (job.location_id, None)), None)
        if truck is not None:
            job.truck_id = truck.id
            return job
    return None


# ---------------------------------------------------------------- demo: SmartMoving edits dispatched work (issue 19)

def seed_demo_dispatch(session, company):
    """Dispatch the tomorrow jobs the sandbox will edit (sandbox.demo_changes), so their edits are raised.

    Each gets a truck of its location (a different one per job where the location has
    enough) and the ASSIGNED status. Jobs already dispatched are left as they are, so a
    second run changes nothing. Yields the line to print.
    """
    tomorrow = company_today(company.timezone) + timedelta(days=1)
    server = current_app.extensions[SANDBOX_EXTENSION](company.timezone)
    external_ids = server.world.demo_change_jobs()
    jobs = {job.external_id: job for job in session.scalars(sa.select(TruckJourney).where(
        TruckJourney.company_id == company.id, TruckJourney.scheduled_date == tomorrow,
        TruckJourney.external_id.in_(external_ids)))}
    trucks = list(session.scalars(sa.select(Truck).where(Truck.company_id == company.id,
                                                         Truck.is_active.is_(True)).order_by(Truck.name)))
    used, dispatched = set(), 0
    for external_id in external_ids:
        job = jobs.get(external_id)
        if job is None or job.truck_id is not None or job.dispatch_status != "UNASSIGNED" or not trucks:
            continue
        here = [truck for truck in trucks if truck.location_id == job.location_id] or trucks
        truck = next((truck for truck in here if truck.id not in used), here[0])
        used.add(truck.id)
        job.truck_id, job.dispatch_status, job.dispatch_updated_at = truck.id, "ASSIGNED", utcnow()
        dispatched += 1
    if dispatched:
        yield (f"Demo: {dispatched} of tomorrow's jobs dispatched; the sandbox edits them in SmartMoving a few "
               "minutes after start (Changed badges on tomorrow's board).")


def start_upstream_changes():
    """before_request (demo mode): start the sandbox's timed edits of tomorrow's dispatched jobs, once."""
    if getattr(current_app, "_demo_changes_started", False):
        return
    current_app._demo_changes_started = True
    company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
    if company is not None:
        start_demo_changes(company.timezone, os.path.join(current_app.instance_path, "demo-changes-day.txt"))
