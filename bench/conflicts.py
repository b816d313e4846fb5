"""`python -m bench.conflicts`: what day_conflicts costs at 500 and 2,000 jobs, next to the bare query.

A synthetic day over 66 locations, every job spanning 2-9 hours from a morning or
afternoon window, 70 % with a truck and two or three people. "Realistic": each job has
its own truck and people except about 5 % that share one with another job of the
location. "Worst case": 3 trucks and 6 people per location, so nearly every job clashes
with dozens of others (the answer itself is then quadratic). "The bare query" selects
the same columns without computing anything. Printed only: timings depend on the machine.
"""
import random
import sys
import tempfile
import time
from datetime import datetime
from datetime import timedelta
from pathlib import Path

from bench.common import dispose
from bench.common import make_app

SIZES = (500, 2000)
ROUNDS = 7


def populate(app, jobs, dense, seed=3):
    """One company-day of `jobs` jobs (dense: few trucks and people per location); returns (company id, day)."""
    import sqlalchemy as sa

    from dashboard.db import db
    from dashboard.models import Company
    from dashboard.models import Location
    from dashboard.models import Truck
    from dashboard.models import TruckJourney

    rng = random.Random(seed)
    day = datetime(2026, 11, 28).date()
    with app.app_context():
        company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
        places = []
        per_location = 3 if dense else jobs // 66 + 1
        for index in range(66):
            location = Location(company_id=company.id, name=f"Branch {index}")
            db.session.add(location)
            db.session.flush()
            trucks = [Truck(company_id=company.id, location_id=location.id, name=f"Truck {index}-{n}")
                      for n in range(per_location)]
            db.session.add_all(trucks)
            db.session.flush()
            people = [f"Person {index}-{n}" for n in range(2 * per_location)]
            places.append((location.id, [t.id for t in trucks], people))
        midnight = datetime.combine(day, datetime.min.time())
        for number in range(jobs):
            location_id, trucks, people = places[number % 66]
            slot = number // 66  # the location's n-th job: its own truck and people unless it shares
            if dense or rng.random() < 0.05:
                truck, crew = rng.choice(trucks), rng.sample(people, 2)
            else:
                truck, crew = trucks[slot % len(trucks)], people[2 * slot % len(people):2 * slot % len(people) + 2]
            start = midnight + timedelta(hours=rng.choice((8, 9, 10.5, 12, 13.5, 15)))
            db.session.add(TruckJourney(
                company_id=company.id, location_id=location_id, scheduled_date=day, external_id=f"b-{number}",
                job_number=f"B-{number}", customer_name=f"Customer {number}", status="BOOKED",
                span_start=start, span_end=start + timedelta(hours=rng.uniform(2, 9)),
                truck_id=truck if rng.random() < 0.7 else None, smartmoving_crew=crew))
        db.session.commit()
        return company.id, day


def best_of(work):
    """The fastest of ROUNDS runs of work(), in ms (the least disturbed by other processes)."""
    times = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        work()
        times.append((time.perf_counter() - began) * 1000)
    return min(times)


def measure(jobs, dense, workdir):
    """(ms for day_conflicts, ms for the bare query, jobs with a clash, clashes) on a fresh SQLite database."""
    from dashboard.db import db
    from dashboard.jobs import conflicts

    name = f"{jobs}-{'dense' if dense else 'real'}"
    app = make_app("sqlite:///" + str(workdir / f"conflicts-{name}.sqlite"), workdir / f"instance-{name}")
    try:
        company_id, day = populate(app, jobs, dense)
        with app.app_context():
            found = conflicts.day_conflicts(company_id, day)
            ours = best_of(lambda: conflicts.day_conflicts(company_id, day))
            bare = best_of(lambda: db.session.execute(conflicts.rows_statement(company_id, day)).all())
        return ours, bare, len(found), sum(len(clashes) for clashes in found.values())
    finally:
        dispose(app)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        print("| day | jobs | day_conflicts | bare query | jobs with a clash | clashes |")
        print("|---|---|---|---|---|---|")
        for dense in (False, True):
            for jobs in SIZES:
                ours, bare, clashing, clashes = measure(jobs, dense, Path(tmp))
                print(f"| {'worst case' if dense else 'realistic'} | {jobs} | {ours:.1f} ms | {bare:.1f} ms "
                      f"| {clashing} | {clashes} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
