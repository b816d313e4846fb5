"""Many companies (issue 21 §4): encrypted per-company keys, the Companies page and API, `?company=` for the
super admin with ADMIN isolation, and a scheduler that syncs every company fairly and in parallel."""
import threading
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from dashboard import scheduler as sched
from dashboard.companies import credentials
from dashboard.companies import service
from dashboard.companies.credentials import CredentialsError
from dashboard.companies.service import CompanyError
from dashboard.db import db
from dashboard.models import AuditEvent
from dashboard.models import Company
from dashboard.models import SyncRun
from dashboard.models import TruckJourney
from dashboard.sandbox.world import SandboxWorld
from dashboard.sync.clients import client_for
from tests.support import csrf_token_from
from tests.support import login_as
from tests.support.api import bearer
from tests.support.api import user_for
from tests.support.syncing import TZ

KEY = Fernet.generate_key().decode()
SECRET = "sm-live-key-0123456789abcdef"
OTHER_ROLES = ["ADMIN", "DISPATCHER", "MANAGER", "AUDITOR", "DRIVER", "MOVER"]


def _company(app, company_id):
    with app.app_context():
        return db.session.get(Company, company_id)


def _set_key(app, company_id, secret=SECRET, **extra):
    with app.app_context(), db.write_transaction():
        service.set_smartmoving_key(db.session.get(Company, company_id), secret, app.config.get("CREDENTIALS_KEY"),
                                    **extra)


# ---------------------------------------------------------------- credentials


def test_encryption_round_trip_and_a_changed_credentials_key_is_refused():
    token = credentials.encrypt(KEY, SECRET)
    assert SECRET not in token and credentials.decrypt(KEY, token) == SECRET
    with pytest.raises(CredentialsError, match="does not open"):
        credentials.decrypt(Fernet.generate_key().decode(), token)
    with pytest.raises(CredentialsError, match="CREDENTIALS_KEY is not set"):
        credentials.encrypt(None, SECRET)
    with pytest.raises(CredentialsError, match="Fernet key"):
        credentials.parse_credentials_key("CREDENTIALS_KEY", "not-a-key")
    assert credentials.parse_credentials_key("CREDENTIALS_KEY", "") is None
    assert credentials.last_shown(SECRET) == "cdef" and credentials.last_shown("short-key") is None


def test_a_malformed_credentials_key_stops_start_up_in_one_line(tmp_path):
    from dashboard import create_app
    from dashboard.config import ConfigError
    with pytest.raises(ConfigError, match="CREDENTIALS_KEY must be a Fernet key") as raised:
        create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "INSTANCE_PATH": str(tmp_path),
                    "CREDENTIALS_KEY": "abc"})
    assert "\n" not in str(raised.value) and "abc" not in str(raised.value)


def test_no_key_is_stored_without_credentials_key(app, make_company):
    company = make_company("Keyless Movers")
    with pytest.raises(CompanyError, match="CREDENTIALS_KEY is not set"):
        _set_key(app, company.id)
    assert _company(app, company.id).api_key_encrypted is None


def test_a_stored_key_is_encrypted_used_by_the_client_and_never_shown(app, client, make_user, make_company):
    app.config["CREDENTIALS_KEY"] = KEY
    company = make_company("Keyed Movers")
    login_as(client, make_user("SUPER_ADMIN"))
    page = client.get("/admin/companies")
    answer = client.post(f"/admin/companies/{company.id}/key", data={
        "csrf_token": csrf_token_from(page.get_data(as_text=True)), "api_key": SECRET, "client_id": "client-7",
        "plan": "premium", "webhook_secret": "hook-secret-value-123"})
    assert answer.status_code == 302
    with app.app_context():
        stored = db.session.get(Company, company.id)
        assert stored.api_key_encrypted and SECRET not in stored.api_key_encrypted
        assert "hook-secret-value-123" not in stored.webhook_secret_encrypted
        assert (stored.smartmoving_plan, stored.smartmoving_client_id, stored.api_key_last4) == \
            ("premium", "client-7", "cdef")
        client_ = client_for(stored)
        assert client_._headers()["x-api-key"] == SECRET
        assert client_._headers()["x-client-id"] == "client-7"
        events = list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "company.set_key")))
        assert len(events) == 1 and SECRET not in repr(events[0].detail)
    shown = client.get("/admin/companies").get_data(as_text=True) + \
        client.get("/api/smartmoving/companies").get_data(as_text=True)
    assert SECRET not in shown and SECRET[:-4] not in shown and "hook-secret-value" not in shown
    assert "set on " in shown and "ends cdef" in shown
    # Rotation: the next client built (the next sync) sends the new key.
    _set_key(app, company.id, "sm-rotated-key-9876543210")
    with app.app_context():
        assert client_for(db.session.get(Company, company.id))._headers()["x-api-key"] == \
            "sm-rotated-key-9876543210"


def test_the_env_var_mechanism_and_the_default_company_s_key_still_work(app, default_company, monkeypatch):
    monkeypatch.setenv("ENV_MOVERS_KEY", "env-key-123456")
    with app.app_context():
        with db.write_transaction() as session:
            session.add(Company(name="Env Movers", api_key_env="ENV_MOVERS_KEY"))
        env_company = db.session.scalar(sa.select(Company).where(Company.name == "Env Movers"))
        assert credentials.api_key_for(env_company, app.config) == "env-key-123456"
        app.config["SMARTMOVING_API_KEY"] = "default-key-123"
        assert credentials.api_key_for(db.session.get(Company, default_company.id), app.config) == "default-key-123"


# ---------------------------------------------------------------- the command line


def test_create_company_exit_codes(app, runner):
    bad = runner.invoke(args=["create-company", "Mars Movers", "--timezone", "Mars/Base"])
    assert bad.exit_code == 2 and "Unknown time zone" in bad.output
    made = runner.invoke(args=["create-company", "West Movers", "--timezone", "America/Vancouver"])
    assert made.exit_code == 0, made.output
    again = runner.invoke(args=["create-company", "west movers", "--timezone", "America/Vancouver"])
    assert again.exit_code == 2 and "already exists" in again.output
    with app.app_context():
        company = db.session.scalar(sa.select(Company).where(Company.name == "West Movers"))
        assert company.timezone == "America/Vancouver" and company.is_active and not company.is_default


def test_set_smartmoving_key_reads_stdin_and_never_echoes_it(app, runner, make_company):
    company = make_company("Piped Movers")
    refused = runner.invoke(args=["set-smartmoving-key", "Piped Movers"], input=SECRET + "\n")
    assert refused.exit_code == 2 and "CREDENTIALS_KEY" in refused.output
    app.config["CREDENTIALS_KEY"] = KEY
    unknown = runner.invoke(args=["set-smartmoving-key", "Nobody Movers"], input=SECRET + "\n")
    assert unknown.exit_code == 2 and "Unknown company" in unknown.output
    done = runner.invoke(args=["set-smartmoving-key", str(company.id), "--client-id", "c-1", "--plan", "basic"],
                         input=SECRET + "\n")
    assert done.exit_code == 0, done.output
    assert SECRET not in done.output and "ends cdef" in done.output
    stored = _company(app, company.id)
    assert stored.smartmoving_plan == "basic" and stored.smartmoving_client_id == "c-1"
    with app.app_context():
        assert credentials.decrypt(KEY, stored.api_key_encrypted) == SECRET


# ---------------------------------------------------------------- the page and the API: super admin only


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_the_companies_page_and_api_are_for_super_admins_only(app, client, make_user, world, role):
    user = user_for(make_user, role, world)
    assert client.get("/api/smartmoving/companies", headers=bearer(app, user)).status_code == 403
    login_as(client, user)
    assert client.get("/admin/companies").status_code == 403
    assert client.post(f"/admin/companies/{world['other_company'].id}/active").status_code in (400, 403)
    assert client.post("/admin/companies/switch", data={"company": world["other_company"].id}).status_code in (400,
                                                                                                              403)
    assert _company(app, world["other_company"].id).is_active


def test_the_api_lists_every_company_for_a_super_admin(app, client, make_user, world):
    assert client.get("/api/smartmoving/companies").status_code == 401
    for path in ("/api/smartmoving/companies", "/smartmoving/companies"):
        body = client.get(path, headers=bearer(app, make_user("SUPER_ADMIN"))).get_json()
        rows = {row["name"]: row for row in body["companies"]}
        assert set(rows) >= {"Rival Movers"} and len(rows) == 2
        rival = rows["Rival Movers"]
        assert set(rival) >= {"id", "name", "timezone", "mode", "plan", "lastSync"}
        assert rival["mode"] in ("live", "demo") and rival["plan"] == "basic" and rival["lastSync"] is None


def test_a_super_admin_creates_renames_and_disables_a_company(app, client, make_user):
    login_as(client, make_user("SUPER_ADMIN"))
    token = csrf_token_from(client.get("/admin/companies").get_data(as_text=True))
    bad = client.post("/admin/companies", data={"csrf_token": token, "name": "Moon", "timezone": "Moon/Base"})
    assert bad.status_code == 422 and "Unknown time zone" in bad.get_data(as_text=True)
    assert client.post("/admin/companies", data={"csrf_token": token, "name": "North <b>Movers</b>",
                                                 "timezone": "America/Halifax"}).status_code == 302
    with app.app_context():
        company_id = db.session.scalar(sa.select(Company.id).where(Company.name == "North <b>Movers</b>"))
    page = client.get("/admin/companies").get_data(as_text=True)
    assert "North &lt;b&gt;Movers&lt;/b&gt;" in page and "<b>Movers" not in page
    client.post(f"/admin/companies/{company_id}/rename", data={"csrf_token": token, "name": "Harbour Movers"})
    client.post(f"/admin/companies/{company_id}/active", data={"csrf_token": token})
    stored = _company(app, company_id)
    assert stored.name == "Harbour Movers" and not stored.is_active
    with app.app_context():
        actions = set(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.company_id == company_id)))
    assert actions == {"company.create", "company.rename", "company.disable"}


# ---------------------------------------------------------------- ?company= and isolation


def _customers(body):
    return {job["customerName"] for job in body["jobs"]}


def test_a_super_admin_reaches_one_company_with_the_query_or_the_switcher(app, client, make_user, world,
                                                                         quick_syncs):
    rival_id = world["other_company"].id
    headers = bearer(app, make_user("SUPER_ADMIN"))
    everything = client.get("/api/smartmoving/jobs/today", headers=headers).get_json()
    assert _customers(everything) == {"Customer north", "Customer south", "Customer rival"}
    one = client.get(f"/api/smartmoving/jobs/today?company={rival_id}", headers=headers).get_json()
    assert _customers(one) == {"Customer rival"}
    started = client.post(f"/api/smartmoving/jobs/sync?company={rival_id}", headers=headers)
    assert started.status_code == 202
    status = client.get(f"/smartmoving/sync/status?company={rival_id}", headers=headers).get_json()
    assert [run["id"] for run in status["runs"]] == [started.get_json()["run"]["id"]]
    with app.app_context():
        assert db.session.get(SyncRun, started.get_json()["run"]["id"]).company_id == rival_id
    assert client.get("/api/smartmoving/jobs/today?company=999999", headers=headers).status_code == 404
    assert client.get("/api/smartmoving/jobs/today?company=abc", headers=headers).status_code == 422

    login_as(client, make_user("SUPER_ADMIN"))
    board = client.get(f"/?company={rival_id}").get_data(as_text=True)
    assert "Customer rival" in board and "Customer north" not in board
    token = csrf_token_from(board)
    assert client.post("/admin/companies/switch", data={"csrf_token": token, "company": rival_id,
                                                        "next": "/"}).status_code == 302
    board = client.get("/").get_data(as_text=True)
    assert "Customer rival" in board and "Customer north" not in board
    assert f'<option value="{rival_id}" selected>' in board
    client.post("/admin/companies/switch", data={"csrf_token": token, "company": ""})
    board = client.get("/").get_data(as_text=True)
    assert "Customer rival" in board and "Customer north" in board


ISOLATION_PAGES = ["/", "/board/tomorrow", "/board?date={today}", "/board/export.csv?date={today}", "/sync/",
                   "/sync/status-panel", "/locations/", "/crew", "/reports/", "/audit", "/audit/export.csv",
                   "/jobs/{rival_job}"]
ISOLATION_API = ["/api/smartmoving/jobs/today", "/api/smartmoving/jobs?date={today}", "/api/smartmoving/sync/status",
                 "/api/smartmoving/locations", "/smartmoving/jobs/today",
                 "/api/smartmoving/summary?from={today}&to={today}",
                 "/api/smartmoving/crew?date={today}", "/api/smartmoving/readiness?date={today}",
                 "/api/smartmoving/jobs/{rival_job}", "/api/smartmoving/companies"]


@pytest.mark.parametrize("role", ["ADMIN", "AUDITOR", "DISPATCHER"])
def test_no_other_role_reaches_another_company_on_any_route(app, client, make_user, world, role):
    """An ADMIN (or any non-super role) of company A asking for company B gets nothing of B: 403 or 404."""
    rival_id = world["other_company"].id
    user = user_for(make_user, role, world)
    values = {"today": world["today"].isoformat(), "rival_job": world["jobs"]["rival"]}
    headers = bearer(app, user)
    for path in ISOLATION_API:
        url = path.format(**values)
        answer = client.get(url + ("&" if "?" in url else "?") + f"company={rival_id}", headers=headers)
        assert answer.status_code in (403, 404), (url, answer.status_code)
        assert "rival" not in answer.get_data(as_text=True).lower(), url
    refused = client.post(f"/api/smartmoving/jobs/sync?company={rival_id}", headers=headers)
    assert refused.status_code in (403, 404)
    login_as(client, user)
    for path in ISOLATION_PAGES:
        url = path.format(**values)
        answer = client.get(url + ("&" if "?" in url else "?") + f"company={rival_id}")
        assert answer.status_code in (403, 404), (url, answer.status_code)
        assert "rival" not in answer.get_data(as_text=True).lower(), url
    # Their own company by id is just their own view.
    own = client.get(f"/api/smartmoving/jobs/today?company={user.company_id}", headers=headers)
    assert own.status_code == 200 and "Customer rival" not in own.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(SyncRun.id)).where(SyncRun.company_id == rival_id)) == 0


# ---------------------------------------------------------------- the scheduler


def _add(app, name, active=True, env=None):
    with app.app_context(), db.write_transaction() as session:
        company = Company(name=name, is_active=active, api_key_env=env)
        session.add(company)
    return company.id


class _RecordingSync:
    """run_sync's stand-in: records the start order and how many ran at once; each takes `seconds`."""

    def __init__(self, seconds=0.0):
        self.seconds, self.started, self.running, self.most = seconds, [], 0, 0
        self.lock = threading.Lock()

    def __call__(self, company_id, day=None, trigger="cli", user_id=None, client=None, days=2):
        with self.lock:
            self.started.append(company_id)
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.seconds)
        with self.lock:
            self.running -= 1
        now = datetime(2030, 1, 1)
        return SyncRun(id=len(self.started), company_id=company_id, trigger=trigger, status="SUCCESS",
                       window_start=now.date(), window_end=now.date(), started_at=now, finished_at=now, jobs_seen=0,
                       created=0, updated=0, unchanged=0, removed=0, opportunities_enriched=0,
                       opportunities_to_enrich=0, api_calls=0, rate_limited=0)


def test_the_scheduler_is_fair_parallel_within_the_limit_and_skips_disabled(app, monkeypatch):
    for number in range(3):
        monkeypatch.setenv(f"CO{number}_KEY", f"key-{number}-123456")
    with app.app_context():
        default_id = db.session.scalar(sa.select(Company.id).where(Company.is_default.is_(True)))
    keyed = [_add(app, f"Co {number}", env=f"CO{number}_KEY") for number in range(3)]
    disabled = _add(app, "Disabled Co", active=False, env="CO0_KEY")
    _add(app, "Keyless Co")
    app.config["SYNC_PARALLEL_COMPANIES"] = 2
    fake = _RecordingSync(seconds=0.15)
    monkeypatch.setattr("dashboard.sync.service.run_sync", fake)
    now = datetime(2030, 1, 1, 10, 0, 1, tzinfo=UTC)
    first = sched.run_scheduled_sync(app, now=now)
    ids = [default_id] + keyed
    assert first == dict.fromkeys(ids, "synced")
    assert disabled not in fake.started and fake.most == 2
    first_order = list(fake.started)
    fake.started.clear()
    sched.run_scheduled_sync(app, now=now + timedelta(minutes=10))   # the next interval
    assert sorted(fake.started) == sorted(ids) and fake.started[0] != first_order[0]
    # Over len(ids) intervals every company goes first once.
    assert {tuple(sched.fair_order(ids, turn))[0] for turn in range(len(ids))} == set(ids)


@pytest.fixture
def two_worlds(sandbox):
    """The sync sandbox answering a second key from a world of its own."""
    world = sandbox.add_world("second-company-key", SandboxWorld(seed=99, timezone=TZ, branches=2, jobs_per_day=5))
    return world


def test_one_scheduler_tick_syncs_two_companies_from_their_own_worlds(sync_app, sandbox, two_worlds):
    app = sync_app
    app.config.update(CREDENTIALS_KEY=KEY, SYNC_INTERVAL_SECONDS=60)
    with app.app_context(), db.write_transaction():
        second = service.create_company("Second Movers", TZ)
    _set_key(app, second.id, "second-company-key")
    outcomes = sched.run_scheduled_sync(app)
    assert sorted(outcomes.values()) == ["synced", "synced"]
    with app.app_context():
        default_id = db.session.scalar(sa.select(Company.id).where(Company.is_default.is_(True)))
        ids = {company_id: set(db.session.scalars(sa.select(TruckJourney.external_id)
                                                  .where(TruckJourney.company_id == company_id)))
               for company_id in (default_id, second.id)}
        statuses = set(db.session.scalars(sa.select(SyncRun.status).where(SyncRun.company_id == second.id)))
    assert ids[default_id] and ids[second.id] and statuses == {"SUCCESS"}
    assert not ids[default_id] & ids[second.id]
    assert len(ids[second.id]) < len(ids[default_id])   # 5 jobs a day against 12: another world


# ---------------------------------------------------------------- demo


def test_demo_seeds_a_second_company_from_its_own_world_once(app):
    from dashboard.demo import seed_second_demo_company
    from dashboard.models import User
    with app.app_context():
        first = list(seed_second_demo_company())
        again = list(seed_second_demo_company())
        (company,) = db.session.scalars(sa.select(Company).where(Company.is_demo.is_(True),
                                                                 Company.is_default.is_(False)))
        count_jobs = sa.select(sa.func.count(TruckJourney.id))
        jobs = db.session.scalar(count_jobs.where(TruckJourney.company_id == company.id))
        others = db.session.scalar(count_jobs.where(TruckJourney.company_id != company.id))
        runs = db.session.scalar(sa.select(sa.func.count(SyncRun.id)).where(SyncRun.company_id == company.id))
        users = {user.email: user for user in db.session.scalars(sa.select(User).where(User.company_id == company.id))}
    assert company.timezone == "America/Vancouver" and jobs > 0 and runs == 1 and others == 0
    assert set(users) == {"admin2@demo.test", "dispatcher2@demo.test"} and all(u.is_demo for u in users.values())
    assert any("first sync" in line for line in first) and not any("first sync" in line for line in again)
    assert credentials.mode_of(company, app.config) == "demo"
