"""Sign-in throttling that holds under a burst and never locks the owner out (issue 16, item 5).

Also: the password change and a new API token ask for the password under the same
throttle, and tokens expire.
"""
import re
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

import dashboard.auth.passwords as password_checks
import dashboard.auth.reauth as reauth
from dashboard.db import db
from dashboard.models import ApiToken
from dashboard.models import AuditEvent
from dashboard.models import LoginAttempt
from dashboard.models import User
from dashboard.models import utcnow
from tests.support import PASSWORD
from tests.support import csrf_token_from
from tests.support import login_as
from tests.support import make_test_app as make_test_app_for

BURST = 40


def _counting(monkeypatch, module):
    """Count the password checks made through module.verify_password."""
    checked = []
    real = module.verify_password

    def verify(password_hash, password):
        checked.append(password)
        return real(password_hash, password)
    monkeypatch.setattr(module, "verify_password", verify)
    return checked


def _ready_clients(app, count):
    """count browsers, each with the sign-in page's CSRF token."""
    ready = []
    for _ in range(count):
        client = app.test_client()
        ready.append((client, csrf_token_from(client.get("/auth/login").get_data(as_text=True))))
    return ready


def _all_at_once(count, post):
    """Call post(index) for every index below count, one thread each, released together; the answers in order."""
    answers = [None] * count
    start = threading.Barrier(count)

    def run(index):
        start.wait()
        answers[index] = post(index)
    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def _burst(ready, email, passwords, remote_addr="10.0.0.1"):
    """Post every sign-in at once (one thread each, released together); the status codes in order."""
    def post(index):
        client, token = ready[index]
        return client.post("/auth/login", data={"email": email, "password": passwords[index], "csrf_token": token},
                           environ_base={"REMOTE_ADDR": remote_addr}).status_code
    return _all_at_once(len(ready), post)


def test_a_burst_of_guesses_gets_only_the_free_ones_checked(app, make_user, monkeypatch):
    make_user("DISPATCHER", email="burst@example.test")
    limit = app.config["LOGIN_MAX_FAILURES"]
    checked = _counting(monkeypatch, password_checks)   # the sign-in form checks through passwords.check_password
    codes = _burst(_ready_clients(app, BURST), "burst@example.test", ["wrong-guess-123"] * BURST)
    assert sorted(codes) == [401] * limit + [429] * (BURST - limit), codes
    assert len(checked) == limit
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(LoginAttempt.id))) == limit
    # A second burst with the right password last: the limit is spent, nobody gets in.
    passwords = ["wrong-guess-456"] * (BURST // 4 - 1) + [PASSWORD]
    codes = _burst(_ready_clients(app, BURST // 4), "burst@example.test", passwords)
    assert codes == [429] * (BURST // 4), codes
    assert len(checked) == limit


def _sign_in(client, email, password, remote_addr="10.0.0.1"):
    token = csrf_token_from(client.get("/auth/login").get_data(as_text=True))
    return client.post("/auth/login", data={"email": email, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": remote_addr})


def test_the_owners_own_browser_is_judged_by_its_own_counter(app, client, make_user):
    make_user("DISPATCHER", email="owner@example.test")
    assert _sign_in(client, "owner@example.test", PASSWORD).status_code == 302  # gets a known_device cookie
    client.post("/auth/logout", data={"csrf_token": csrf_token_from(client.get("/").get_data(as_text=True))})
    guesser = app.test_client()
    for _ in range(app.config["LOGIN_MAX_FAILURES"] + 1):  # same office address, and elsewhere
        _sign_in(guesser, "owner@example.test", "a-wrong-guess")
        _sign_in(guesser, "owner@example.test", "a-wrong-guess", remote_addr="10.8.8.8")
    assert _sign_in(app.test_client(), "owner@example.test", PASSWORD).status_code == 429
    assert _sign_in(client, "owner@example.test", PASSWORD).status_code == 302
    # Its own counter still holds: the device's own wrong passwords delay it.
    client.post("/auth/logout", data={"csrf_token": csrf_token_from(client.get("/").get_data(as_text=True))})
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert _sign_in(client, "owner@example.test", "my-own-typo").status_code == 401
    assert _sign_in(client, "owner@example.test", PASSWORD).status_code == 429


def test_a_wrong_current_password_is_throttled_and_audited(app, client, make_user, monkeypatch):
    user = make_user("DISPATCHER", email="changer@example.test")
    login_as(client, user)
    checked = _counting(monkeypatch, reauth)
    limit = app.config["LOGIN_MAX_FAILURES"]
    csrf = csrf_token_from(client.get("/auth/password").get_data(as_text=True))

    def change(current):
        return client.post("/auth/password", data={"csrf_token": csrf, "current_password": current,
                                                   "new_password": "a-brand-new-pass", "confirm": "a-brand-new-pass"})
    for _ in range(limit):
        answer = change("not-my-password")
        assert answer.status_code == 422 and "not your current password" in answer.get_data(as_text=True)
    throttled = change(PASSWORD)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == str(app.config["LOGIN_DELAY_SECONDS"])
    assert "Too many wrong passwords" in throttled.get_data(as_text=True)
    assert len(checked) == limit
    with app.app_context():
        failures = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "auth.reauth_failed")).all()
        assert len(failures) == limit and failures[0].detail["purpose"] == "password change"
        assert db.session.get(User, user.id).password_hash == user.password_hash


def _token_page(client):
    return csrf_token_from(client.get("/auth/tokens").get_data(as_text=True))


def test_a_new_token_asks_for_the_password_and_expires_in_90_days(app, client, make_user):
    user = make_user("MANAGER", email="tokens@example.test")
    login_as(client, user)
    csrf = _token_page(client)
    assert client.post("/auth/tokens", data={"csrf_token": csrf, "name": "ci"}).status_code == 422
    wrong = client.post("/auth/tokens", data={"csrf_token": csrf, "name": "ci", "password": "not-it-at-all"})
    assert wrong.status_code == 422 and "not your current password" in wrong.get_data(as_text=True)
    created = client.post("/auth/tokens", data={"csrf_token": csrf, "name": "ci", "password": PASSWORD})
    assert created.status_code == 201
    token = re.search(r'<code class="token-value">(smd_[^<]+)</code>', created.get_data(as_text=True)).group(1)
    with app.app_context():
        row = db.session.scalar(sa.select(ApiToken))
        assert abs(row.expires_at - (utcnow() + timedelta(days=90))) < timedelta(minutes=1)
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))
                                 .where(AuditEvent.action == "auth.reauth_failed")) == 1
    api = "/api/smartmoving/jobs/today"
    assert client.get(api, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with app.app_context():
        db.session.scalar(sa.select(ApiToken)).expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert client.get(api, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "Expired" in client.get("/auth/tokens").get_data(as_text=True)


def test_create_token_expires_days(app, runner, make_user):
    make_user("DISPATCHER", email="cli-token@example.test")
    result = runner.invoke(args=["create-token", "cli-token@example.test", "--expires-days", "7"])
    assert result.exit_code == 0, result.output
    assert "expires" in result.output
    with app.app_context():
        row = db.session.scalar(sa.select(ApiToken))
        assert abs(row.expires_at - (utcnow() + timedelta(days=7))) < timedelta(minutes=1)
    assert runner.invoke(args=["create-token", "cli-token@example.test", "--expires-days", "0"]).exit_code == 2
    forever = runner.invoke(args=["create-token", "cli-token@example.test"])
    assert forever.exit_code == 0 and "expires" not in forever.output


@pytest.mark.parametrize("cookie", ["legacy", "forged"])
def test_device_cookies_from_before_device_ids_still_count_and_forged_ones_do_not(app, cookie):
    from itsdangerous import URLSafeTimedSerializer

    from dashboard.auth import throttle
    key = app.secret_key if cookie == "legacy" else "not-the-key"
    raw = URLSafeTimedSerializer(key, salt="known-device").dumps("someone@example.test")
    with app.test_request_context("/auth/login", headers={"Cookie": f"{throttle.DEVICE_COOKIE}={raw}"}):
        from flask import request
        device = throttle.device_for(request, "someone@example.test")
        assert (device is not None) == (cookie == "legacy")
        assert throttle.device_for(request, "other@example.test") is None


@pytest.mark.slow
def test_a_burst_against_gunicorn_on_postgresql_gets_only_the_free_ones_checked(tmp_path):
    """40 concurrent guesses through 3 gunicorn workers (separate processes, one PostgreSQL)."""
    import os
    import subprocess
    import sys

    import requests

    from tests.support import PG_URL
    from tests.support import database_url_for
    from tests.support.processes import free_port
    from tests.support.processes import stop
    from tests.support.processes import wait_for_http
    if not PG_URL:
        pytest.skip("needs TEST_DATABASE_URL (PostgreSQL)")
    setup = make_test_app_for(database_url_for("postgresql", tmp_path), tmp_path)
    with setup.app_context():
        from dashboard.auth.users import create_user
        from dashboard.models import Company
        create_user("gunicorn.burst@example.test", PASSWORD, "DISPATCHER", db.session.scalar(sa.select(Company)))
        db.session.commit()
    env = {key: value for key, value in os.environ.items() if key != "TEST_DATABASE_URL"}
    env.update(DATABASE_URL=PG_URL, SMARTMOVING_API_KEY="not-used", SECRET_KEY="g" * 40, COOKIE_SECURE="false",
               SYNC_INTERVAL_MINUTES="0", GUNICORN_ACCESS_LOG="/dev/null")
    port = free_port()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    base = f"http://127.0.0.1:{port}"
    with open(tmp_path / "gunicorn.log", "w") as log_file:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--workers", "3",
                                    "--bind", f"127.0.0.1:{port}", "wsgi:app"], cwd=root, env=env,
                                   stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for_http(f"{base}/healthz", process)

            def burst(passwords):
                browsers = []
                for _ in passwords:
                    browser = requests.Session()
                    browsers.append((browser, csrf_token_from(browser.get(f"{base}/auth/login", timeout=10).text)))

                def post(index):
                    browser, token = browsers[index]
                    return browser.post(f"{base}/auth/login", timeout=60, allow_redirects=False, data={
                        "email": "gunicorn.burst@example.test", "password": passwords[index],
                        "csrf_token": token}).status_code
                return _all_at_once(len(passwords), post)

            first = burst(["wrong-guess-123"] * BURST)
            second = burst(["wrong-guess-456"] * 9 + [PASSWORD])
        finally:
            stop(process)
    limit = setup.config["LOGIN_MAX_FAILURES"]
    assert sorted(first) == [401] * limit + [429] * (BURST - limit), first
    assert second == [429] * 10, second
    with setup.app_context():
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))
                                 .where(AuditEvent.action == "auth.login_failed")) == limit
    setup.extensions["sqlalchemy_engine"].dispose()
