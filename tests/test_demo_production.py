"""Demo mode never reaches production (issue 16, item 4).

A database first run in demo mode and then live keeps no open demo account; demo mode's
secrets are made once into instance/ and shared by every process; a short production
SECRET_KEY refuses start-up; only demo mode's sign-in page lists the demo accounts.
"""
import logging
import os
import stat
import subprocess
import sys

import pytest
import requests
import sqlalchemy as sa

from dashboard import create_app
from dashboard.config import ConfigError
from dashboard.db import db
from dashboard.demo import DEMO_PASSWORD
from dashboard.demo import demo_email
from dashboard.models import ApiToken
from dashboard.models import Company
from dashboard.models import User
from tests.support import PASSWORD
from tests.support import csrf_token_from
from tests.support import make_test_app

LIVE_SECRET = "a-live-secret-key-of-at-least-32-characters"


def _seed_demo_users(app, *roles):
    """What demo start-up leaves: marked demo users (with a token) in a company marked demo."""
    from dashboard.auth.tokens import issue_token
    from dashboard.auth.users import create_user
    with app.app_context():
        company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
        company.is_demo = True
        for role in roles:
            user = create_user(demo_email(role), DEMO_PASSWORD, role, company)
            user.is_demo = True
            issue_token(user, "demo script")
        db.session.commit()


def _live_app(app, tmp_path):
    """A production start-up (not TESTING) on app's database."""
    return create_app({"DATABASE_URL": app.config["DATABASE_URL"], "INSTANCE_PATH": str(tmp_path / "live"),
                       "SMARTMOVING_API_KEY": "live-key", "SECRET_KEY": LIVE_SECRET, "SYNC_INTERVAL_MINUTES": 0})


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_live_start_up_disables_every_demo_user_in_one_line(app, tmp_path, make_user):
    _seed_demo_users(app, "SUPER_ADMIN", "DISPATCHER")
    make_user("ADMIN", email="real@example.test")
    lines = _Lines()
    logging.getLogger("dashboard.demo").addHandler(lines)
    try:
        live = _live_app(app, tmp_path)
        again = _live_app(app, tmp_path)  # a second start-up (another worker) has nothing left to say
    finally:
        logging.getLogger("dashboard.demo").removeHandler(lines)
    for started in (live, again):
        started.extensions["sqlalchemy_engine"].dispose()
    assert len(lines.lines) == 1, lines.lines
    assert lines.lines[0].startswith("Live mode: disabled 2 demo user(s) (superadmin@demo.test, dispatcher@demo.test)")
    with app.app_context():
        users = {user.email: user for user in db.session.scalars(sa.select(User))}
        assert not users["superadmin@demo.test"].is_active_user and not users["dispatcher@demo.test"].is_active_user
        assert users["real@example.test"].is_active_user
        assert db.session.scalar(sa.select(sa.func.count(ApiToken.id)).where(ApiToken.revoked_at.is_(None))) == 0
    # The demo password no longer opens anything on the live app.
    client = make_test_app(app.config["DATABASE_URL"], tmp_path / "t", SMARTMOVING_API_KEY="k").test_client()
    page = client.get("/auth/login")
    answer = client.post("/auth/login", data={"email": "superadmin@demo.test", "password": DEMO_PASSWORD,
                                              "csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert answer.status_code == 401


def test_init_db_in_live_mode_says_it_disabled_the_demo_users(tmp_path):
    live = create_app({"TESTING": True, "DATABASE_URL": "sqlite:///" + str(tmp_path / "live.sqlite"),
                       "INSTANCE_PATH": str(tmp_path / "i"), "SMARTMOVING_API_KEY": "k", "SYNC_INTERVAL_MINUTES": 0})
    assert live.test_cli_runner().invoke(args=["init-db"]).exit_code == 0
    _seed_demo_users(live, "ADMIN")
    result = live.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert "Live mode: disabled 1 demo user(s) (admin@demo.test)" in result.output
    assert "still holds the demo's sandbox data" in result.output
    second = live.test_cli_runner().invoke(args=["init-db"])
    assert "demo user" not in second.output
    live.extensions["sqlalchemy_engine"].dispose()


def test_the_migration_marks_demo_users_of_an_older_database(tmp_path):
    from alembic import command

    from dashboard.schema import alembic_config
    url = "sqlite:///" + str(tmp_path / "old.sqlite")
    app = create_app({"TESTING": True, "DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "i"),
                      "SECRET_KEY": "x" * 32})
    with app.app_context():
        with db.engine.begin() as conn:
            command.upgrade(alembic_config(conn), "poll_indexes")
            conn.execute(sa.text("INSERT INTO companies (name, timezone, is_default, created_at) "
                                 "VALUES ('Old', 'America/Toronto', 1, '2026-01-01')"))
            for email in ("admin@demo.test", "boss@example.test"):
                conn.execute(sa.text("INSERT INTO users (company_id, email, full_name, role, password_hash, "
                                     "is_active_user, session_token, created_at) VALUES (1, :e, '', 'ADMIN', 'x', 1, "
                                     ":e, '2026-01-01')"), {"e": email})
            command.upgrade(alembic_config(conn), "head")
        marks = dict(db.session.execute(sa.select(User.email, User.is_demo)).all())
        assert marks == {"admin@demo.test": True, "boss@example.test": False}
        assert db.session.scalar(sa.select(Company.is_demo))
    app.extensions["sqlalchemy_engine"].dispose()


def test_demo_secrets_are_made_once_into_instance_and_shared(tmp_path):
    config = {"DATABASE_URL": "sqlite://", "INSTANCE_PATH": str(tmp_path / "instance"), "SYNC_INTERVAL_MINUTES": 0}
    first, second = create_app(dict(config)), create_app(dict(config))
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 32
    assert first.config["SMARTMOVING_WEBHOOK_SECRET"] == second.config["SMARTMOVING_WEBHOOK_SECRET"]
    assert first.config["SMARTMOVING_WEBHOOK_SECRET"] != first.config["SECRET_KEY"]
    for name in ("demo-secret-key", "demo-webhook-secret"):
        mode = stat.S_IMODE(os.stat(tmp_path / "instance" / name).st_mode)
        assert mode == 0o600, oct(mode)
    assert sorted(os.listdir(tmp_path / "instance")) == ["demo-secret-key", "demo-webhook-secret"]  # no temp left


def test_a_form_from_one_demo_worker_is_accepted_by_another(backend, tmp_path, make_user, app):
    """Two processes of one demo deployment (same instance/) sign the same cookies."""
    make_user("DISPATCHER", email="worker@example.test")
    url = app.config["DATABASE_URL"]
    config = {"TESTING": True, "DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "shared"), "SECRET_KEY": None}
    one, two = create_app(dict(config)), create_app(dict(config))
    browser = one.test_client()
    page = browser.get("/auth/login")
    other = two.test_client()
    other.set_cookie("session", browser.get_cookie("session").value)
    answer = other.post("/auth/login", data={"email": "worker@example.test", "password": PASSWORD,
                                             "csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    for started in (one, two):
        started.extensions["sqlalchemy_engine"].dispose()


@pytest.mark.parametrize("key", ["short", "x" * 31])
def test_a_short_secret_key_refuses_live_start_up(tmp_path, key):
    with pytest.raises(ConfigError, match="SECRET_KEY must be at least 32 characters"):
        create_app({"DATABASE_URL": "sqlite://", "SMARTMOVING_API_KEY": "k", "SECRET_KEY": key,
                    "INSTANCE_PATH": str(tmp_path)})
    started = create_app({"DATABASE_URL": "sqlite://", "SMARTMOVING_API_KEY": "k", "SECRET_KEY": "x" * 32,
                          "INSTANCE_PATH": str(tmp_path), "SYNC_INTERVAL_MINUTES": 0})
    assert started.config["SECRET_KEY"] == "x" * 32


def test_only_demo_mode_lists_the_demo_accounts_on_the_sign_in_page(app, tmp_path):
    html = app.test_client().get("/auth/login").get_data(as_text=True)
    assert "Demo accounts" in html and DEMO_PASSWORD in html
    assert "superadmin@demo.test" in html and "mover@demo.test" in html
    live = make_test_app(app.config["DATABASE_URL"], tmp_path / "live", SMARTMOVING_API_KEY="k")
    html = live.test_client().get("/auth/login").get_data(as_text=True)
    assert "demo.test" not in html and DEMO_PASSWORD not in html and "Demo accounts" not in html


@pytest.mark.slow
def test_serve_prod_in_demo_mode_signs_in_through_every_worker(tmp_path):
    """gunicorn with 3 workers, demo mode: every sign-in works, whichever worker serves each step."""
    from tests.support.processes import free_port
    from tests.support.processes import stop
    from tests.support.processes import wait_for_http
    database_url = "sqlite:///" + str(tmp_path / "demo.sqlite")
    setup = make_test_app(database_url, tmp_path)
    with setup.app_context():
        from dashboard.auth.users import create_user
        create_user("gunicorn@example.test", PASSWORD, "DISPATCHER",
                    db.session.scalar(sa.select(Company)))
        db.session.commit()
    setup.extensions["sqlalchemy_engine"].dispose()
    env = {key: value for key, value in os.environ.items()
           if key not in ("TEST_DATABASE_URL", "SECRET_KEY", "SMARTMOVING_API_KEY", "SMARTMOVING_WEBHOOK_SECRET")}
    env.update(DATABASE_URL=database_url, SYNC_INTERVAL_MINUTES="0", GUNICORN_ACCESS_LOG="/dev/null",
               PYTHONUNBUFFERED="1")
    port = free_port()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(tmp_path / "gunicorn.log", "w") as log_file:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--workers", "3",
                                    "--bind", f"127.0.0.1:{port}", "wsgi:app"],
                                   cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for_http(f"http://127.0.0.1:{port}/healthz", process)
            codes = []
            for _ in range(8):
                browser = requests.Session()
                browser.headers["Connection"] = "close"  # a new connection per request: any worker may answer
                page = browser.get(f"http://127.0.0.1:{port}/auth/login", timeout=10)
                answer = browser.post(f"http://127.0.0.1:{port}/auth/login", timeout=10, allow_redirects=False,
                                      data={"email": "gunicorn@example.test", "password": PASSWORD,
                                            "csrf_token": csrf_token_from(page.text)})
                codes.append(answer.status_code)
        finally:
            stop(process)
    assert codes == [302] * 8, (codes, (tmp_path / "gunicorn.log").read_text()[-2000:])


def test_a_bad_setting_outside_tests_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    from dashboard import check_settings
    monkeypatch.setenv("SMARTMOVING_API_KEY", "k")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("BOARD_DAY_START", "25:00")
    with pytest.raises(SystemExit) as stopped:
        check_settings()
    assert stopped.value.code == 2
    assert capsys.readouterr().err == (
        "Configuration error: BOARD_DAY_START must be between 00:00 and 24:00, got '25:00'\n")


_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
@pytest.mark.parametrize("argv, setting, value", [
    (["-m", "flask", "--app", "dashboard", "init-db"], "SECRET_KEY", "too-short"),
    (["-m", "flask", "--app", "dashboard", "sync"], "BOARD_DAY_START", "25:00"),
    (["-c", "import wsgi"], "DATABASE_URL", "not a url"),
    (["-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", "127.0.0.1:0", "wsgi:app"], "SECRET_KEY", "too-short"),
    (["-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", "127.0.0.1:0", "wsgi:app"], "GUNICORN_THREADS", "many"),
], ids=["flask-init-db", "flask-sync", "wsgi-import", "gunicorn", "gunicorn-conf"])
def test_a_config_error_stops_commands_and_servers_in_one_line(tmp_path, argv, setting, value):
    env = {key: val for key, val in os.environ.items() if key not in ("TEST_DATABASE_URL",)}
    env.update(SMARTMOVING_API_KEY="k", SECRET_KEY="s" * 40, DATABASE_URL="sqlite:///" + str(tmp_path / "x.sqlite"),
               SYNC_INTERVAL_MINUTES="0")
    env[setting] = value
    done = subprocess.run([sys.executable, *argv], cwd=_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if "[INFO]" not in line]  # gunicorn's "Starting gunicorn"
    assert len(lines) == 1 and lines[0].startswith("Configuration error: " + setting), done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_demo_mode_seeds_nothing_into_a_live_database(app, make_user):
    from dashboard.demo import seed_demo
    make_user("ADMIN", email="owner@example.test")
    with app.app_context():
        lines = list(seed_demo(app))
        assert lines == ["Demo mode on a live database (its users are not demo users): nothing seeded. "
                         "Set SMARTMOVING_API_KEY to run it live."]
        assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.is_demo.is_(True))) == 0
        from dashboard.models import SyncRun
        assert db.session.scalar(sa.select(sa.func.count(SyncRun.id))) == 0


def test_an_unwritable_instance_folder_is_a_config_error_naming_the_setting(tmp_path):
    blocked = tmp_path / "instance"
    blocked.mkdir()
    (blocked / "demo-webhook-secret").mkdir()  # a folder where the secret file should be: unreadable as a file
    with pytest.raises(ConfigError, match="SECRET_KEY: demo mode keeps its secrets in"):
        create_app({"DATABASE_URL": "sqlite://", "INSTANCE_PATH": str(blocked)})
