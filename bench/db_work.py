"""Item 3: the database work of a sync (normalize + upsert) against a raw DBAPI executemany upsert.

Inputs are sandbox payloads decoded up front (the HTTP client's work is not the
database's), so what is timed is exactly what a sync does with them:
`normalize.sweep_opportunities` page by page, `normalize.job_record` and
`external_data` per job, and `upsert.upsert_journeys` in the sync's batches of
WRITE_BATCH_OPPORTUNITIES opportunities, one short transaction each. The baseline
writes the very same rows with one `executemany` of
INSERT ... ON CONFLICT (company_id, external_id) DO UPDATE through the DBAPI.
"""
import gc
import json
import tempfile
import tracemalloc
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.common import PG_URL
from bench.common import TIMEZONE
from bench.common import Row
from bench.common import Stopwatch
from bench.common import counted_statements
from bench.common import dispose
from bench.common import make_app
from bench.common import postgres_reachable
from bench.common import ratio_text
from bench.common import seconds

JOBS = 10_000
MEMORY_JOBS = 100_000
PAGE_SIZE = 200
RATIO_TARGET = 3.0
ROUNDS = 3


def build_payloads(jobs, today, seed=11, with_details=True):
    """(sweep pages as JSON bytes, {opportunity id: detail dict}, branches, crew) for `jobs` jobs in [today, +1]."""
    from dashboard.sandbox.world import SandboxWorld

    tomorrow = today + timedelta(days=1)
    world = SandboxWorld(seed=seed, timezone=TIMEZONE, today=today, branches=66, jobs_per_day=jobs // 2,
                         days_before=0, days_after=1)
    pages, page = [], 1
    while True:
        total, items = world.customers_page(today, tomorrow, page, PAGE_SIZE)
        pages.append(json.dumps({"pageNumber": page, "pageResults": items}).encode())
        if page * PAGE_SIZE >= total:
            break
        page += 1
    details = {opp_id: world.opportunity_detail(opp_id) for opp_id in world.opportunity_ids_in_window(today, tomorrow)
               } if with_details else {}
    return pages, details, world.branches(), world.crew_members()


def sync_records(pages, details, start, end, crew_by_id, location_by_name):
    """[(records of one write batch)] exactly as Syncer.sweep + Syncer.store build them."""
    from dashboard.models import SyncStatus
    from dashboard.smartmoving import normalize
    from dashboard.sync.service import WRITE_BATCH_OPPORTUNITIES

    warnings = []
    opportunities = {}
    for customers in pages:
        opportunities.update(normalize.sweep_opportunities(customers, start, end, warnings))
    batches, batch = [], []
    for index, opportunity_id in enumerate(sorted(opportunities)):
        opportunity = opportunities[opportunity_id]
        detail = details[opportunity_id]
        for job in opportunity.jobs:
            record = normalize.job_record(opportunity, job, detail, crew_by_id, warnings)
            branch_name = record.pop("branch_name", None)
            record["external_data"] = normalize.external_data(opportunity, job, detail)
            record["sync_status"] = SyncStatus.SYNCED.value
            record["sync_error"] = None
            record["removed_at"] = None
            record["location_id"] = location_by_name.get((branch_name or "").strip().casefold())
            batch.append(record)
        if (index + 1) % WRITE_BATCH_OPPORTUNITIES == 0:
            batches.append(batch)
            batch = []
    if batch:
        batches.append(batch)
    return batches


def load_reference(app, company_id, branches, crew):
    """Store branches and crew the way a sync does; returns (crew_by_id, location_by_name)."""
    from dashboard.db import db
    from dashboard.models import CrewMember
    from dashboard.models import Location
    from dashboard.models import utcnow
    from dashboard.smartmoving import normalize
    from dashboard.sync import upsert

    with app.app_context():
        with db.write_transaction():
            upsert.upsert_locations(company_id, [normalize.branch_record(b) for b in branches], utcnow())
            upsert.upsert_crew(company_id, [normalize.crew_record(m) for m in crew], utcnow())
        crew_by_id = dict(db.session.execute(sa.select(CrewMember.external_id, CrewMember.name)).all())
        location_by_name = {name.strip().casefold(): location_id for location_id, name in
                            db.session.execute(sa.select(Location.id, Location.name))}
    return crew_by_id, location_by_name


def ours(app, company_id, pages, details, start, end, crew_by_id, location_by_name):
    """Normalize + upsert_journeys in the sync's batches; returns (seconds, normalize seconds, counts, statements)."""
    from dashboard.db import db
    from dashboard.models import utcnow
    from dashboard.sync import upsert

    totals = [0, 0, 0]
    with app.app_context():
        with counted_statements(db.engine) as log, Stopwatch() as total:
            with Stopwatch() as normalizing:
                batches = sync_records(pages, details, start, end, crew_by_id, location_by_name)
            for records in batches:
                with db.write_transaction():
                    counts = upsert.upsert_journeys(company_id, records, utcnow())
                totals = [a + b for a, b in zip(totals, counts)]
    return total.elapsed, normalizing.elapsed, tuple(totals), log, batches


def raw_rows(company_id, batches):
    """The rows upsert_journeys inserts, as plain tuples for the DBAPI, and their column names."""
    from dashboard.models import DataSource
    from dashboard.models import utcnow

    records = [record for batch in batches for record in batch]
    columns = sorted(set().union(*records))
    now = utcnow()
    names = columns + ["company_id", "data_source", "dispatch_status", "last_sync_at", "created_at"]
    fixed = (company_id, DataSource.SMARTMOVING.value, "UNASSIGNED", now, now)
    rows = [tuple(record.get(name) for name in columns) + fixed for record in records]
    return names, columns, rows


def raw_upsert(app, names, sync_columns, rows, batch_sizes=None):
    """DBAPI executemany of INSERT ... ON CONFLICT DO UPDATE for rows; returns seconds.

    One statement and one transaction for all rows, or with batch_sizes one of each
    per batch (the sync's short transactions, to tell their cost from our code's).
    """
    engine = app.extensions["sqlalchemy_engine"]
    sqlite = engine.dialect.name == "sqlite"
    json_columns = {i for i, name in enumerate(names) if name in ("external_data", "smartmoving_crew")}
    updates = ", ".join(f"{name} = excluded.{name}" for name in sync_columns + ["last_sync_at"] if name != "external_id")
    marks = ", ".join(["?" if sqlite else "%s"] * len(names))
    sql = (f"INSERT INTO truck_journeys ({', '.join(names)}) VALUES ({marks}) "
           f"ON CONFLICT (company_id, external_id) DO UPDATE SET {updates}")
    connection = engine.raw_connection()
    try:
        with Stopwatch() as watch:
            # Serialising JSON and dates is part of any writer's job, so it is inside the clock.
            prepared = [tuple(_dbapi_value(value, i in json_columns, sqlite) for i, value in enumerate(row))
                        for row in rows]
            cursor = connection.cursor()
            offset = 0
            for size in batch_sizes or [len(prepared)]:
                batch, offset = prepared[offset:offset + size], offset + size
                if sqlite:
                    cursor.execute("BEGIN IMMEDIATE")  # our engine runs sqlite3 in autocommit mode
                    cursor.executemany(sql, batch)
                    cursor.execute("COMMIT")
                else:
                    cursor.executemany(sql, batch)
                    connection.commit()
            cursor.close()
    finally:
        connection.close()
    return watch.elapsed


def _dbapi_value(value, is_json, sqlite):
    if is_json:
        return json.dumps(value) if value is not None else None
    if sqlite and hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    return value


def _empty_journeys(app):
    """Empty the jobs table; on PostgreSQL by TRUNCATE, so no dead rows skew the next round."""
    from dashboard.db import db

    with app.app_context():
        with db.write_transaction() as session:
            if db.engine.dialect.name == "postgresql":
                session.execute(sa.text("TRUNCATE truck_journeys RESTART IDENTITY CASCADE"))
            else:
                session.execute(sa.text("DELETE FROM truck_journeys"))


def _analyze(app):
    """Refresh the planner's statistics, as autovacuum has done by the time the next sync comes.

    Without them PostgreSQL plans `company_id = ? AND external_id IN (...)` on
    ix_journey_company_date and reads the company's every row per batch.
    """
    from dashboard.db import db

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("ANALYZE truck_journeys"))


def measure_backend(label, database_url, workdir, payloads, today, rounds=ROUNDS):
    """Rows for one database: first write, unchanged re-sync, and the re-sync's write statements.

    Each figure is the best of `rounds` (the machine may be busy with other work);
    ours and the baseline alternate so both see the same conditions.
    """
    from dashboard.db import db
    from dashboard.models import Company
    from dashboard.sync.service import WRITE_BATCH_OPPORTUNITIES

    pages, details, branches, crew = payloads
    pages = [json.loads(page)["pageResults"] for page in pages]  # the client's decoding is not DB work
    start, end = today, today + timedelta(days=1)
    app = make_app(database_url, workdir / f"instance-{label}")
    best = {}

    def keep(name, value):
        best[name] = min(best.get(name, value), value)

    try:
        with app.app_context():
            company_id = db.session.scalar(sa.select(Company.id).where(Company.is_default.is_(True)))
        crew_by_id, location_by_name = load_reference(app, company_id, branches, crew)
        args = (app, company_id, pages, details, start, end, crew_by_id, location_by_name)
        batches = sync_records(*args[2:])
        names, sync_columns, rows = raw_rows(company_id, batches)
        batch_sizes = [len(batch) for batch in batches]
        for _ in range(rounds):
            _empty_journeys(app)
            _analyze(app)
            gc.collect()
            cold, cold_normalize, cold_counts, _, _ = ours(*args)
            keep("cold", cold)
            keep("cold_normalize", cold_normalize)
            _analyze(app)
            gc.collect()
            again, again_normalize, again_counts, again_log, _ = ours(*args)
            keep("again", again)
            keep("again_normalize", again_normalize)
            _empty_journeys(app)
            _analyze(app)
            gc.collect()
            keep("raw_cold", raw_upsert(app, names, sync_columns, rows))
            _analyze(app)
            gc.collect()
            keep("raw_again", raw_upsert(app, names, sync_columns, rows))
            _empty_journeys(app)
            _analyze(app)
            gc.collect()
            keep("raw_batched", raw_upsert(app, names, sync_columns, rows, batch_sizes))
    finally:
        dispose(app)

    jobs = len(rows)
    written = sum(again_log.write_rows.get(t, 0) for t in again_log.writes)
    cold, raw_cold, again, raw_again = best["cold"], best["raw_cold"], best["again"], best["raw_again"]
    return [
        Row("3", f"DB work, first sync of {jobs:,} jobs ({label}): normalize + upsert vs raw executemany upsert",
            f"{seconds(cold)} (normalize {seconds(best['cold_normalize'])}; {cold_counts[0]:,} inserted)",
            seconds(raw_cold), ratio_text(cold, raw_cold), f"≤ {RATIO_TARGET:g}×", cold / raw_cold <= RATIO_TARGET,
            [f"{label}: the same raw upsert split into the sync's {len(batch_sizes)} short transactions "
             f"(one per {WRITE_BATCH_OPPORTUNITIES} opportunities) takes {seconds(best['raw_batched'])}, so "
             f"{ratio_text(best['raw_batched'], raw_cold)} is the price of short transactions and "
             f"{ratio_text(cold, best['raw_batched'])} that of our code (normalize, SELECT of stored rows, "
             f"comparison, SQLAlchemy). Figures are the best of {rounds} rounds."]),
        Row("3", f"DB work, re-sync of the same {jobs:,} unchanged jobs ({label})",
            f"{seconds(again)} (normalize {seconds(best['again_normalize'])}; {again_counts[2]:,} unchanged)",
            f"{seconds(raw_again)} (raw rewrites all {jobs:,})", ratio_text(again, raw_again),
            f"≤ {RATIO_TARGET:g}×", again / raw_again <= RATIO_TARGET),
        Row("3", f"Rows written by that unchanged re-sync ({label})",
            f"{written} rows, {sum(again_log.writes.values())} write statements "
            f"({again_log.statements} statements in all: SELECTs)",
            "0", "—", "0 writes", written == 0 and not again_log.writes),
    ]


def sweep_memory(jobs, today):
    """tracemalloc peak (bytes) of normalizing a jobs-job sweep page by page, holding what Syncer.sweep holds."""
    from dashboard.smartmoving import normalize

    pages, _, _, _ = build_payloads(jobs, today, seed=23, with_details=False)
    start, end = today, today + timedelta(days=1)
    gc.collect()
    tracemalloc.start()
    try:
        opportunities, warnings = {}, []
        for page in pages:
            customers = json.loads(page)["pageResults"]  # the client's decoded page: alive one page at a time
            opportunities.update(normalize.sweep_opportunities(customers, start, end, warnings))
            del customers
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    counted = sum(len(o.jobs) for o in opportunities.values())
    return peak, held, counted, len(pages)


def run(today, workdir=None):
    """All item-3 rows."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix="bench-db-"))
    payloads = build_payloads(JOBS, today)
    rows = measure_backend("SQLite", "sqlite:///" + str(workdir / "db.sqlite"), workdir, payloads, today)
    unreachable = postgres_reachable()
    if unreachable is None:
        rows += measure_backend("PostgreSQL", PG_URL, workdir, payloads, today)
    else:
        rows.append(Row("3", "DB work on PostgreSQL", "skipped", "—", "—", f"≤ {RATIO_TARGET:g}×", None,
                        [f"PostgreSQL at {PG_URL} is unreachable ({unreachable})."]))

    small_peak, _, small_jobs, _ = sweep_memory(JOBS, today)
    peak, held, counted, page_count = sweep_memory(MEMORY_JOBS, today)
    per_job = peak / counted
    rows.append(Row(
        "3", f"Peak memory normalizing a {counted:,}-job sweep page by page ({page_count} pages, what Syncer.sweep holds)",
        f"{peak / 2**20:.0f} MiB ({per_job / 1024:.1f} KiB/job)",
        f"{small_peak / 2**20:.0f} MiB × {counted // small_jobs} for {small_jobs:,} jobs",
        ratio_text(peak, small_peak * counted / small_jobs), "linear in jobs, not pages", None,
        [f"Syncer.sweep keeps every in-window opportunity, with its raw sweep JSON (for external_data), until the "
         f"run ends: {held / 2**20:.0f} MiB is still held after the last page, so the peak is that dict, not a "
         f"page. It grows with the window's jobs (~{per_job / 1024:.1f} KiB each) and not with the page count: "
         f"bounded for a today+tomorrow window, not constant."]))
    return rows
