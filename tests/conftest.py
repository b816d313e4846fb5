"""Shared fixtures: an app per test on SQLite (always) and PostgreSQL (when TEST_DATABASE_URL is set).

Tests that take `app` run once per backend. Fixtures that build things return
callables (`make_user(...)`), so each test says what it needs. Helpers that are not
fixtures live in tests/support/ (imported as `from tests.support import ...`).
"""
import pytest

# Plain asserts in the helper modules report their values as a test's own asserts do.
pytest.register_assert_rewrite("tests.support")

import sqlalchemy as sa  # noqa: E402
from hypothesis import HealthCheck  # noqa: E402
from hypothesis import settings  # noqa: E402

from dashboard.db import db  # noqa: E402
from dashboard.models import Company  # noqa: E402
from dashboard.models import DataSource  # noqa: E402
from dashboard.models import Location  # noqa: E402
from tests.support import BACKENDS  # noqa: E402
from tests.support import PASSWORD  # noqa: E402
from tests.support import database_url_for  # noqa: E402
from tests.support import ensure_worker_database  # noqa: E402
from tests.support import login_as  # noqa: E402
from tests.support import make_test_app  # noqa: E402
from tests.support import password_hashed_once  # noqa: E402
from tests.support.api import build_api_world  # noqa: E402
from tests.support.crew_links import link_user_by_name  # noqa: E402
from tests.support.drills import drill_rig  # noqa: E402
from tests.support.routes import install_fake_sync  # noqa: E402
from tests.support.routes import install_recorded_sync  # noqa: E402
from tests.support.scheduling import BrowserModulesTogether  # noqa: E402
from tests.support.syncing import make_sync_app  # noqa: E402
from tests.support.syncing import start_sync_sandbox  # noqa: E402

# The run's closing lines say which database tests ran on PostgreSQL (tests/support/database_notice.py).
pytest_plugins = ["tests.support.database_notice"]

# Property-based tests stay reproducible and bounded: the same examples every run,
# no per-example deadline (two shared CPUs), no example database left behind.
settings.register_profile("dashboard", derandomize=True, deadline=None, database=None, max_examples=25,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("dashboard")


def pytest_sessionstart(session):
    """Under pytest-xdist each worker has a PostgreSQL database of its own (TEST_DATABASE_URL + _gw0, ...)."""
    ensure_worker_database()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`make test` (--dist loadgroup): a browser module's tests share one worker (tests/support/scheduling.py)."""
    if config.getvalue("dist") == "loadgroup":
        return BrowserModulesTogether(config, log)
    return None


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
            with password_hashed_once():
                user = create_user(
                    email or f"{role.lower()}{counter['n']}@example.test", PASSWORD, role,
                    db.session.get(Company, company_row.id), location_rows,
                    full_name=full_name or f"{role.title()} {counter['n']}", crew_name=crew_name,
                )
            if crew_name:
                # Linked by id to the crew member of that name, as an admin would (tests/support/crew_links.py).
                link_user_by_name(user, crew_name)
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


@pytest.fixture
def login(client):
    """login(user): sign the test client in as user."""
    return lambda user: login_as(client, user)




# ---------------------------------------------------------------- fixtures several test modules share
# (a module that defines a fixture of the same name uses its own)

@pytest.fixture
def world(app, default_company, make_location, make_company):
    """The JSON API tests' world: two locations of ours, one of a rival company, a job in each for today."""
    return build_api_world(app, default_company, make_location, make_company)


@pytest.fixture
def sandbox_world():
    """The sandbox world's seed and size, as start_sync_sandbox's keywords ({}: its defaults).

    A module that wants another world overrides this fixture and keeps `sandbox` and `sync_app`."""
    return {}


@pytest.fixture
def sandbox(sandbox_world):
    """The sync tests' sandbox on a loopback port, stopped after the test."""
    server = start_sync_sandbox(**sandbox_world)
    yield server
    server.stop()


@pytest.fixture
def sync_app(backend, tmp_path, sandbox):
    """An app on backend pointed at the sandbox."""
    app = make_sync_app(backend, tmp_path, sandbox)
    yield app
    app.extensions["sqlalchemy_engine"].dispose()


@pytest.fixture
def fake_sync(monkeypatch):
    """The sync views get a service that answers without ever starting a sync."""
    return install_fake_sync(monkeypatch)


@pytest.fixture
def quick_syncs(monkeypatch):
    """POST /jobs/sync records a finished run instead of syncing (tests/support/routes.py)."""
    install_recorded_sync(monkeypatch)


@pytest.fixture
def rig(app, monkeypatch):
    """The fault drills' rig: a sandbox with faults to switch on and a clean baseline sync (tests/support/drills.py)."""
    with drill_rig(app, monkeypatch) as ready:
        yield ready


@pytest.fixture
def plan_world(app, default_company):
    """Tomorrow's two jobs with their crews told as plan version 1 (tests/support/confirm.py)."""
    from tests.support.confirm import build_plan_world
    return build_plan_world(app, default_company)


@pytest.fixture
def smtp_server():
    """A real SMTP server on loopback collecting what it is sent: an object with .inbox, .port and .url."""
    from types import SimpleNamespace

    from tests.support.mail import start_smtp_server
    controller, inbox, port = start_smtp_server()
    yield SimpleNamespace(inbox=inbox, port=port, url=f"smtp://127.0.0.1:{port}")
    controller.stop()
