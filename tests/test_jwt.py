"""POST /auth/token: a short-lived HS256 JWT accepted wherever a bearer token is, and dead when the sessions are."""
import base64
import json
import warnings
from datetime import timedelta

import jwt
import pytest
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import AuditEvent
from dashboard.models import LoginAttempt
from dashboard.models import User
from dashboard.models import utcnow
from tests.support import PASSWORD
from tests.support import csrf_token_from
from tests.support import login_as
from tests.support import sign_in

API = "/api/smartmoving/jobs/today"
SEED_API = "/smartmoving/jobs/today"
ADDR = {"REMOTE_ADDR": "10.0.0.1"}


@pytest.fixture(autouse=True)
def _cheap(cheap_passwords):
    """Every user's password is PASSWORD, hashed once."""


def get_token(client, email, password=PASSWORD, remote_addr="10.0.0.1"):
    return client.post("/auth/token", json={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": remote_addr})


def token_of(client, email):
    answer = get_token(client, email)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["access_token"]


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def _b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_token_for_email_and_password_works_on_both_prefixes(app, client, make_user):
    user = make_user("DISPATCHER", email="jwt@example.test")
    answer = get_token(client, "JWT@example.test ")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 60 * 60
    assert "Set-Cookie" not in answer.headers  # no session for a program
    header = jwt.get_unverified_header(body["access_token"])
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert header["alg"] == "HS256"
    assert claims["sub"] == str(user.id) and claims["company"] == user.company_id and claims["role"] == "DISPATCHER"
    assert claims["exp"] - claims["iat"] == 3600 and claims["jti"] and claims["ver"]
    assert user.session_token not in body["access_token"] and user.session_token not in json.dumps(claims)
    for path in (API, SEED_API):
        assert client.get(path, headers=auth(body["access_token"])).status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(AuditEvent.action).where(AuditEvent.action == "auth.token"))


def test_jwt_ttl_and_secret_come_from_the_settings(app, client, make_user):
    make_user("MANAGER", email="ttl@example.test")
    app.config.update(JWT_TTL_MINUTES=5, JWT_SECRET="s" * 40)
    token = token_of(client, "ttl@example.test")
    claims = jwt.decode(token, "s" * 40, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 300
    assert client.get(API, headers=auth(token)).status_code == 200
    app.config["JWT_SECRET"] = "t" * 40  # a rotated secret: old tokens are refused
    assert client.get(API, headers=auth(token)).status_code == 401


def test_a_jwt_writes_without_csrf(app, client, make_user, monkeypatch):
    """A bearer call reaches the view (here: told a sync already runs), never a CSRF 400."""
    from dashboard.sync import service

    def busy(*args, **kwargs):
        raise service.SyncAlreadyRunning(1)
    monkeypatch.setattr(service, "start_sync_in_background", busy)
    make_user("ADMIN", email="w@example.test")
    answer = client.post("/smartmoving/jobs/sync", headers=auth(token_of(client, "w@example.test")))
    assert answer.status_code == 409


@pytest.mark.parametrize("body", [None, "nope", {"email": "a@example.test"}, {"email": 1, "password": "x"}, []])
def test_malformed_requests_are_422(client, body):
    answer = client.post("/auth/token", data=None if body is None else json.dumps(body),
                         content_type="application/json")
    assert answer.status_code == 422 and answer.get_json()["error"] == "invalid"


@pytest.mark.parametrize("email,password", [("ghost@example.test", PASSWORD), ("real@example.test", "wrong-one-1")])
def test_wrong_credentials_are_401(app, client, make_user, email, password):
    make_user("ADMIN", email="real@example.test")
    answer = get_token(client, email, password)
    assert answer.status_code == 401 and answer.get_json()["error"] == "unauthorized"
    assert "access_token" not in answer.get_json()
    with app.app_context():
        assert db.session.scalar(sa.select(AuditEvent.action).where(AuditEvent.action == "auth.token_failed"))


def test_disabled_user_gets_401_with_the_right_password(app, client, make_user):
    user = make_user("ADMIN", email="off@example.test")
    with app.app_context():
        db.session.get(User, user.id).is_active_user = False
        db.session.commit()
    assert get_token(client, "off@example.test").status_code == 401


def test_throttle_is_shared_with_the_sign_in_form(app, client, make_user):
    """Failures on the form count against /auth/token and the other way round: one set of counters."""
    make_user("DISPATCHER", email="t@example.test")
    limit = app.config["LOGIN_MAX_FAILURES"]
    for number in range(limit):
        if number % 2:
            assert sign_in(client, "t@example.test", "nope-nope-nope").status_code == 401
        else:
            assert get_token(client, "t@example.test", "nope-nope-nope").status_code == 401
    for attempt in (lambda: get_token(client, "t@example.test"), lambda: sign_in(client, "t@example.test")):
        answer = attempt()
        assert answer.status_code == 429
        assert answer.headers["Retry-After"] == str(app.config["LOGIN_DELAY_SECONDS"])
    assert get_token(client, "t@example.test").get_json()["error"] == "too_many_requests"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(LoginAttempt.id))) == limit
    # From another address the owner still gets a token, and that forgives their failures there.
    assert get_token(client, "t@example.test", remote_addr="10.9.9.9").status_code == 200


def test_tampered_token_is_401(client, make_user):
    make_user("DRIVER", email="d@example.test", crew_name="D")
    token = token_of(client, "d@example.test")
    header, _payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = ".".join((header, _b64(dict(claims, role="SUPER_ADMIN")), signature))
    answer = client.get(API, headers=auth(forged))
    assert answer.status_code == 401 and answer.get_json()["error"] == "unauthorized"
    assert client.get(API, headers=auth(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))).status_code == 401


def test_alg_none_and_other_algorithms_are_refused(app, client, make_user):
    make_user("ADMIN", email="n@example.test")
    claims = jwt.decode(token_of(client, "n@example.test"), options={"verify_signature": False})
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    assert client.get(API, headers=auth(unsigned)).status_code == 401
    with app.app_context():
        from dashboard.auth.jwt_tokens import signing_key
        key = signing_key()
    for algorithm in ("HS384", "HS512"):
        with warnings.catch_warnings():  # our 32-byte key is short for these: the point is they are refused
            warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
            other = jwt.encode(claims, key, algorithm=algorithm)
        assert client.get(API, headers=auth(other)).status_code == 401, algorithm
    good = jwt.encode(claims, key, algorithm="HS256")
    assert client.get(API, headers=auth(good)).status_code == 200


def test_expired_token_is_401_saying_so(app, client, make_user):
    make_user("ADMIN", email="e@example.test")
    with app.app_context():
        from dashboard.auth import jwt_tokens
        user = db.session.scalar(sa.select(User).where(User.email == "e@example.test"))
        token, _ = jwt_tokens.issue(user, now=utcnow() - timedelta(minutes=61))
    answer = client.get(API, headers=auth(token))
    assert answer.status_code == 401
    assert "expired" in answer.get_json()["message"]
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_logout_ends_jwts_but_not_opaque_tokens(app, client, make_user):
    from dashboard.auth.tokens import issue_token
    user = make_user("DISPATCHER", email="lo@example.test")
    with app.app_context():
        _, opaque = issue_token(db.session.get(User, user.id), "script")
        db.session.commit()
    token = token_of(app.test_client(), "lo@example.test")
    assert client.get(API, headers=auth(token)).status_code == 200
    assert sign_in(client, "lo@example.test").status_code == 302
    client.post("/auth/logout", data={"csrf_token": csrf_token_from(client.get("/").get_data(as_text=True))})
    answer = client.get(API, headers=auth(token))
    assert answer.status_code == 401 and "no longer valid" in answer.get_json()["message"]
    assert client.get(API, headers=auth(opaque)).status_code == 200


def test_password_change_ends_jwts(app, client, make_user):
    make_user("MANAGER", email="pw@example.test")
    token = token_of(app.test_client(), "pw@example.test")
    sign_in(client, "pw@example.test")
    csrf = csrf_token_from(client.get("/auth/password").get_data(as_text=True))
    answer = client.post("/auth/password", data={"csrf_token": csrf, "current_password": PASSWORD,
                                                 "new_password": "another-password-9", "confirm": "another-password-9"})
    assert answer.status_code == 302
    assert app.test_client().get(API, headers=auth(token)).status_code == 401


def _admin(app, make_user):
    client = app.test_client()
    login_as(client, make_user("ADMIN"))
    return client, csrf_token_from(client.get("/admin/users").get_data(as_text=True))


def test_role_change_ends_jwts(app, client, make_user):
    user = make_user("DISPATCHER", email="rc@example.test")
    token = token_of(client, "rc@example.test")
    admin, csrf = _admin(app, make_user)
    answer = admin.post(f"/admin/users/{user.id}/edit", data={
        "csrf_token": csrf, "email": user.email, "full_name": "X", "crew_name": "", "role": "MANAGER",
        "company_id": str(user.company_id)})
    assert answer.status_code == 302
    assert client.get(API, headers=auth(token)).status_code == 401


def test_disabling_ends_jwts_and_enabling_does_not_revive_them(app, client, make_user):
    user = make_user("DRIVER", email="dis@example.test", crew_name="Dee")
    token = token_of(client, "dis@example.test")
    admin, csrf = _admin(app, make_user)
    assert admin.post(f"/admin/users/{user.id}/active", data={"csrf_token": csrf}).status_code == 302
    assert client.get(API, headers=auth(token)).status_code == 401
    assert admin.post(f"/admin/users/{user.id}/active", data={"csrf_token": csrf}).status_code == 302
    assert client.get(API, headers=auth(token)).status_code == 401
    assert get_token(client, "dis@example.test").status_code == 200  # enabled again: a new token works


def test_a_jwt_never_falls_back_to_the_cookie(app, client, make_user):
    user = make_user("ADMIN", email="ck@example.test")
    login_as(client, user)
    assert client.get(API, headers=auth("a.b.c")).status_code == 401


@pytest.mark.parametrize("setting,value", [("JWT_TTL_MINUTES", "0"), ("JWT_TTL_MINUTES", "soon"),
                                           ("JWT_SECRET", "short")])
def test_bad_jwt_settings_are_config_errors(tmp_path, monkeypatch, setting, value):
    from dashboard import create_app
    from dashboard.config import ConfigError
    monkeypatch.setenv(setting, value)
    with pytest.raises(ConfigError, match=setting):
        create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "INSTANCE_PATH": str(tmp_path)})
