"""CORS: the origins of CORS_ORIGINS get CORS headers on the JSON API (and /auth/token) only, never credentials."""
import pytest

from dashboard.config import ConfigError
from dashboard.config import parse_origins
from tests.support import make_test_app
from tests.support.api import bearer

ALLOWED = "https://crm.example.com"
OTHER = "https://evil.example.net"


@pytest.fixture
def cors_app(backend, tmp_path):
    from tests.support import database_url_for
    app = make_test_app(database_url_for(backend, tmp_path), tmp_path, CORS_ORIGINS=f"{ALLOWED}, http://localhost:3000")
    yield app
    app.extensions["sqlalchemy_engine"].dispose()


@pytest.mark.parametrize("path", ["/api/smartmoving/jobs/today", "/smartmoving/jobs/today"])
def test_allowed_origin_gets_cors_on_the_api_without_credentials(cors_app, path):
    client = cors_app.test_client()
    answer = client.get(path, headers={"Origin": ALLOWED})
    assert answer.status_code == 401  # anonymous; the error still carries CORS so the script can read it
    assert answer.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "Origin" in ", ".join(answer.headers.getlist("Vary"))  # no shared cache mixes origins up
    assert "Access-Control-Allow-Credentials" not in answer.headers


def test_allowed_origin_reads_the_api_with_a_bearer_token(cors_app):
    from dashboard.auth.users import create_user
    from dashboard.auth.users import find_company
    from dashboard.db import db
    with cors_app.app_context():
        user = create_user("c@example.test", "correct-horse-battery", "ADMIN", find_company())
        db.session.commit()
    headers = dict(bearer(cors_app, user), Origin="http://localhost:3000")
    answer = cors_app.test_client().get("/smartmoving/sync/status", headers=headers)
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "Access-Control-Allow-Credentials" not in answer.headers


@pytest.mark.parametrize("path,method", [("/api/smartmoving/jobs/sync", "POST"), ("/smartmoving/jobs/1", "PATCH"),
                                         ("/auth/token", "POST")])
def test_preflight_allows_authorization(cors_app, path, method):
    answer = cors_app.test_client().options(path, headers={
        "Origin": ALLOWED, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert method in answer.headers["Access-Control-Allow-Methods"]
    allowed = answer.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "Access-Control-Allow-Credentials" not in answer.headers


@pytest.mark.parametrize("path", ["/api/smartmoving/jobs/today", "/smartmoving/health", "/auth/token"])
def test_other_origins_get_no_cors_header(cors_app, path):
    client = cors_app.test_client()
    for answer in (client.get(path, headers={"Origin": OTHER}),
                   client.options(path, headers={"Origin": OTHER, "Access-Control-Request-Method": "POST",
                                                 "Access-Control-Request-Headers": "authorization"})):
        assert not [name for name, _value in answer.headers if name.lower().startswith("access-control-")]


@pytest.mark.parametrize("path", ["/auth/login", "/", "/healthz", "/auth/tokens"])
def test_pages_get_no_cors_header_even_for_allowed_origins(cors_app, path):
    answer = cors_app.test_client().get(path, headers={"Origin": ALLOWED})
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_no_origins_by_default(app, client):
    assert app.config["CORS_ORIGINS"] == ()
    answer = client.options("/api/smartmoving/jobs/today", headers={
        "Origin": ALLOWED, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert "Access-Control-Allow-Origin" not in client.get("/smartmoving/health", headers={"Origin": ALLOWED}).headers


def test_origins_are_parsed_and_checked():
    assert parse_origins("CORS_ORIGINS", " https://A.example.com/ ,http://[::1]:5000,,") == (
        "https://a.example.com", "http://[::1]:5000")
    for bad in ("*", "crm.example.com", "https://x.example.com/path", "ftp://x.example.com", "https://u:p@x.com",
                "http://x:port"):
        with pytest.raises(ConfigError, match="CORS_ORIGINS"):
            parse_origins("CORS_ORIGINS", bad)
