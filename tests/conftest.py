"""Shared fixtures: an app per test on SQLite (always) and PostgreSQL (when TEST_DATABASE_URL is set).

Tests that take `app` run once per backend. Fixtures that build things return
callables (`make_user(...)`), so each test says what it needs.
"""
import contextlib
import os
import re

import pytest
import sqlalchemy as sa

# A developer's real settings must never leak into the tests.
for _name in ("SMARTMOVING_API_KEY", "SMARTMOVING_CLIENT_ID", "SMARTMOVING_BASE_URL", "DATABASE_URL",
              "SECRET_KEY", "SYNC_INTERVAL_MINUTES", "DASHBOARD_TIMEZONE"):
    os.environ.pop(_name, None)

from hypothesis import HealthCheck  # noqa: E402
from hypothesis import settings  # noqa: E402

from dashboard import create_app  # noqa: E402
from dashboard.db import Base  # noqa: E402
from dashboard.db import db  # noqa: E402
from dashboard.models import Company  # noqa: E402
from dashboard.models import Location  # noqa: E402
from dashboard.models import DataSource  # noqa: E402
from dashboard.schema import ensure_default_company  # noqa: E402

# Property-based tests stay reproducible and bounded: the same examples every run,
# no per-example deadline (two shared CPUs), no example database left behind.
settings.register_profile("dashboard", derandomize=True, deadline=None, database=None, max_examples=25,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("dashboard")

PASSWORD = "correct-horse-battery"
PG_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
_pg_schema_ready = set()


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


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def app(backend, tmp_path):
    app = make_test_app(database_url_for(backend, tmp_path), tmp_path)
    yield app
    app.extensions["sqlalchemy_engine"].dispose()


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def default_company(app):
    with app.app_context():
        return db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))


def _saved(row):
    """Add row to the session, commit, and return it (the factories below hand rows back)."""
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def make_company(app):
    """make_company(name, tz=...) -> Company."""
    def _make(name, timezone="America/Toronto"):
        with app.app_context():
            return _saved(Company(name=name, timezone=timezone))
    return _make


@pytest.fixture
def make_location(app, default_company):
    """make_location(name, company=None, external_id=None) -> Location."""
    def _make(name, company=None, external_id=None):
        with app.app_context():
            return _saved(Location(
                name=name, company_id=(company or default_company).id, external_id=external_id,
                data_source=DataSource.SMARTMOVING.value if external_id else DataSource.MANUAL.value,
            ))
    return _make


@pytest.fixture
def make_user(app, default_company):
    """make_user(role, email=None, locations=(), company=None, crew_name=None) -> User (password PASSWORD)."""
    counter = {"n": 0}

    def _make(role, email=None, locations=(), company=None, crew_name=None, full_name=None):
        from dashboard.auth.users import create_user
        from dashboard.models import User
        counter["n"] += 1
        with app.app_context():
            company_row = company or default_company
            location_rows = [db.session.get(Location, loc.id) for loc in locations]
            user = create_user(
                email or f"{role.lower()}{counter['n']}@example.test", PASSWORD, role,
                db.session.get(Company, company_row.id), location_rows,
                full_name=full_name or f"{role.title()} {counter['n']}", crew_name=crew_name,
            )
            db.session.commit()
            return db.session.get(User, user.id)
    return _make


_KNOWN_HASH = {}


@pytest.fixture
def cheap_passwords(monkeypatch):
    """Every user created gets one precomputed Argon2 hash of PASSWORD (hashing dominates set-up time)."""
    import dashboard.auth.users as users
    if "hash" not in _KNOWN_HASH:
        _KNOWN_HASH["hash"] = users.hash_password(PASSWORD)
    monkeypatch.setattr(users, "hash_password", lambda password: _KNOWN_HASH["hash"])


def login_as(client, user):
    """Sign client in as user without the form (the auth tests drive the real form)."""
    import time
    with client.session_transaction() as session:
        session["_user_id"] = user.session_token
        session["_fresh"] = True
        session["login_at"] = time.time()
        session["last_seen"] = time.time()


@pytest.fixture
def login(client):
    """login(user): sign the test client in as user."""
    return lambda user: login_as(client, user)


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
