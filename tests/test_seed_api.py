"""The seed specification's paths: /smartmoving/... answers as /api/smartmoving/... does, role by role; /health."""
import pytest

from dashboard.db import db
from dashboard.models import SyncRun
from dashboard.permissions import ROLE_PERMISSIONS
from dashboard.permissions import Perm
from dashboard.permissions import Role
from tests.support import login_as
from tests.support.api import bearer
from tests.support.ui import ROLES
from tests.support.ui import build_world

PREFIXES = ("/api/smartmoving", "/smartmoving")

# (method, path under the prefix, permission needed, status when allowed)
REPRESENTATIVE = [
    ("GET", "/jobs/today", Perm.VIEW_OWN_JOBS, 200),
    ("GET", "/jobs/tomorrow", Perm.VIEW_OWN_JOBS, 200),
    ("GET", "/sync/status", Perm.VIEW_JOBS, 200),
    ("GET", "/locations", Perm.VIEW_JOBS, 200),
    ("POST", "/jobs/sync", Perm.SYNC_DATA, 202),
]


@pytest.mark.parametrize("role", ROLES)
def test_both_prefixes_answer_each_role_alike(app, client, default_company, make_company, make_location, make_user,
                                              quick_syncs, role):
    world = build_world(app, default_company, make_company, make_location, make_user)
    headers = bearer(app, world.users[role])
    failures = []
    for method, path, perm, ok_status in REPRESENTATIVE:
        want = ok_status if perm in ROLE_PERMISSIONS[Role(role)] else 403
        bodies = []
        for prefix in PREFIXES:
            answer = client.open(prefix + path, method=method, headers=headers)
            if answer.status_code != want:
                failures.append(f"{method} {prefix}{path}: {answer.status_code}, expected {want}")
            bodies.append(answer.get_json())
        if method == "GET" and want == 200 and bodies[0] != bodies[1]:
            failures.append(f"GET {path}: the two prefixes answer differently")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_anonymous_gets_json_401_and_unknown_paths_json_404(client, prefix):
    answer = client.get(prefix + "/jobs/today")
    assert answer.status_code == 401 and answer.get_json()["error"] == "unauthorized"
    missing = client.get(prefix + "/no-such-thing")
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("method", ("GET", "HEAD"))
def test_get_on_the_sync_trigger_is_405_allow_post(app, client, make_user, prefix, method):
    answer = client.open(prefix + "/jobs/sync", method=method, headers=bearer(app, make_user("ADMIN")))
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"
    if method == "GET":
        body = answer.get_json()
        assert body["error"] == "method_not_allowed"
        assert "POST" in body["message"]
    with app.app_context():
        assert db.session.query(SyncRun).count() == 0


def test_cookie_writes_on_the_seed_prefix_still_need_csrf(app, client, make_user, quick_syncs):
    """The seed registration shares the api blueprint's hooks: a session POST without its token is refused."""
    login_as(client, make_user("ADMIN"))
    answer = client.post("/smartmoving/jobs/sync")
    assert answer.status_code == 400 and answer.get_json()["error"] == "bad_request"


def test_bearer_writes_on_the_seed_prefix_need_no_csrf(app, client, make_user, quick_syncs):
    answer = client.post("/smartmoving/jobs/sync", headers=bearer(app, make_user("ADMIN")))
    assert answer.status_code == 202


@pytest.mark.parametrize("path", ("/health", "/healthz"))
def test_health_beside_healthz(client, path):
    answer = client.get(path)
    assert answer.status_code == 200 and answer.get_json() == {"status": "ok"}


def test_seed_health_is_the_api_health(client):
    seed_health = client.get("/smartmoving/health").get_json()
    assert seed_health.keys() == client.get("/api/smartmoving/health").get_json().keys()


def test_every_api_route_has_its_seed_twin(app):
    """Same view function, methods and path after the prefix: the seed registration can never drift."""
    def routes(blueprint, prefix):
        return {(rule.rule[len(prefix):], frozenset(rule.methods), app.view_functions[rule.endpoint])
                for rule in app.url_map.iter_rules() if rule.endpoint.startswith(blueprint + ".")}
    ours = routes("api", "/api/smartmoving")
    assert ours and ours == routes("seed_api", "/smartmoving")


def test_docs_page_loads_swagger_ui_from_our_own_files(client):
    page = client.get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'data-spec-url="/api/smartmoving/openapi.json"' in html
    assert "http://" not in html and "https://" not in html and "//cdn" not in html  # no CDN
    assert "<script>" not in html  # configured by static/docs.js: the CSP allows no inline script
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    for src in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/static/docs.js"):
        assert src in html
        asset = client.get(src)
        assert asset.status_code == 200 and asset.content_length > 100, src
        assert asset.headers["Cache-Control"] != "no-store", src
        asset.close()


@pytest.mark.parametrize("name", ["index.html", "oauth2-redirect.html", "..%2F__init__.py", "LICENSE"])
def test_docs_assets_are_a_fixed_list(client, name):
    assert client.get(f"/docs/assets/{name}").status_code == 404


def test_a_client_written_from_the_seed_endpoint_list(app, client, make_user, cheap_passwords, quick_syncs):
    """Only the seed's paths, GET/POST and a bearer JWT from POST /auth/token: every call answers."""
    from tests.support import PASSWORD
    make_user("SUPER_ADMIN", email="seed@example.test")
    login = client.post("/auth/token", json={"email": "seed@example.test", "password": PASSWORD})
    assert login.status_code == 200
    headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    assert client.get("/health").status_code == 200
    assert client.get("/docs").status_code == 200
    assert client.get("/smartmoving/health").get_json()["database"] == "ok"
    for path in ("/smartmoving/jobs/today", "/smartmoving/jobs/tomorrow"):
        assert client.get(path, headers=headers).get_json()["count"] == 0
    assert client.post("/smartmoving/jobs/sync", headers=headers).status_code == 202
    assert client.get("/smartmoving/jobs/sync", headers=headers).status_code == 405
    assert client.get("/smartmoving/sync/status", headers=headers).get_json()["runs"]
    assert "locations" in client.get("/smartmoving/locations", headers=headers).get_json()
