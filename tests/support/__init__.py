"""What the tests share that is not a fixture: an app per database, signing in, CSRF tokens, SQL capture.

Fixtures live in conftest.py files only; test modules import these helpers as
`from tests.support import ...` (and the neighbours: tests.support.ui, .browser, .drills, ...).
"""
import atexit
import contextlib
import os
import pathlib
import re
import shutil
import tempfile
import time

# A developer's real settings must never leak into the tests (popped before the app is imported).
for _name in ("SMARTMOVING_API_KEY", "SMARTMOVING_CLIENT_ID", "SMARTMOVING_BASE_URL", "DATABASE_URL",
              "SECRET_KEY", "SYNC_INTERVAL_MINUTES", "DASHBOARD_TIMEZONE"):
    os.environ.pop(_name, None)

import sqlalchemy as sa  # noqa: E402

from dashboard import create_app  # noqa: E402
from dashboard.auth import passwords  # noqa: E402
from dashboard.auth import users as auth_users  # noqa: E402
from dashboard.db import Base  # noqa: E402
from dashboard.db import db  # noqa: E402
from dashboard.schema import ensure_default_company  # noqa: E402
from tests.support.compile_cache import TEMPLATE_CODE  # noqa: E402
from tests.support.compile_cache import cache_url_builders  # noqa: E402

# Every app of the run shares its compiled URL builders (tests/support/compile_cache.py).
cache_url_builders()

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
_pg_schema_ready = {}   # url -> how many tables of the models its schema was built with


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


_pg_engines = {}
# Every sequence of the schema back to 1, as TRUNCATE ... RESTART IDENTITY would (tests may count on id 1).
_RESTART_SEQUENCES = ("SELECT setval(c.oid, 1, false) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                      "WHERE c.relkind = 'S' AND n.nspname = current_schema()")


def _postgres_engine(url):
    """One engine per PostgreSQL URL for the run's schema work (a fresh connection per test costs more)."""
    if url not in _pg_engines:
        _pg_engines[url] = sa.create_engine(url, pool_pre_ping=True)
    return _pg_engines[url]


def _prepare_postgres(url):
    """Create the schema once per run, then empty every table before each test.

    A DELETE per table (children first) and a reset of the sequences leave the same empty tables
    as TRUNCATE ... RESTART IDENTITY CASCADE at a fraction of its cost on tables that hold a few
    rows (TRUNCATE makes new files for every table). Should a row outside the models' tables
    still point at one of them, the DELETEs fail and the TRUNCATE does the work."""
    engine = _postgres_engine(url)
    tables = Base.metadata.sorted_tables
    if _pg_schema_ready.get(url) != len(tables):
        with engine.begin() as conn:
            if url not in _pg_schema_ready:
                # Every table, also those of models this run has not imported (a run of one file after a full run).
                leftovers = conn.scalars(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
                for name in list(leftovers):
                    conn.execute(sa.text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))
                Base.metadata.drop_all(conn)   # and the enum types the models made
            # A test module may import a feature's models after the first build: their tables are added.
            Base.metadata.create_all(conn)
        _pg_schema_ready[url] = len(tables)
    deletes = "; ".join(f'DELETE FROM "{table.name}"' for table in reversed(tables))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"{deletes}; {_RESTART_SEQUENCES}")
    except sa.exc.IntegrityError:
        names = ", ".join(f'"{table.name}"' for table in tables)
        with engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


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
    app = create_app(config)   # it imports every feature's models: the schema is whole only from here on
    app.jinja_env.bytecode_cache = TEMPLATE_CODE   # templates compiled once per run (compile_cache.py)
    copied = _copy_sqlite_template(database_url)
    with app.app_context():
        if database_url.startswith("sqlite") and not copied:
            db.create_all()
        ensure_default_company(app)
    return app


_sqlite_templates = {}


def _copy_sqlite_template(database_url):
    """Lay an empty SQLite schema at database_url's file, copied from one built once per run; False if not done.

    Copying a file is some hundred times cheaper than creating every table for every test. Only a
    file that does not exist yet is laid (an in-memory database or an existing file gets create_all),
    and a template is built again whenever the models gained a table since."""
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:" or url.query:
        return False
    target = pathlib.Path(url.database)
    if target.exists() or not target.parent.is_dir():
        return False
    tables = tuple(sorted(Base.metadata.tables))
    if tables not in _sqlite_templates:
        folder = tempfile.mkdtemp(prefix="dashboard-schema-")
        atexit.register(shutil.rmtree, folder, True)
        template = pathlib.Path(folder) / "template.sqlite"
        engine = sa.create_engine(f"sqlite:///{template}")
        Base.metadata.create_all(engine)
        engine.dispose()
        _sqlite_templates[tables] = template
    shutil.copyfile(_sqlite_templates[tables], target)
    return True



def forget_postgres_schema(url):
    """The next database_url_for(url) rebuilds the schema (a test dropped its tables)."""
    _pg_schema_ready.pop(url, None)


_password_hash = {}


@contextlib.contextmanager
def password_hashed_once():
    """Inside the block a new user's password PASSWORD gets one real Argon2 hash of it, made once per run.

    Hashing is built to be slow and dominated the set-up of tests that make several users; the
    stored hash still verifies PASSWORD through Argon2 at sign-in, only its salt is shared. Other
    passwords, and a hash_password a test replaced with its own, are left alone."""
    real = auth_users.hash_password
    if real is not passwords.hash_password:
        yield
        return

    def hash_password(password):
        if password != PASSWORD:
            return real(password)
        if PASSWORD not in _password_hash:
            _password_hash[PASSWORD] = real(PASSWORD)
        return _password_hash[PASSWORD]

    auth_users.hash_password = hash_password
    try:
        yield
    finally:
        auth_users.hash_password = real


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
