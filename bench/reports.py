"""Item 5: the reports' summary (`GET /api/smartmoving/summary`) against a plain GROUP BY of the same rows.

90 days × 66 locations × 500 jobs a day (45,000 jobs) of one company, inserted with one
executemany, a realistic mix of statuses, money and removed jobs. "Ours" is the whole
answer as an admin gets it through the test client: sign-in lookup, scope, the
conditional sums, location names and JSON. The limit is the bare
`SELECT date, location, count(*) … GROUP BY` of the same range on the same connection pool.
"""
import random
import time
from datetime import timedelta

import sqlalchemy as sa

from bench.common import PG_URL
from bench.common import Row
from bench.common import Stopwatch
from bench.common import dispose
from bench.common import make_app
from bench.common import percentile
from bench.common import postgres_reachable
from bench.common import ratio_text
from bench.common import seconds

DAYS, LOCATIONS, JOBS_PER_DAY = 90, 66, 500
REPEATS = 15
TARGET_SECONDS = 0.300
STATUSES = ("BOOKED",) * 5 + ("CONFIRMED",) * 2 + ("COMPLETED",) * 10 + ("CANCELLED",)


def fill(app, today, seed=5):
    """Locations, an admin and DAYS × JOBS_PER_DAY jobs ending the day after today; returns (admin, first day)."""
    from dashboard.auth.users import create_user
    from dashboard.db import db
    from dashboard.models import Company
    from dashboard.models import Location
    from dashboard.models import TruckJourney

    rng = random.Random(seed)
    first = today - timedelta(days=DAYS - 2)
    with app.app_context():
        company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
        locations = [Location(company_id=company.id, name=f"Branch {n:02d}", external_id=f"b{n}",
                              data_source="SMARTMOVING") for n in range(LOCATIONS)]
        db.session.add_all(locations)
        db.session.flush()
        admin = create_user("bench-admin@example.test", "bench-password-long", "ADMIN", company, [])
        db.session.commit()
        ids, company_id, admin_token = [loc.id for loc in locations], company.id, admin.session_token
        rows = []
        for offset in range(DAYS):
            day = first + timedelta(days=offset)
            for n in range(JOBS_PER_DAY):
                status = rng.choice(STATUSES)
                rows.append({
                    "company_id": company_id, "location_id": ids[n % LOCATIONS], "scheduled_date": day,
                    "external_id": f"j-{offset}-{n}", "customer_name": f"Customer {n}", "status": status,
                    "estimated_value_cents": rng.randint(45_000, 790_000),
                    "actual_charges_cents": rng.randint(40_000, 800_000) if status == "COMPLETED" else None,
                    "sync_status": "REMOVED" if rng.random() < 0.01 else "SYNCED",
                    "data_source": "SMARTMOVING", "dispatch_status": "UNASSIGNED",
                })
        with db.engine.begin() as conn:
            conn.execute(sa.insert(TruckJourney.__table__), rows)
        if db.engine.dialect.name == "postgresql":
            # Past days are settled rows that autovacuum has long visited: index-only scans apply.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM (ANALYZE) truck_journeys"))
    return admin_token, company_id, first


def measure(label, database_url, workdir, today):
    """(ours, plain) median seconds on one backend, and the answer's size."""
    from dashboard.db import db

    app = make_app(database_url, workdir / f"reports-{label}")
    try:
        token, company_id, first = fill(app, today)
        last = first + timedelta(days=DAYS - 1)
        client = app.test_client()
        with client.session_transaction() as session:
            # Signed in the way the session cookie carries it (the board bench does the same).
            session["_user_id"] = token
            session["_fresh"] = True
            session["login_at"] = session["last_seen"] = time.time()
        url = f"/api/smartmoving/summary?from={first.isoformat()}&to={last.isoformat()}"
        plain_sql = sa.text("SELECT scheduled_date, location_id, count(*) FROM truck_journeys "
                            "WHERE company_id = :c AND scheduled_date BETWEEN :a AND :b GROUP BY 1, 2")
        answer = client.get(url)
        assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
        body = answer.get_json()
        ours, plain = [], []
        with app.app_context():
            for _ in range(REPEATS):
                with Stopwatch() as sw:
                    response = client.get(url)
                    response.get_data()
                ours.append(sw.elapsed)
                with Stopwatch() as sw:
                    with db.engine.connect() as conn:
                        groups = conn.execute(plain_sql, {"c": company_id, "a": first, "b": last}).all()
                plain.append(sw.elapsed)
        return percentile(ours, 0.5), percentile(plain, 0.5), body, len(groups), min(ours), min(plain)
    finally:
        dispose(app)


def run(today, workdir):
    """The section's rows: SQLite always, PostgreSQL when reachable."""
    rows = []
    backends = [("SQLite", "sqlite:///" + str(workdir / "reports.sqlite"))]
    reason = postgres_reachable()
    if reason is None:
        backends.append(("PostgreSQL", PG_URL))
    for label, url in backends:
        ours, plain, body, groups, ours_best, plain_best = measure(label, url, workdir, today)
        rows.append(Row(
            "5", f"Summary API, {DAYS} days × {LOCATIONS} locations × {JOBS_PER_DAY} jobs/day "
                 f"({DAYS * JOBS_PER_DAY:,} jobs, {label}), admin, median of {REPEATS}",
            f"{seconds(ours)} (best {seconds(ours_best)}; {len(body['rows']):,} rows, "
            f"{body['totals']['jobs']:,} jobs counted)",
            f"{seconds(plain)} (best {seconds(plain_best)}; plain GROUP BY, {groups:,} groups)",
            ratio_text(ours, plain),
            f"≤ {seconds(TARGET_SECONDS)}", ours <= TARGET_SECONDS))
    rows[-1].notes.append(
        "Reports: both figures share the covering index ix_journey_reports (migration 0006), which the plain "
        "GROUP BY uses too. Ours is the whole HTTP answer through the test client (session, scope, the "
        "filtered sums, location names, ~600 KB of JSON); the limit is the bare statement's rows.")
    if reason is not None:
        rows[-1].notes.append(f"PostgreSQL row skipped: {reason}")
    return rows
