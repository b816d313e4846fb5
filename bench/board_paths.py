"""`python -m bench.board_paths`: the board's request paths in-process, with SQL statement counts.

A synthetic company-day (SQLite file, or BENCH_DATABASE_URL with --pg): 2,000 or 8,000 jobs over 66
locations, 300 crew members (a fifth drivers, a tenth off all day), six trucks out of service in the
morning, crews by CrewMember id, a crew size on every job (a tenth one short), a published plan with a
third of the people confirmed. Through the Flask test client, signed in, each path is asked ROUNDS times
and its median time and statements printed:

- poll 304: the board's htmx partial with the ETag of the last answer (nothing changed);
- partial after a change: one job edited, then the partial for a URL no one asked for yet;
- full page (never cached), readiness panel, My jobs (a linked driver, polled after a change).

Timings are in-process and depend on the machine (its load); statement counts do not.
`--profile PATH` prints cProfile's top functions of that path ("change", "page", "poll", ...).
"""
import argparse
import cProfile
import pstats
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.common import PG_URL
from bench.common import TIMEZONE
from bench.common import counted_statements
from bench.common import dispose
from bench.common import make_app

PEOPLE = 300
LOCATIONS = 66
ROUNDS = 9


def populate(app, jobs, day, seed=20):
    """The company-day described above; returns {"admin", "driver", "job_ids"} (ids)."""
    from dashboard.auth.users import create_user
    from dashboard.db import db
    from dashboard.models import Company
    from dashboard.models import CrewMember
    from dashboard.models import Location
    from dashboard.models import RunStatus
    from dashboard.models import SyncRun
    from dashboard.models import TimeOff
    from dashboard.models import Truck
    from dashboard.models import TruckJourney
    from dashboard.models import utcnow
    from dashboard.plans.models import PlanConfirmation
    from dashboard.plans.publish import publish_day

    rng = random.Random(seed)
    midnight = datetime.combine(day, datetime.min.time())
    with app.app_context():
        company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
        locations = [Location(company_id=company.id, name=f"Branch {n:02d}", phone=f"416-555-{n:04d}")
                     for n in range(LOCATIONS)]
        db.session.add_all(locations)
        db.session.flush()
        trucks = [Truck(company_id=company.id, location_id=locations[n % LOCATIONS].id, name=f"{100 + n}")
                  for n in range(jobs // 2)]
        people = [CrewMember(company_id=company.id, external_id=f"c-{n}", name=f"Person {n}", status="active",
                             role="driver" if n % 5 == 0 else "mover", email=f"p{n}@bench.test",
                             location_id=locations[n % LOCATIONS].id) for n in range(PEOPLE)]
        db.session.add_all(trucks + people)
        db.session.flush()
        for person in rng.sample(people, PEOPLE // 10):
            db.session.add(TimeOff(company_id=company.id, crew_member_id=person.id, starts_at=midnight,
                                   ends_at=midnight + timedelta(days=1), reason="bench"))
        for truck in rng.sample(trucks, 6):
            db.session.add(TimeOff(company_id=company.id, truck_id=truck.id, starts_at=midnight + timedelta(hours=7),
                                   ends_at=midnight + timedelta(hours=13), reason="bench"))
        rows = []
        for number in range(jobs):
            # A truck's morning job, then its afternoon one: no truck is double booked by design.
            hour = (8, 9, 10.5)[number // 2 % 3] if number % 2 == 0 else (13.5, 15)[number // 2 % 2]
            if number < PEOPLE * 2 // 3:   # the roster's crews of three: a morning and an afternoon job each
                crew = people[number // 2 * 3:number // 2 * 3 + 3]
                if rng.random() < 0.05:     # a few people booked twice at once (a clash)
                    crew = crew[:2] + rng.sample(people, 1)
                names, ids = [p.name for p in crew], [p.id for p in crew]
                location_id = crew[0].location_id
            else:                     # SmartMoving's crews: names nobody on our roster has
                names = [f"SM Person {number}-{k}" for k in range(rng.choice((0, 2, 3)))]
                ids, location_id = [None] * len(names), locations[number % LOCATIONS].id
            start = midnight + timedelta(hours=hour)
            rows.append(dict(
                company_id=company.id, location_id=location_id, scheduled_date=day, external_id=f"j-{number}",
                job_number=f"{100000 + number}-1", customer_name=f"Customer {number}", status="BOOKED",
                customer_phone=f"416555{number % 10000:04d}", estimated_value_cents=rng.randint(40000, 900000),
                origin_address=f"{number} King St W, Toronto, ON", destination_address=f"{number} Bay St, Toronto, ON",
                arrival_window="8:00 AM - 10:00 AM", arrival_start_hour=hour, span_start=start,
                span_end=start + timedelta(hours=rng.uniform(2, 3.5)),
                truck_id=trucks[number // 2].id if rng.random() < 0.8 else None,
                crew=names or None, crew_member_ids=ids or None, dispatch_status="ASSIGNED" if names else "UNASSIGNED",
                crew_required=(len(names) + (rng.random() < 0.1)) or None, last_sync_at=datetime(2026, 1, 1),
                sync_status="SYNCED"))
        db.session.execute(sa.insert(TruckJourney), rows)
        finished = utcnow()
        db.session.add(SyncRun(company_id=company.id, trigger="bench", window_start=day, window_end=day,
                               status=RunStatus.SUCCESS.value, started_at=finished, finished_at=finished))
        admin = create_user("admin@bench.test", "bench-password-1", "ADMIN", company)
        driver = create_user("driver@bench.test", "bench-password-1", "DRIVER", company)
        driver.crew_member_id = people[0].id
        db.session.commit()
        publish_day(company, day, request_origin="http://bench.test")
        version_id = db.session.scalar(sa.select(sa.func.max(sa.text("id"))).select_from(sa.text("plan_versions")))
        db.session.add_all(PlanConfirmation(company_id=company.id, crew_member_id=person.id, day=day,
                                            plan_version_id=version_id, state="confirmed")
                           for person in people[::3])
        db.session.commit()
        job_ids = list(db.session.scalars(sa.select(TruckJourney.id).order_by(TruckJourney.id).limit(50)))
        return {"admin": admin.id, "driver": driver.id, "job_ids": job_ids}


def sign_in(client, user_id):
    """client signed in as user_id (the session Flask-Login reads; the real form costs a password hash)."""
    from dashboard.db import db
    from dashboard.models import User
    from tests.support import login_as

    login_as(client, db.session.get(User, user_id))


class Paths:
    """The board's paths for one signed-in client; each returns the response."""

    def __init__(self, app, ids, day):
        self.app, self.ids, self.day, self.edits = app, ids, day, 0
        self.admin = app.test_client()
        self.driver = app.test_client()
        self.etag = None

    def edit(self):
        """One dispatch edit committed, as the dispatch form writes it (notes and the edit time)."""
        from dashboard.db import db
        from dashboard.models import TruckJourney
        from dashboard.models import utcnow

        job_id = self.ids["job_ids"][self.edits % len(self.ids["job_ids"])]
        self.edits += 1
        db.session.execute(sa.update(TruckJourney).where(TruckJourney.id == job_id)
                           .values(notes=f"edit {self.edits}", dispatch_updated_at=utcnow()))
        db.session.commit()

    def get(self, client, url, headers=None, expect=200):
        response = client.get(url, headers=headers or {})
        if response.status_code != expect:
            raise RuntimeError(f"{url} answered {response.status_code}, not {expect}")
        return response

    def poll(self):
        if self.etag is None:
            self.etag = self.get(self.admin, "/", {"HX-Request": "true"}).headers["ETag"]
        return self.get(self.admin, "/", {"HX-Request": "true", "If-None-Match": self.etag}, expect=304)

    def change(self):
        self.edit()
        self.etag = None
        return self.get(self.admin, f"/?_n={self.edits}", {"HX-Request": "true"})

    def page(self):
        return self.get(self.admin, "/")

    def page_all(self):
        return self.get(self.admin, "/?all=1")

    def lanes(self):
        return self.get(self.admin, "/?view=lanes", {"HX-Request": "true"})

    def readiness(self):
        return self.get(self.admin, f"/readiness/panel?date={self.day.isoformat()}", {"HX-Request": "true"})

    def my_jobs(self):
        self.edit()
        return self.get(self.driver, "/my-jobs", {"HX-Request": "true"})


NAMES = ("poll", "change", "page", "page_all", "lanes", "readiness", "my_jobs")


def measure(app, ids, day, profile=None, rounds=ROUNDS):
    """{path: (median seconds, statements, bytes)} for each path."""
    from dashboard.db import db

    out = {}
    with app.app_context():
        paths = Paths(app, ids, day)
        with paths.admin.application.app_context():
            sign_in(paths.admin, ids["admin"])
            sign_in(paths.driver, ids["driver"])
        for name in NAMES:
            run = getattr(paths, name)
            run()   # warm: compile templates, first read of the day
            times = []
            for _ in range(rounds):
                with Timer() as timer:
                    response = run()
                times.append(timer.elapsed)
            with counted_statements(db.engine) as log:
                response = run()
            out[name] = (statistics.median(times), log.statements, len(response.get_data()))
            if profile == name:
                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(rounds):
                    run()
                profiler.disable()
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    return out


class Timer:
    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.elapsed = time.perf_counter() - self.started


def run_size(jobs, workdir, database_url=None, profile=None):
    """Fill a fresh database with jobs jobs today and measure every path."""
    from dashboard.timeutil import company_today

    day = company_today(TIMEZONE)
    url = database_url or "sqlite:///" + str(Path(workdir) / f"paths-{jobs}.sqlite")
    app = make_app(url, Path(workdir) / f"instance-paths-{jobs}")
    try:
        ids = populate(app, jobs, day)
        return measure(app, ids, day, profile)
    finally:
        dispose(app)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.board_paths", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,8000")
    parser.add_argument("--pg", action="store_true", help=f"PostgreSQL at BENCH_DATABASE_URL ({PG_URL})")
    parser.add_argument("--profile", choices=NAMES)
    args = parser.parse_args(argv)
    print("| jobs | path | median | statements | KiB |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in (int(size) for size in args.sizes.split(",")):
            for name, (elapsed, statements, size) in run_size(jobs, tmp, PG_URL if args.pg else None,
                                                              args.profile).items():
                print(f"| {jobs:,} | {name} | {elapsed * 1000:.1f} ms | {statements} | {size / 1024:.0f} |",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
