"""Sign-in, sign-out, session timeouts, throttling and password change, through the real forms."""
import time

import pytest
import sqlalchemy as sa

from conftest import PASSWORD
from conftest import csrf_token_from
from conftest import login_as
from dashboard.db import db
from dashboard.models import LoginAttempt
from dashboard.models import User


def sign_in(client, email, password=PASSWORD, next_url=None, remote_addr="10.0.0.1"):
    page = client.get("/auth/login" + (f"?next={next_url}" if next_url else ""))
    token = csrf_token_from(page.get_data(as_text=True))
    data = {"email": email, "password": password, "csrf_token": token}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/auth/login", data=data, environ_base={"REMOTE_ADDR": remote_addr})


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


def test_throttle_per_account_blocks_even_the_right_password(app, client, make_user):
    make_user("DISPATCHER", email="target@example.test")
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        assert sign_in(client, "target@example.test", "nope-nope-nope").status_code == 401
    response = sign_in(client, "target@example.test")
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert "Too many failed sign-ins, try again in" in html and "minutes" in html
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(LoginAttempt.id))) == limit
    # Another address is still locked out of this account; other accounts are not.
    assert sign_in(client, "target@example.test", remote_addr="10.9.9.9").status_code == 429


def test_throttle_window_expires(app, client, make_user):
    make_user("DISPATCHER", email="later@example.test")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        sign_in(client, "later@example.test", "nope-nope-nope")
    with app.app_context():
        for attempt in db.session.scalars(sa.select(LoginAttempt)):
            attempt.attempted_at = attempt.attempted_at.replace(year=attempt.attempted_at.year - 1)
        db.session.commit()
    assert sign_in(client, "later@example.test").status_code == 302


def test_throttle_per_ip_across_accounts(app, client, make_user):
    app.config["LOGIN_MAX_FAILURES_PER_IP"] = 3
    make_user("DISPATCHER", email="victim@example.test")
    for n in range(3):
        sign_in(client, f"spray{n}@example.test", "whatever-pass", remote_addr="10.6.6.6")
    assert sign_in(client, "victim@example.test", remote_addr="10.6.6.6").status_code == 429
    assert sign_in(client, "victim@example.test", remote_addr="10.7.7.7").status_code == 302


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


def test_background_polling_does_not_count_as_activity(app, client, make_user):
    login_as(client, make_user("DISPATCHER"))
    old = time.time() - 120
    with client.session_transaction() as session:
        session["last_seen"] = old
    client.get("/", headers={"HX-Request": "true", "HX-Trigger": "board-live"})
    with client.session_transaction() as session:
        assert session["last_seen"] == old
    client.get("/")
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
