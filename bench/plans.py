"""`python -m bench.plans`: publishing a day's plan and delivering it (issue 18).

A synthetic company-day: 20 locations, 300 crew members (every one with an e-mail, a
fifth with a phone too), 500 jobs with two or three of them each (by CrewMember id),
trucks and notes. Measured, on SQLite and, when reachable, PostgreSQL:
- publish_day for the whole company (plan v1: assignments, 300 links, 300 messages, one
  transaction), target 2 s;
- "send changes" after 25 jobs changed truck (only their crews are told), target 2 s;
- the delivery worker sending the 300 e-mails to a local SMTP server (aiosmtpd on loopback,
  one connection per batch), target ≥ 20 e-mails/s.
"""
import random
import sys
import tempfile
import time
from datetime import datetime
from datetime import timedelta
from pathlib import Path

from bench.common import PG_URL
from bench.common import Row
from bench.common import dispose
from bench.common import make_app
from bench.common import postgres_reachable

JOBS = 500
PEOPLE = 300
LOCATIONS = 20
CHANGED_JOBS = 25
PUBLISH_TARGET_S = 2.0
SEND_TARGET_PER_S = 20.0


def populate(app, seed=18):
    """The company-day described above; returns (company id, day, [job ids])."""
    import sqlalchemy as sa

    from dashboard.db import db
    from dashboard.models import Company
    from dashboard.models import CrewMember
    from dashboard.models import Location
    from dashboard.models import Truck
    from dashboard.models import TruckJourney

    rng = random.Random(seed)
    day = datetime(2026, 11, 28).date()
    midnight = datetime.combine(day, datetime.min.time())
    with app.app_context():
        company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
        locations = [Location(company_id=company.id, name=f"Branch {n}", phone=f"416-555-{n:04d}")
                     for n in range(LOCATIONS)]
        db.session.add_all(locations)
        db.session.flush()
        trucks = [Truck(company_id=company.id, location_id=locations[n % LOCATIONS].id, name=f"{100 + n}")
                  for n in range(JOBS // 2 + CHANGED_JOBS)]
        people = [CrewMember(company_id=company.id, external_id=f"p-{n}", name=f"Person {n}", status="active",
                             role="driver" if n % 5 == 0 else "mover", email=f"person{n}@bench.test",
                             phone=f"+1416555{n:04d}" if n % 5 == 1 else None,
                             location_id=locations[n % LOCATIONS].id) for n in range(PEOPLE)]
        db.session.add_all(trucks + people)
        db.session.flush()
        ids = []
        for number in range(JOBS):
            hour = 8 if number % 2 == 0 else 13
            crew = [people[(number * 3 + k) % PEOPLE] for k in range(rng.choice((2, 3)))]
            job = TruckJourney(
                company_id=company.id, location_id=crew[0].location_id, scheduled_date=day,
                external_id=f"b-{number}", job_number=f"B-{number}", customer_name=f"Customer {number}",
                status="BOOKED", arrival_window="8-10 AM" if hour == 8 else "1-3 PM", arrival_start_hour=hour,
                origin_address=f"{number} King St W, Toronto", destination_address=f"{number} Bay St, Toronto",
                span_start=midnight + timedelta(hours=hour), span_end=midnight + timedelta(hours=hour + 4),
                truck_id=trucks[number // 2].id, crew=[p.name for p in crew], crew_member_ids=[p.id for p in crew],
                notes=f"Gate code {rng.randint(1000, 9999)}")
            db.session.add(job)
            ids.append(job)
        db.session.commit()
        return company.id, day, [job.id for job in ids], [truck.id for truck in trucks[JOBS // 2:]]


def measure(database_url, workdir, label):
    """{"publish": (s, messages), "changes": (s, messages), "send": (s, sent)} on a fresh database."""
    from dashboard.db import db
    from dashboard.models import Company
    from dashboard.models import TruckJourney
    from dashboard.plans import delivery
    from dashboard.plans import settings as delivery_settings
    from dashboard.plans.publish import publish_day
    from tests.support.mail import start_smtp_server

    controller, inbox, port = start_smtp_server()
    app = make_app(database_url, workdir / f"instance-plans-{label}")
    app.config.update(delivery_settings.parse({"SMTP_URL": f"smtp://127.0.0.1:{port}",
                                                "MAIL_FROM": "plans@bench.test"}))
    try:
        company_id, day, job_ids, spare_trucks = populate(app)
        found = {}
        with app.app_context():
            company = db.session.get(Company, company_id)
            began = time.perf_counter()
            result = publish_day(company, day, request_origin="http://bench.test")
            found["publish"] = (time.perf_counter() - began, result.messages)
            for job_id, truck_id in zip(job_ids[:CHANGED_JOBS], spare_trucks, strict=False):
                db.session.get(TruckJourney, job_id).truck_id = truck_id
            db.session.commit()
            began = time.perf_counter()
            result = publish_day(company, day, changes_only=True)
            found["changes"] = (time.perf_counter() - began, result.messages)
            # Only the newest version's e-mails remain to send (the older ones are superseded on the way).
            began = time.perf_counter()
            sent = 0
            while True:
                report = delivery.deliver_due(limit=200)
                sent += report.sent
                if not report.claimed:
                    break
            found["send"] = (time.perf_counter() - began, sent, len(inbox.messages))
        return found
    finally:
        dispose(app)
        controller.stop()


def run(today, workdir):
    """The bench rows (section 8): publish, send changes and delivery, SQLite and PostgreSQL."""
    workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    backends = [("SQLite", "sqlite:///" + str(workdir / "plans.sqlite"))]
    if postgres_reachable() is None:
        backends.append(("PostgreSQL", PG_URL))
    for name, url in backends:
        found = measure(url, workdir, name.lower())
        seconds, messages = found["publish"]
        rows.append(Row("8", f"Publish a day: {JOBS} jobs / {PEOPLE} people, plan v1 with assignments, links and "
                             f"{messages} messages in one transaction ({name})",
                        f"{seconds * 1000:.0f} ms", f"{PUBLISH_TARGET_S:.0f} s",
                        f"{seconds / PUBLISH_TARGET_S:.2f}×", "≤ 2 s", seconds <= PUBLISH_TARGET_S))
        seconds, messages = found["changes"]
        rows.append(Row("8", f"Send changes after {CHANGED_JOBS} trucks changed: {messages} people told ({name})",
                        f"{seconds * 1000:.0f} ms", f"{PUBLISH_TARGET_S:.0f} s",
                        f"{seconds / PUBLISH_TARGET_S:.2f}×", "≤ 2 s", seconds <= PUBLISH_TARGET_S))
        seconds, sent, received = found["send"]
        rate = sent / seconds if seconds else 0.0
        rows.append(Row("8", f"Delivery worker: {sent} e-mails to a loopback SMTP server (aiosmtpd; {received} "
                             f"received), one connection per batch of 200 ({name})",
                        f"{rate:.0f} e-mails/s ({seconds:.2f} s)", f"{SEND_TARGET_PER_S:.0f}/s",
                        f"{rate / SEND_TARGET_PER_S:.2f}×", "≥ 20 e-mails/s", rate >= SEND_TARGET_PER_S))
    return rows


def main():
    with tempfile.TemporaryDirectory() as tmp:
        print("| measure | ours | target | ok |")
        print("|---|---|---|---|")
        for row in run(None, Path(tmp)):
            print(f"| {row.measure} | {row.ours} | {row.target} | {row.verdict} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
