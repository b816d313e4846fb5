"""Sign-in, sign-out, session timeouts, throttling and password change, through the real forms."""
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import LoginAttempt
from dashboard.models import User
from tests.support import PASSWORD
from tests.support import csrf_token_from
from tests.support import login_as
from tests.support import sign_in


def test_login_page_renders_with_csrf(client):
    response = client.get("/auth/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="csrf_token"' in html and 'name="csrf-token"' in html
    assert "<script>" not in html and 'style="' not in html  # CSP: no inline script or style


def test_sign_in_and_out(client, make_user):
    user = make_user("DISPATCHER", email="disp@example.test")
    response = sign_in(client, "DISP@example.test ")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    board = client.get("/")
    assert board.status_code == 200
    assert "disp@example.test" in board.get_data(as_text=True) or user.full_name in board.get_data(as_text=True)
    token = csrf_token_from(board.get_data(as_text=True))
    assert client.get("/auth/logout").status_code == 405  # never a state-changing GET
    assert client.post("/auth/logout").status_code == 400  # CSRF required
    out = client.post("/auth/logout", data={"csrf_token": token})
    assert out.status_code == 302 and out.headers["Location"].startswith("/auth/login")
    assert client.get("/").status_code == 302


def test_session_is_regenerated_on_sign_in(client, make_user):
    make_user("DISPATCHER", email="fix@example.test")
    with client.session_transaction() as session:
        session["planted"] = "attacker"
    sign_in(client, "fix@example.test")
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("login_at") and session.get("last_seen")


@pytest.mark.parametrize("email,password", [("who@example.test", PASSWORD), ("real@example.test", "wrong-password-1")])
def test_failures_share_one_generic_message(client, make_user, email, password):
    make_user("DISPATCHER", email="real@example.test")
    response = sign_in(client, email, password)
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert "That email and password do not match an active account." in html
    assert "Unknown" not in html and "no such" not in html.lower()


def test_disabled_user_cannot_sign_in(app, client, make_user):
    user = make_user("MANAGER", email="gone@example.test")
    with app.app_context():
        db.session.get(User, user.id).is_active_user = False
        db.session.commit()
    response = sign_in(client, "gone@example.test")
    assert response.status_code == 401
    assert client.get("/").status_code == 302


def test_throttle_per_account_and_address_never_locks_out_the_owner_elsewhere(app, client, make_user):
    make_user("DISPATCHER", email="target@example.test")
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        assert sign_in(client, "target@example.test", "nope-nope-nope").status_code == 401
    response = sign_in(client, "target@example.test")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == str(app.config["LOGIN_DELAY_SECONDS"])
    html = response.get_data(as_text=True)
    assert "Too many failed sign-ins, try again in 30 seconds" in html
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(LoginAttempt.id))) == limit
    # The owner, at their own address, is not delayed by the guesser's failures.
    assert sign_in(client, "target@example.test", remote_addr="10.9.9.9").status_code == 302


def _age_attempts(app, seconds):
    with app.app_context():
        for attempt in db.session.scalars(sa.select(LoginAttempt)):
            attempt.attempted_at -= timedelta(seconds=seconds)
        db.session.commit()


def test_throttle_delays_grow_and_end(app, client, make_user):
    make_user("DISPATCHER", email="later@example.test")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        sign_in(client, "later@example.test", "nope-nope-nope")
    waits = []
    for _ in range(3):
        _age_attempts(app, 250)  # past the current delay, still inside the 15-minute window
        assert sign_in(client, "later@example.test", "nope-nope-nope").status_code == 401
        waits.append(int(sign_in(client, "later@example.test").headers["Retry-After"]))
    assert waits == [60, 120, 240]
    _age_attempts(app, app.config["LOGIN_FAILURE_WINDOW_MINUTES"] * 60 + 1)
    assert sign_in(client, "later@example.test").status_code == 302


def test_throttle_delay_is_capped(app, client, make_user):
    app.config.update(LOGIN_MAX_FAILURES=1, LOGIN_DELAY_SECONDS=400, LOGIN_MAX_DELAY_SECONDS=500)
    make_user("DISPATCHER", email="cap@example.test")
    sign_in(client, "cap@example.test", "nope-nope-nope")
    assert sign_in(client, "cap@example.test").headers["Retry-After"] == "400"
    _age_attempts(app, 401)
    sign_in(client, "cap@example.test", "nope-nope-nope")
    answer = sign_in(client, "cap@example.test")
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "500"
    assert "9 minutes" in answer.get_data(as_text=True)


def test_throttle_per_ip_across_accounts(app, client, make_user):
    app.config["LOGIN_MAX_FAILURES_PER_IP"] = 3
    make_user("DISPATCHER", email="victim@example.test")
    for n in range(3):
        sign_in(client, f"spray{n}@example.test", "whatever-pass", remote_addr="10.6.6.6")
    assert sign_in(client, "victim@example.test", remote_addr="10.6.6.6").status_code == 429
    assert sign_in(client, "victim@example.test", remote_addr="10.7.7.7").status_code == 302


def test_known_device_is_not_held_up_by_a_sprayer_on_its_address(app, client, make_user):
    app.config["LOGIN_MAX_FAILURES_PER_IP"] = 3
    make_user("DISPATCHER", email="office@example.test")
    assert sign_in(client, "office@example.test", remote_addr="10.6.6.6").status_code == 302
    assert client.get_cookie("known_device", path="/auth/") is not None
    client.post("/auth/logout", data={"csrf_token": csrf_token_from(client.get("/").get_data(as_text=True))})
    sprayer = app.test_client()
    for n in range(3):
        sign_in(sprayer, f"spray{n}@example.test", "whatever-pass", remote_addr="10.6.6.6")
    assert sign_in(app.test_client(), "office@example.test", remote_addr="10.6.6.6").status_code == 429
    device = client.get_cookie("known_device", path="/auth/").value
    assert sign_in(client, "office@example.test", remote_addr="10.6.6.6").status_code == 302
    # The cookie names its account: it does not help a guesser against another one.
    guesser = app.test_client()
    guesser.set_cookie("known_device", device, path="/auth/")
    assert sign_in(guesser, "victim@example.test", "x-x-x-x-x", remote_addr="10.6.6.6").status_code == 429


def test_trusted_proxies_take_the_client_address_from_x_forwarded_for(app, tmp_path, make_user):
    from tests.support import make_test_app
    make_user("DISPATCHER", email="proxied@example.test")
    proxied = make_test_app(app.config["DATABASE_URL"], tmp_path / "p", TRUSTED_PROXIES=1, LOGIN_MAX_FAILURES=1)
    client = proxied.test_client()
    page = client.get("/auth/login")
    data = {"email": "proxied@example.test", "password": "wrong-wrong-wrong",
            "csrf_token": csrf_token_from(page.get_data(as_text=True))}
    assert client.post("/auth/login", data=data, headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 401
    with proxied.app_context():
        assert db.session.scalar(sa.select(LoginAttempt.remote_addr)) == "203.0.113.7"
    # Same proxy, another client behind it: not delayed by 203.0.113.7's failure.
    data["password"] = PASSWORD
    assert client.post("/auth/login", data=data, headers={"X-Forwarded-For": "198.51.100.9"}).status_code == 302
    proxied.extensions["sqlalchemy_engine"].dispose()


def test_without_trusted_proxies_x_forwarded_for_is_ignored(app, client, make_user):
    make_user("DISPATCHER", email="direct@example.test")
    page = client.get("/auth/login")
    client.post("/auth/login", data={"email": "direct@example.test", "password": "wrong-wrong-wrong",
                                     "csrf_token": csrf_token_from(page.get_data(as_text=True))},
                headers={"X-Forwarded-For": "203.0.113.7"}, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    with app.app_context():
        assert db.session.scalar(sa.select(LoginAttempt.remote_addr)) == "10.0.0.1"


@pytest.mark.parametrize("key", ["LOGIN_MAX_FAILURES_PER_IP", "LOGIN_DELAY_SECONDS", "LOGIN_MAX_DELAY_SECONDS",
                                 "LOGIN_MAX_FAILURES", "TRUSTED_PROXIES"])
def test_throttle_settings_come_from_the_environment(tmp_path, monkeypatch, key):
    from dashboard import create_app
    from dashboard.config import ConfigError
    config = {"TESTING": True, "DATABASE_URL": "sqlite://", "INSTANCE_PATH": str(tmp_path)}
    monkeypatch.setenv(key, "7")
    assert create_app(config).config[key] == 7
    monkeypatch.setenv(key, "lots")
    with pytest.raises(ConfigError, match=key):
        create_app(config)


def test_sign_ins_and_failures_are_audited(app, client, make_user):
    from dashboard.models import AuditEvent
    user = make_user("DISPATCHER", email="aud@example.test")
    sign_in(client, "aud@example.test", "wrong-wrong-wrong")
    sign_in(client, "nobody@example.test", "wrong-wrong-wrong")
    sign_in(client, "aud@example.test")
    with app.app_context():
        events = [(e.action, e.user_id, e.target, e.detail["ip"]) for e in db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action.like("auth.%")).order_by(AuditEvent.id))]
    assert events == [("auth.login_failed", user.id, "aud@example.test", "10.0.0.1"),
                      ("auth.login_failed", None, "nobody@example.test", "10.0.0.1"),
                      ("auth.login", user.id, "aud@example.test", "10.0.0.1")]


@pytest.mark.parametrize("target,landing", [
    ("/board/tomorrow", "/board/tomorrow"),
    ("//evil.example/x", "/"),
    ("https://evil.example/", "/"),
    ("/\\evil.example", "/"),
])
def test_next_is_same_site_only(client, make_user, target, landing):
    make_user("DISPATCHER", email="nxt@example.test")
    response = sign_in(client, "nxt@example.test", next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == landing


def test_idle_timeout(app, client, make_user):
    user = make_user("DISPATCHER")
    login_as(client, user)
    assert client.get("/").status_code == 200
    with client.session_transaction() as session:
        session["last_seen"] = time.time() - app.config["SESSION_IDLE_MINUTES"] * 60 - 5
    response = client.get("/board/tomorrow")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    assert "inactivity" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_absolute_timeout(app, client, make_user):
    login_as(client, make_user("DISPATCHER"))
    with client.session_transaction() as session:
        session["login_at"] = time.time() - app.config["SESSION_MAX_HOURS"] * 3600 - 5
    assert client.get("/").status_code == 302
    htmx = client.get("/", headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/"})
    assert htmx.status_code == 401 and "HX-Redirect" in htmx.headers


@pytest.mark.parametrize("role, path, poller", [("DISPATCHER", "/", "board-live"),
                                                ("DRIVER", "/my-jobs", "my-jobs-live")])
def test_background_polling_does_not_count_as_activity(app, client, make_user, role, path, poller):
    login_as(client, make_user(role, crew_name="Dan Driver" if role == "DRIVER" else None))
    old = time.time() - 120
    with client.session_transaction() as session:
        session["last_seen"] = old
    assert client.get(path, headers={"HX-Request": "true", "HX-Trigger": poller}).status_code == 200
    with client.session_transaction() as session:
        assert session["last_seen"] == old
    client.get(path)
    with client.session_transaction() as session:
        assert session["last_seen"] > old


def test_password_change_rotates_token_and_keeps_this_session(app, client, make_user):
    user = make_user("MANAGER", email="pw@example.test")
    other_device = app.test_client()
    login_as(other_device, user)
    sign_in(client, "pw@example.test")
    token = csrf_token_from(client.get("/auth/password").get_data(as_text=True))

    wrong = client.post("/auth/password", data={"csrf_token": token, "current_password": "not-it-at-all",
                                                "new_password": "a-new-password-123", "confirm": "a-new-password-123"})
    assert wrong.status_code == 422 and "That is not your current password." in wrong.get_data(as_text=True)
    mismatch = client.post("/auth/password", data={"csrf_token": token, "current_password": PASSWORD,
                                                   "new_password": "a-new-password-123", "confirm": "different-123456"})
    assert mismatch.status_code == 422 and "The two new passwords differ." in mismatch.get_data(as_text=True)

    ok = client.post("/auth/password", data={"csrf_token": token, "current_password": PASSWORD,
                                             "new_password": "a-new-password-123", "confirm": "a-new-password-123"})
    assert ok.status_code == 302
    assert client.get("/").status_code == 200  # this browser stays signed in
    assert other_device.get("/").status_code == 302  # every other session ended
    with app.app_context():
        assert db.session.get(User, user.id).session_token != user.session_token
    fresh = app.test_client()
    assert sign_in(fresh, "pw@example.test", "a-new-password-123").status_code == 302


def test_sign_in_over_plain_http_with_secure_cookies_says_https_is_expected(app, tmp_path, make_user):
    from tests.support import make_test_app
    make_user("DISPATCHER", email="plain@example.test")
    secure = make_test_app(app.config["DATABASE_URL"], tmp_path / "s", SESSION_COOKIE_SECURE=True)
    browser = secure.test_client()
    token = csrf_token_from(browser.get("/auth/login").get_data(as_text=True))
    browser.delete_cookie("session")  # what a browser does with a Secure cookie over http://
    answer = browser.post("/auth/login", data={"email": "plain@example.test", "password": PASSWORD,
                                               "csrf_token": token})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "This server expects HTTPS (set COOKIE_SECURE=false for local trials)." in html
    assert "expired" not in html
    # Over HTTPS (or a proxy that forwards the cookie) signing in works as ever.
    tls = secure.test_client()
    token = csrf_token_from(tls.get("/auth/login", base_url="https://localhost").get_data(as_text=True))
    answer = tls.post("/auth/login", base_url="https://localhost", headers={"Referer": "https://localhost/auth/login"},
                      data={"email": "plain@example.test", "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 302
    secure.extensions["sqlalchemy_engine"].dispose()
