"""Item 4: the today board's htmx partial on gunicorn with 8 clients, at 500 and 2,000 jobs, against the bare render.

Each size gets its own SQLite database filled directly (a synced-looking company:
locations, trucks, crews, spans, money, a third of the jobs dispatched, a few clashes
and cancellations, a year of sync runs), an admin who sees everything, and a gunicorn subprocess with the
repository's gunicorn.conf.py on a free 127.0.0.1 port. The bench signs in through
the real login form, then measures three ways of asking for the partial:

- after a change: a writer edits one job, then the 8 clients at once ask for 8 different
  boards (an unused ?_n= each, so no rendered partial is shared): every answer is a changed
  board, and each process reads the changed day once for all of its askers;
- changed: a writer edits one job's dispatch every 250 ms while the 8 clients poll with
  their last ETag, as open boards do; the 200s are changed boards (most served from
  the render cache by then), the 304s unchanged ones;
- polled: nothing changes, If-None-Match -> 304.
"""
import gc
import http.client
import os
import random
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import requests
import sqlalchemy as sa

from bench.common import TIMEZONE
from bench.common import Row
from bench.common import Stopwatch
from bench.common import counted_statements
from bench.common import dispose
from bench.common import make_app
from bench.common import percentile
from bench.common import ratio_text

ROOT = Path(__file__).resolve().parent.parent
EMAIL = "bench-admin@example.test"
PASSWORD = "bench-password-123"
SIZES = (2000, 8000)
CONCURRENCY = 8
WORKERS = 2
THREADS = 4
REQUESTS = {500: 240, 2000: 120, 8000: 48}
# 304s are cheap: enough of them that their p99 is not the third-slowest of a few hundred.
POLLS = 1000
# A year of runs at Premium's 10-minute reconciliation cadence.
HISTORY_RUNS = 52_560
# Issue 20 §16: the partial right after a change, p99; a 304 poll within POLL_RATIO × /healthz's p99
# from the same clients in the same run.
TARGETS = {500: 0.100, 2000: 0.100, 8000: 0.250}
POLL_RATIO = 2.0
# Issue 20 §14: "show all" views whose partials a worker renders (each URL its own) before its RSS is read.
SHOW_ALL_VIEWS = 48
MEMORY_SIZE = 8000
WRITE_EVERY = 0.25
# One browser signs in and polls: the same User-Agent throughout, or Flask-Login's session
# protection sees another device on every poll and rewrites the session cookie each time.
USER_AGENT = "bench-board/1"
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
FIRST = ("Ann", "Bob", "Cy", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jon", "Kim", "Lou", "Mo", "Ned", "Oli", "Pam")
LAST = ("Lifter", "Carrier", "Strong", "Packer", "Driver", "Mover", "Hauler", "Boxer")
WINDOWS = ((8.0, "8:00 AM - 10:00 AM"), (9.0, "9:00 AM - 11:00 AM"), (10.5, "10:30 AM - 12:30 PM"),
           (12.0, "12:00 PM - 2:00 PM"), (13.5, "1:30 PM - 3:30 PM"), (15.0, "3:00 PM - 5:00 PM"))


def raw_json(n):
    """SmartMoving's raw JSON as a synced job keeps it (~4 KB): it makes rows spill over pages, as real ones do."""
    return {"customer": {"id": f"cust-{n}", "name": f"Customer {n}", "emailAddress": f"c{n}@example.test"},
            "opportunity": {"id": f"opp-{n}", "quoteNumber": 100000 + n, "notes": "Fragile items; " * 40,
                            "jobs": [{"id": f"job-{n}", "jobNumber": f"{100000 + n}-1",
                                      "inventory": [{"name": f"Box {i}", "cubicFeet": 3.0, "weight": 25}
                                                    for i in range(60)]}]}}


def fill_database(path, jobs, today, seed=8):
    """A fresh SQLite database at path with jobs jobs today; returns the admin's email."""
    from dashboard.auth.users import create_user
    from dashboard.db import db
    from dashboard.models import Company
    from dashboard.models import CrewMember
    from dashboard.models import Location
    from dashboard.models import Truck
    from dashboard.models import TruckJourney

    rng = random.Random(seed)
    app = make_app("sqlite:///" + str(path), path.parent / f"instance-{jobs}")
    try:
        with app.app_context():
            company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
            locations = [Location(company_id=company.id, name=f"Branch {n:02d}", external_id=f"br-{n}",
                                  data_source="SMARTMOVING") for n in range(max(8, jobs // 30))]
            db.session.add_all(locations)
            db.session.flush()
            trucks = [Truck(company_id=company.id, location_id=loc.id, name=f"Truck {i:03d}")
                      for i, loc in enumerate(locations * 3, start=101)]
            db.session.add_all(trucks)
            # Enough people that crews rarely overlap (as on a real day), plus a deliberate clash every 50 jobs.
            names = [f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]} {i // 128 or ''}".strip()
                     for i in range(jobs * 3)]
            db.session.add_all(CrewMember(company_id=company.id, external_id=f"c{i}", name=name, status="ACTIVE")
                               for i, name in enumerate(names))
            db.session.flush()
            start_of_day = datetime.combine(today, datetime.min.time())
            for n in range(jobs):
                location = locations[n % len(locations)]
                hour, window = rng.choice(WINDOWS)
                crew = names[3 * n:3 * n + rng.choice((0, 2, 2, 3, 3))]
                if n % 50 == 49 and crew:
                    crew[0] = names[3 * (n - 1)]
                dispatched = n % 3 == 0
                status = "CANCELLED" if n % 40 == 0 else rng.choice(("BOOKED", "CONFIRMED", "CONFIRMED"))
                db.session.add(TruckJourney(
                    company_id=company.id, location_id=location.id, scheduled_date=today, external_id=f"job-{n}",
                    opportunity_external_id=f"opp-{n}", job_number=f"{100000 + n}-1", quote_number=f"{100000 + n}",
                    customer_name=f"{rng.choice(FIRST)}a {rng.choice(LAST)}son",
                    customer_phone=f"416555{n % 10000:04d}",
                    customer_email=f"c{n}@example.test", estimated_value_cents=rng.randint(40000, 900000),
                    origin_address=f"{rng.randint(1, 2999)} King St W, Toronto, ON M5V 1A1",
                    destination_address=f"{rng.randint(1, 2999)} Queen St E, Mississauga, ON L5B 1A1",
                    arrival_window=window, arrival_start_hour=hour,
                    span_start=start_of_day + timedelta(hours=hour),
                    span_end=start_of_day + timedelta(hours=hour + rng.choice((3, 4, 5, 6))),
                    smartmoving_crew=crew or None, status=status, last_sync_at=datetime(2026, 1, 1),
                    truck_id=trucks[(n // 3) % len(trucks)].id if dispatched else None,
                    crew=(crew or None) if dispatched else None,
                    dispatch_status="ASSIGNED" if dispatched and crew else "UNASSIGNED",
                    notes="Piano; call ahead" if n % 7 == 0 else None, external_data=raw_json(n)))
            create_user(EMAIL, PASSWORD, "ADMIN", company, full_name="Bench Admin")
            db.session.commit()
            add_sync_history(company.id, today)
    finally:
        dispose(app)


def add_sync_history(company_id, today):
    """A year of sync runs, as a company in its second year has kept them: every poll asks for the newest."""
    from dashboard.db import db
    from dashboard.models import SyncRun

    newest = datetime.combine(today, datetime.min.time()) - timedelta(hours=1)
    every = timedelta(days=365) / HISTORY_RUNS
    db.session.execute(sa.insert(SyncRun), [
        dict(company_id=company_id, trigger="scheduled", window_start=(newest - n * every).date(),
             window_end=(newest - n * every).date() + timedelta(days=1), status="FAILED" if n % 50 == 49 else "SUCCESS",
             started_at=newest - n * every - timedelta(seconds=40), finished_at=newest - n * every, pages_fetched=5)
        for n in range(HISTORY_RUNS)])
    db.session.commit()


def free_port():
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(database_path, workdir, database_url=None):
    """gunicorn with the repository's config on a loopback port; returns (process, base URL).
    database_url (e.g. PostgreSQL's) replaces the SQLite file at database_path, whose name still names the log."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTMOVING_", "GUNICORN_"))}
    env.update({
        "DATABASE_URL": database_url or "sqlite:///" + str(database_path), "SECRET_KEY": "bench-secret-key",
        "SYNC_INTERVAL_MINUTES": "0", "DASHBOARD_TIMEZONE": TIMEZONE, "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(WORKERS), "GUNICORN_THREADS": str(THREADS), "GUNICORN_ACCESS_LOG": os.devnull,
    })
    log = open(Path(workdir) / f"gunicorn-{Path(database_path).stem}.log", "wb")
    # No control socket: its default path is shared by every gunicorn of this user.
    process = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "--no-control-socket", "wsgi:app"],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}; see {log.name}")
        try:
            if requests.get(base + "/auth/login", timeout=10).status_code == 200:
                return process, base
        except requests.RequestException:  # not listening yet, or busy starting (a loaded machine)
            time.sleep(0.2)
    stop_gunicorn(process)
    raise RuntimeError(f"gunicorn did not answer within 60 s; see {log.name}")


def stop_gunicorn(process):
    """Stop the gunicorn master we started (it stops its workers)."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def sign_in(base):
    """The cookies of a session signed in through the real login form."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    page = session.get(base + "/auth/login", timeout=10)
    token = _CSRF.search(page.text)
    if token is None:
        raise RuntimeError("the login page carries no csrf_token field")
    answer = session.post(base + "/auth/login", data={"csrf_token": token.group(1), "email": EMAIL,
                                                       "password": PASSWORD, "next": ""}, timeout=10,
                          allow_redirects=False)
    if answer.status_code not in (302, 303):
        raise RuntimeError(f"sign-in failed with {answer.status_code}")
    return session.cookies


class Clients:
    """CONCURRENCY threads, each with its own keep-alive connection and the ETag it last saw.

    Plain http.client, not requests: the load generator shares the 2 CPUs with the server
    it measures, and requests costs several times more CPU per call.
    """

    def __init__(self, base, cookies):
        self.host, self.port = base.removeprefix("http://").rsplit(":", 1)
        self.cookie = "; ".join(f"{cookie.name}={cookie.value}" for cookie in cookies)
        self.local = threading.local()
        self.connections = []
        self.pool = ThreadPoolExecutor(CONCURRENCY)   # the same threads, so the same connections, throughout

    def get(self, path, conditional, marker=b"board-live"):
        """(status, seconds, bytes) of one GET of path (whose 200 body must hold marker).

        conditional sends the thread's last ETag.
        """
        local = self.local
        if getattr(local, "connection", None) is None:
            local.connection = http.client.HTTPConnection(self.host, int(self.port), timeout=60)
            local.etag = None
            self.connections.append(local.connection)
        headers = {"HX-Request": "true", "HX-Trigger": "board-live", "Cookie": self.cookie, "User-Agent": USER_AGENT}
        if conditional and local.etag:
            headers["If-None-Match"] = local.etag
        started = time.perf_counter()
        try:
            local.connection.request("GET", path, headers=headers)
            response = local.connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):
            # gunicorn closes a keep-alive connection idle past its keepalive (slow 8,000-job answers
            # leave some threads idle that long): open it again, as a browser does, and time from there.
            local.connection.close()
            local.connection = http.client.HTTPConnection(self.host, int(self.port), timeout=60)
            self.connections.append(local.connection)
            started = time.perf_counter()
            local.connection.request("GET", path, headers=headers)
            response = local.connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        if response.status not in (200, 304) or (response.status == 200 and marker not in body):
            raise RuntimeError(f"{path} answered {response.status} ({len(body)} bytes)")
        local.etag = response.getheader("ETag") or local.etag
        return response.status, elapsed, len(body)

    def run(self, paths, conditional, marker=b"board-live"):
        """GET every path from CONCURRENCY threads; returns {status: [seconds]} and the median 200 size."""
        results = {}
        sizes = []
        for status, elapsed, size in self.pool.map(lambda p: self.get(p, conditional, marker), paths):
            results.setdefault(status, []).append(elapsed)
            if status == 200:
                sizes.append(size)
        return results, (statistics.median(sizes) if sizes else 0)

    def close(self):
        self.pool.shutdown()
        for connection in self.connections:
            connection.close()


class Writer(threading.Thread):
    """Edits one job's dispatch every WRITE_EVERY seconds (as a dispatcher elsewhere would) until stopped."""

    def __init__(self, database_path):
        super().__init__(daemon=True)
        self.database_path, self.stop_event, self.writes = database_path, threading.Event(), 0

    def run(self):
        while not self.stop_event.wait(WRITE_EVERY):
            self.edit()

    def edit(self):
        """One dispatch edit, committed (as the dispatch form writes it: notes and the edit time)."""
        connection = sqlite3.connect(self.database_path, timeout=30)
        try:
            connection.execute("UPDATE truck_journeys SET notes = ?, dispatch_updated_at = ? WHERE id = ?",
                               (f"edit {self.writes}", datetime.utcnow().isoformat(sep=" "), 1 + self.writes % 50))
            connection.commit()
            self.writes += 1
        finally:
            connection.close()


def bare_render(database_path, today, workdir, repeat=15):
    """In-process medians: the board's context from a first read of the day (cold), right after one job
    changed (only that job read again), for another view of the same day (cut from the read), and
    rendering its template from memory."""
    from flask import render_template
    from flask_login import login_user

    from dashboard.db import db
    from dashboard.jobs import day_snapshot
    from dashboard.jobs.views import _board_context
    from dashboard.models import User

    app = make_app("sqlite:///" + str(database_path), Path(workdir) / "instance-bare")
    timings = {"cold": [], "build": [], "cut": [], "render": []}
    writer = Writer(database_path)
    statements = {}
    try:
        with app.app_context():
            user = db.session.scalar(sa.select(User).where(User.email == EMAIL))
            with app.test_request_context("/"):
                login_user(user)
                context = _board_context(today, "jobs.today")
                render_template("jobs/_board.html", **context)  # compile once
                for _ in range(repeat):
                    db.session.commit()   # each step reads in a new transaction (and sees the last edit)
                    day_snapshot.forget()
                    with Stopwatch() as watch:
                        _board_context(today, "jobs.today")
                    timings["cold"].append(watch.elapsed)
                    writer.edit()
                    db.session.commit()
                    with Stopwatch() as watch:
                        _board_context(today, "jobs.today")
                    timings["build"].append(watch.elapsed)
                    db.session.commit()
                    with Stopwatch() as watch:
                        context = _board_context(today, "jobs.today")
                    timings["cut"].append(watch.elapsed)
                    with Stopwatch() as watch:
                        render_template("jobs/_board.html", **context)
                    timings["render"].append(watch.elapsed)
                rows = len(context["board"].rows)
                for name, prepare in (("cold", day_snapshot.forget), ("build", writer.edit)):
                    db.session.commit()
                    prepare()
                    with counted_statements(db.engine) as log:
                        _board_context(today, "jobs.today")
                    statements[name] = log.statements
    finally:
        dispose(app)
    return {name: statistics.median(values) for name, values in timings.items()} | {"rows": rows,
                                                                                    "statements": statements}


def measure(size, today, workdir):
    """The rows of one board size."""
    database_path = Path(workdir) / f"board-{size}.sqlite"
    fill_database(database_path, size, today)
    bare = bare_render(database_path, today, workdir)
    process, base = start_gunicorn(database_path, workdir)
    clients = Clients(base, sign_in(base))
    count = REQUESTS[size]
    writer = Writer(database_path)
    try:
        clients.run(["/"] * CONCURRENCY * 2, conditional=False)  # warm-up: imports, first renders
        # and one unmeasured round of what is measured below: a worker's first round after its cold read of the
        # day pays one-off costs (the collector's first full pass over that read, first use of the incremental
        # read's statements; up to ~370 ms at 2,000 jobs in one run), which are not what a change costs.
        writer.edit()
        clients.run([f"/?_n=warm-{n}" for n in range(CONCURRENCY)], conditional=False)
        # The floor of this set-up: the same clients and server answering the liveness probe (no database).
        floor, _ = clients.run(["/healthz"] * POLLS, conditional=False, marker=b"ok")
        after_change, after_size = {200: []}, 0
        for round_number in range(count // CONCURRENCY):
            writer.edit()
            answers, after_size = clients.run([f"/?_n={round_number}-{n}" for n in range(CONCURRENCY)],
                                              conditional=False)
            after_change[200].extend(answers[200])
        writer.start()
        try:
            changed, _ = clients.run(["/"] * (count * 2), conditional=True)
        finally:
            writer.stop_event.set()
            writer.join()
        clients.run(["/"] * CONCURRENCY, conditional=False)  # every thread holds the current ETag
        polled, _ = clients.run(["/"] * POLLS, conditional=True)
        memory = show_all_memory(process, clients) if size == MEMORY_SIZE else None
    finally:
        clients.close()
        stop_gunicorn(process)

    setup = f"gunicorn gthread {WORKERS}×{THREADS}, {CONCURRENCY} clients, {os.cpu_count()} CPUs"
    bare_text = f"bare render {bare['render'] * 1000:.1f} ms ({bare['rows']} rows)"
    target = TARGETS[size]
    rows = []
    floor_p99 = percentile(floor[200], 0.99)
    floor_text = (f"/healthz from the same clients, same run: p99 {floor_p99 * 1000:.1f} ms, median "
                  f"{statistics.median(floor[200]) * 1000:.1f} ms")
    samples = after_change[200]
    p99, median = percentile(samples, 0.99), statistics.median(samples)
    rows.append(Row("4", f"Board partial, {size} jobs, admin, right after a job changed: {CONCURRENCY} different "
                         f"boards asked for at once ({len(samples) // CONCURRENCY} rounds, {len(samples)} GETs, "
                         f"none served from the render cache; {setup})",
                    f"p99 {p99 * 1000:.0f} ms, median {median * 1000:.0f} ms ({after_size / 1024:.0f} KiB)",
                    f"{bare_text}; {floor_text}",
                    f"{ratio_text(p99, floor_p99)} of /healthz (p99)",
                    f"p99 ≤ {target * 1000:.0f} ms", p99 <= target))
    fresh = changed.get(200, [])
    fresh_p99 = percentile(fresh, 0.99) if fresh else float("nan")
    rows.append(Row("4", f"Board partial, {size} jobs, admin, as polled while a job changes every "
                         f"{WRITE_EVERY * 1000:.0f} ms ({len(fresh)} changed, {len(changed.get(304, []))} unchanged "
                         f"answers; {setup})",
                    f"changed: p99 {fresh_p99 * 1000:.0f} ms, median {statistics.median(fresh) * 1000:.0f} ms; "
                    + (f"unchanged 304: p99 {percentile(changed[304], 0.99) * 1000:.0f} ms" if changed.get(304)
                       else "no unchanged answer (the board changed between every two polls)"),
                    bare_text, f"{ratio_text(fresh_p99, bare['render'])} (p99)", f"p99 ≤ {target * 1000:.0f} ms",
                    fresh_p99 <= target))
    polls = polled.get(304, [])
    poll_p99 = percentile(polls, 0.99)
    rows.append(Row("4", f"Board partial, {size} jobs, poll of an unchanged board: If-None-Match → 304 "
                         f"({len(polls)} GETs; {setup})",
                    f"p99 {poll_p99 * 1000:.1f} ms, median {statistics.median(polls) * 1000:.1f} ms",
                    f"/healthz (no database) from the same clients: p99 {floor_p99 * 1000:.1f} ms, median "
                    f"{statistics.median(floor[200]) * 1000:.1f} ms",
                    f"{ratio_text(poll_p99, floor_p99)} (p99)", f"p99 ≤ {POLL_RATIO:.0f}× /healthz",
                    poll_p99 <= POLL_RATIO * floor_p99))
    if memory is not None:
        before, after, budget = memory
        rows.append(Row("4", f"Worker memory, {size} jobs: RSS of the busiest gunicorn worker before and after "
                             f"{SHOW_ALL_VIEWS} different \"show all\" partials (?all=1, each its own URL; "
                             f"CACHE_MAX_MB={budget})",
                        f"{before:.0f} → {after:.0f} MiB (+{after - before:.0f} MiB)",
                        f"{2 * budget} MiB growth (2 × CACHE_MAX_MB: the caches and the allocator's slack)",
                        ratio_text(after - before, 2 * budget), f"growth ≤ {2 * budget} MiB",
                        after - before <= 2 * budget))
    rows[0].notes.append(
        f"At {size} jobs, in-process: the board's context from a first read of the day (its jobs, clashes, rows "
        f"as strings) takes {bare['cold'] * 1000:.1f} ms and {bare['statements']['cold']} SQL statements; right "
        f"after one job changed (that job read again, the rest carried over) {bare['build'] * 1000:.1f} ms and "
        f"{bare['statements']['build']} statements; another view of the same day, cut from that read, "
        f"{bare['cut'] * 1000:.1f} ms; rendering the template {bare['render'] * 1000:.1f} ms (the bare render). "
        f"A request also pays sign-in checks and the version query, with {CONCURRENCY} clients sharing "
        f"{os.cpu_count()} CPUs.")
    return rows


def worker_rss(master):
    """{pid: RSS in MiB} of the gunicorn master's workers (Linux /proc; {} elsewhere)."""
    found = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:   # a process that ended while we looked
            continue
        if fields.get("PPid", "").strip() == str(master.pid) and "VmRSS" in fields:
            found[int(status.parent.name)] = int(fields["VmRSS"].split()[0]) / 1024
    return found


def show_all_memory(master, clients):
    """(MiB before, MiB after, CACHE_MAX_MB): the busiest worker's RSS around SHOW_ALL_VIEWS "show all" partials."""
    from dashboard.config import DEFAULTS

    before = max(worker_rss(master).values(), default=0.0)
    paths = [f"/?all=1&_n=memory-{n}" for n in range(SHOW_ALL_VIEWS)]
    clients.run(paths, conditional=False)
    after = max(worker_rss(master).values(), default=0.0)
    return before, after, int(os.environ.get("CACHE_MAX_MB") or DEFAULTS["CACHE_MAX_MB"])


def run(today, workdir=None, database_path=None):
    """Item 4 rows (database_path, item 1's synced database, is not needed: each size is filled directly)."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix="bench-board-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    # The load generator runs in this process, which earlier items filled with big heaps: its own
    # garbage collector's full passes must not count as the server's latency (or the in-process
    # timings'), so what exists now is frozen out of them, as each gunicorn worker does at start.
    gc.collect()
    gc.freeze()
    try:
        for size in SIZES:
            rows += measure(size, today, workdir)
    finally:
        gc.unfreeze()
    rows[0].notes.insert(0, (
        "⁴ Each gunicorn process keeps one read of the company's day per data version (its jobs and clashes; "
        "every role, filter, sort and page is cut from it) and the rendered partials by (version, role and "
        "locations, URL); a change of any job of the day, a sync or a location moves the version, and the next "
        "read takes only the jobs whose stamps moved from the database. Each worker freezes what it loaded at "
        "start out of the garbage collector's passes (gunicorn.conf.py). The company has kept a year of sync "
        f"runs ({HISTORY_RUNS:,}, every 10 minutes): a poll finds the newest through an index (migration 0008), "
        "not by reading them all. Right after a "
        "change = 8 different boards at once, each a changed board; as polled = what 8 open boards see while "
        "someone edits a job 4 times a second; 304 = a poll of an unchanged board."))
    rows[0].measure += "⁴"
    return rows
