"""The sync tests' sandbox and app, and running a sync of the default company."""
from datetime import timedelta

import sqlalchemy as sa

from dashboard.db import db
from dashboard.sandbox.server import start_sandbox
from dashboard.sandbox.world import SandboxWorld
from dashboard.sync.service import run_sync
from dashboard.timeutil import company_today
from tests.support import database_url_for
from tests.support import make_test_app

TZ = "America/Toronto"


def start_sync_sandbox(seed=7, branches=3, jobs_per_day=12):
    """The sync tests' sandbox (the `sandbox` fixture in tests/conftest.py); by default 3 branches, 12 jobs a day."""
    return start_sandbox(SandboxWorld(seed=seed, timezone=TZ, branches=branches, jobs_per_day=jobs_per_day))


def make_sync_app(backend, tmp_path, sandbox):
    """An app on backend pointed at sandbox, retrying fast (the `sync_app` fixture in tests/conftest.py)."""
    return make_test_app(database_url_for(backend, tmp_path), tmp_path, SMARTMOVING_BASE_URL=sandbox.base_url,
                        SMARTMOVING_API_KEY=sandbox.api_key, SMARTMOVING_MAX_RETRY_WAIT=0.2,
                        SMARTMOVING_READ_TIMEOUT=2, DASHBOARD_TIMEZONE=TZ)


def sync(app, **kwargs):
    """Run a sync of the default company now, in this thread."""
    with app.app_context():
        company_id = db.session.scalar(sa.text("SELECT id FROM companies WHERE is_default"))
        return run_sync(company_id, trigger="test", **kwargs)


def window(app):
    """The sync window of today: (start, end) in the sandbox's timezone."""
    start = company_today(TZ)
    return start, start + timedelta(days=1)
