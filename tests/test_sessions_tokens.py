"""Sessions and API tokens end on the server: logout, password, role and state changes; the token page."""
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import ApiToken
from dashboard.models import AuditEvent
from dashboard.models import User
from dashboard.models import utcnow
from tests.support import PASSWORD
from tests.support import csrf_token_from
from tests.support import login_as
from tests.support import sign_in

API = "/api/smartmoving/jobs/today"


def issue(app, user, name="script"):
    """A fresh token for user: (row id, plaintext)."""
    from dashboard.auth.tokens import issue_token
    with app.app_context():
        row, token = issue_token(db.session.get(User, user.id), name)
        db.session.commit()
        return row.id, token


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def copy_cookie(app, client):
    """Another client holding the same session cookie (what an attacker copies)."""
    thief = app.test_client()
    cookie = client.get_cookie("session")
    thief.set_cookie("session", cookie.value)
    return thief


def test_logout_ends_the_session_on_the_server(app, client, make_user):
    user = make_user("DISPATCHER", email="out@example.test")
    assert sign_in(client, "out@example.test").status_code == 302
    thief = copy_cookie(app, client)
    assert thief.get("/").status_code == 200
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    assert client.post("/auth/logout", data={"csrf_token": token}).status_code == 302
    assert thief.get("/").status_code == 302
    assert thief.get(API).status_code == 401
    with app.app_context():
        assert db.session.get(User, user.id).session_token != user.session_token
        assert db.session.scalar(sa.select(AuditEvent.action).where(AuditEvent.action == "auth.logout"))


def test_logout_keeps_api_tokens(app, client, make_user):
    """Signing out of a browser does not break the user's scripts (a password change does)."""
    user = make_user("DISPATCHER", email="keep@example.test")
    _, token = issue(app, user)
    sign_in(client, "keep@example.test")
    client.post("/auth/logout", data={"csrf_token": csrf_token_from(client.get("/").get_data(as_text=True))})
    assert client.get(API, headers=auth(token)).status_code == 200


def test_password_change_revokes_tokens(app, client, make_user):
    user = make_user("MANAGER", email="pwt@example.test")
    _, token = issue(app, user)
    sign_in(client, "pwt@example.test")
    csrf = csrf_token_from(client.get("/auth/password").get_data(as_text=True))
    answer = client.post("/auth/password", data={"csrf_token": csrf, "current_password": PASSWORD,
                                                 "new_password": "another-password-9", "confirm": "another-password-9"})
    assert answer.status_code == 302
    assert client.get(API, headers=auth(token)).status_code == 401
    with app.app_context():
        assert db.session.scalar(sa.select(ApiToken.revoked_at)) is not None


def _admin_client(app, make_user):
    admin = make_user("ADMIN")
    client = app.test_client()
    login_as(client, admin)
    return client, csrf_token_from(client.get("/admin/users").get_data(as_text=True))


def test_role_change_ends_sessions_and_tokens(app, make_user):
    user = make_user("DISPATCHER")
    _, token = issue(app, user)
    victim = app.test_client()
    login_as(victim, user)
    admin, csrf = _admin_client(app, make_user)
    answer = admin.post(f"/admin/users/{user.id}/edit", data={
        "csrf_token": csrf, "email": user.email, "full_name": "X", "crew_name": "", "role": "MANAGER",
        "company_id": str(user.company_id)})
    assert answer.status_code == 302
    assert victim.get("/").status_code == 302
    assert victim.get(API, headers=auth(token)).status_code == 401


def test_disable_then_enable_does_not_revive_tokens_or_sessions(app, make_user):
    user = make_user("DRIVER", crew_name="Dee")
    _, token = issue(app, user)
    victim = app.test_client()
    login_as(victim, user)
    admin, csrf = _admin_client(app, make_user)
    assert admin.post(f"/admin/users/{user.id}/active", data={"csrf_token": csrf}).status_code == 302
    assert victim.get(API, headers=auth(token)).status_code == 401
    assert admin.post(f"/admin/users/{user.id}/active", data={"csrf_token": csrf}).status_code == 302
    with app.app_context():
        assert db.session.get(User, user.id).is_active_user
    assert victim.get(API, headers=auth(token)).status_code == 401
    assert victim.get("/my-jobs").status_code == 302


def test_token_page_creates_shows_once_and_revokes(app, client, make_user):
    user = make_user("MOVER", crew_name="Mo")
    login_as(client, user)
    page = client.get("/auth/tokens")
    assert page.status_code == 200 and "No tokens yet" in page.get_data(as_text=True)
    csrf = csrf_token_from(page.get_data(as_text=True))
    assert client.post("/auth/tokens", data={"name": "phone"}).status_code == 400  # no CSRF
    assert client.post("/auth/tokens", data={"csrf_token": csrf, "name": ""}).status_code == 422
    created = client.post("/auth/tokens", data={"csrf_token": csrf, "name": "phone", "password": PASSWORD})
    assert created.status_code == 201
    token = re.search(r'<code class="token-value">(smd_[^<]+)</code>', created.get_data(as_text=True)).group(1)
    listed = client.get("/auth/tokens").get_data(as_text=True)
    assert token not in listed and token[:10] in listed and "phone" in listed and "never" in listed

    assert client.get(API, headers=auth(token)).status_code == 200
    with app.app_context():
        row = db.session.scalar(sa.select(ApiToken))
        first_use = row.last_used_at
        assert first_use is not None
        row_id = row.id
    client.get(API, headers=auth(token))
    with app.app_context():
        assert db.session.get(ApiToken, row_id).last_used_at == first_use  # at most once a minute
        db.session.get(ApiToken, row_id).last_used_at = utcnow() - timedelta(minutes=2)
        db.session.commit()
    client.get(API, headers=auth(token))
    with app.app_context():
        assert db.session.get(ApiToken, row_id).last_used_at > utcnow() - timedelta(minutes=1)

    assert client.post(f"/auth/tokens/{row_id}/revoke").status_code == 400  # no CSRF
    assert client.post(f"/auth/tokens/{row_id}/revoke", data={"csrf_token": csrf}).status_code == 302
    assert client.get(API, headers=auth(token)).status_code == 401
    assert "Revoked" in client.get("/auth/tokens").get_data(as_text=True)
    with app.app_context():
        actions = set(db.session.scalars(sa.select(AuditEvent.action)))
    assert {"token.create", "token.revoke"} <= actions


def test_tokens_of_others_are_404_except_for_admins_in_scope(app, client, make_user, make_company):
    owner = make_user("DISPATCHER")
    token_id, _ = issue(app, owner, "owner's")
    other = make_user("MANAGER")
    login_as(client, other)
    csrf = csrf_token_from(client.get("/auth/tokens").get_data(as_text=True))
    assert "owner&#39;s" not in client.get("/auth/tokens").get_data(as_text=True)
    assert client.post(f"/auth/tokens/{token_id}/revoke", data={"csrf_token": csrf}).status_code == 404
    assert client.post("/auth/tokens/99999999999/revoke", data={"csrf_token": csrf}).status_code == 404

    super_admin = make_user("SUPER_ADMIN")
    super_token, _ = issue(app, super_admin, "super's")
    rival_admin = make_user("ADMIN", company=make_company("Rival"))
    login_as(client, rival_admin)
    assert client.post(f"/auth/tokens/{token_id}/revoke", data={"csrf_token": csrf}).status_code == 404

    admin = make_user("ADMIN")
    login_as(client, admin)
    listed = client.get("/auth/tokens").get_data(as_text=True)
    assert owner.email in listed and "super&#39;s" not in listed
    assert client.post(f"/auth/tokens/{super_token}/revoke", data={"csrf_token": csrf}).status_code == 404
    assert client.post(f"/auth/tokens/{token_id}/revoke", data={"csrf_token": csrf}).status_code == 302


def test_cli_names_and_revokes_tokens(app, runner, make_user):
    user = make_user("AUDITOR", email="cli@example.test")
    result = runner.invoke(args=["create-token", "cli@example.test", "--name", "nightly report"])
    assert result.exit_code == 0, result.output
    token = result.output.split()[-1]
    client = app.test_client()
    assert client.get(API, headers=auth(token)).status_code == 200
    result = runner.invoke(args=["revoke-token", "cli@example.test", "--prefix", token[:10]])
    assert "Revoked 1 token" in result.output
    assert client.get(API, headers=auth(token)).status_code == 401
    with app.app_context():
        row = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == user.id))
        assert row.name == "nightly report" and row.revoked_at is not None


# --- item 2: an Authorization header decides alone; CSRF on every cookie write ---

@pytest.mark.parametrize("header", ["Bearer junk", "Bearer ", "Basic dXNlcjpwYXNz", "smd_x", "Bearer " + "x" * 300])
def test_authorization_that_does_not_authenticate_is_401_not_the_cookie(app, client, make_user, login, header):
    login(make_user("ADMIN"))
    for method, path in (("GET", API), ("POST", "/api/smartmoving/jobs/sync"), ("GET", "/"), ("POST", "/sync/run")):
        answer = client.open(path, method=method, headers={"Authorization": header})
        assert answer.status_code == 401, (method, path)
        assert answer.get_json()["error"] == "unauthorized"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_valid_bearer_wins_over_the_cookie(app, client, make_user, login):
    login(make_user("ADMIN"))
    _, token = issue(app, make_user("DRIVER", crew_name="Nobody"))
    assert client.get("/api/smartmoving/locations", headers=auth(token)).status_code == 403


def test_cookie_writes_need_csrf_but_bearer_writes_do_not(app, client, make_user, login, monkeypatch):
    import dashboard.sync.service as service
    monkeypatch.setattr(service, "start_sync_in_background",
                        lambda *a, **k: (_ for _ in ()).throw(service.SyncAlreadyRunning("busy")))
    admin = make_user("ADMIN")
    login(admin)
    assert client.post("/api/smartmoving/jobs/sync").status_code == 400
    csrf = csrf_token_from(client.get("/").get_data(as_text=True))
    assert client.post("/api/smartmoving/jobs/sync", headers={"X-CSRFToken": csrf}).status_code == 409
    _, token = issue(app, admin)
    fresh = app.test_client()
    assert fresh.post("/api/smartmoving/jobs/sync", headers=auth(token)).status_code == 409
