"""What the tests share that is not a fixture: an app per database, signing in, CSRF tokens, SQL capture.

Fixtures live in conftest.py files only; test modules import these helpers as
`from tests.support import ...` (and the neighbours: tests.support.ui, .browser, .drills, ...).
"""
import contextlib
import os
import re
import time

# A developer's real settings must never leak into the tests (popped before the app is imported).
for _name in ("SMARTMOVING_API_KEY", "SMARTMOVING_CLIENT_ID", "SMARTMOVING_BASE_URL", "DATABASE_URL",
              "SECRET_KEY", "SYNC_INTERVAL_MINUTES", "DASHBOARD_TIMEZONE"):
    os.environ.pop(_name, None)

import sqlalchemy as sa  # noqa: E402

from dashboard import create_app  # noqa: E402
from dashboard.db import Base  # noqa: E402
from dashboard.db import db  # noqa: E402
from dashboard.schema import ensure_default_company  # noqa: E402

PASSWORD = "correct-horse-battery"


def worker_database_url(url, worker):
    """url with the pytest-xdist worker's suffix on its database name (dashboard_ci -> dashboard_ci_gw0).

    Each worker empties and rebuilds its tables around every test, so two workers must never share a
    database; outside xdist (worker None or "") the url is used as it is."""
    if not url or not worker:
        return url
    parsed = sa.engine.make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


PG_BASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
PG_URL = worker_database_url(PG_BASE_URL, os.environ.get("PYTEST_XDIST_WORKER"))
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
_pg_schema_ready = set()


def ensure_database(url, admin_url):
    """Create url's database on the server of admin_url (a database that exists) unless it is there already.

    The workers of one run create theirs at the same moment; CREATE DATABASE copies template1 and
    refuses while another session is copying it, so a refusal is tried again a few times."""
    name = sa.engine.make_url(url).database
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        for attempt in range(20):
            with engine.connect() as conn:
                if conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}):
                    return
                try:
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
                    return
                except sa.exc.DBAPIError:
                    if attempt == 19:
                        raise
            time.sleep(0.1 * (attempt + 1))
    finally:
        engine.dispose()


def ensure_worker_database():
    """An xdist worker's own PostgreSQL database exists (tests/conftest.py calls this as the session starts)."""
    if PG_URL and PG_URL != PG_BASE_URL:
        ensure_database(PG_URL, PG_BASE_URL)


def _prepare_postgres(url):
    """Create the schema once per run, then empty every table before each test."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        if url not in _pg_schema_ready:
            Base.metadata.drop_all(conn)
            conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
            Base.metadata.create_all(conn)
            _pg_schema_ready.add(url)
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


def database_url_for(backend, tmp_path):
    """A fresh, empty database URL for backend."""
    if backend == "postgresql":
        _prepare_postgres(PG_URL)
        return PG_URL
    return "sqlite:///" + str(tmp_path / "test.sqlite")


def make_test_app(database_url, tmp_path, **overrides):
    """An app in test mode on database_url with its schema and default company."""
    config = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SYNC_INTERVAL_MINUTES": 0,
        "SMARTMOVING_MIN_INTERVAL": 0,
        "SECRET_KEY": "test-secret",
        "DEMO_HISTORY_DAYS": 0,  # seed_demo's weeks of history: only the tests that want it pay for it
    }
    config.update(overrides)
    app = create_app(config)
    with app.app_context():
        if database_url.startswith("sqlite"):
            db.create_all()
        ensure_default_company(app)
    return app



def forget_postgres_schema(url):
    """The next database_url_for(url) rebuilds the schema (a test dropped its tables)."""
    _pg_schema_ready.discard(url)


def login_as(client, user):
    """Sign client in as user without the form (the auth tests drive the real form)."""
    with client.session_transaction() as session:
        session["_user_id"] = user.session_token
        session["_fresh"] = True
        session["login_at"] = time.time()
        session["last_seen"] = time.time()


def sign_in(client, email, password=PASSWORD, next_url=None, remote_addr="10.0.0.1"):
    """Sign in through the real form (GET it for its CSRF token, then POST)."""
    page = client.get("/auth/login" + (f"?next={next_url}" if next_url else ""))
    token = csrf_token_from(page.get_data(as_text=True))
    data = {"email": email, "password": password, "csrf_token": token}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/auth/login", data=data, environ_base={"REMOTE_ADDR": remote_addr})


_CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"|name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token_from(html):
    """Pull a CSRF token out of a rendered page (meta tag or hidden input)."""
    match = _CSRF_RE.search(html)
    assert match, "page carries no CSRF token"
    return match.group(1) or match.group(2)


def is_write(statement):
    """True for SQL that changes rows."""
    return statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))


@contextlib.contextmanager
def statements_sent(engine, keep=lambda statement: True):
    """The SQL statements sent to engine inside the block (those keep accepts), in order."""
    sent = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        if keep(statement):
            sent.append(statement)

    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)
