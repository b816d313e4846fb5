"""Every route is protected on purpose, and each role gets exactly what ROLE_PERMISSIONS says.

The expected statuses are generated from the permission table, so a change to the table
or to a route's decorator shows up here route by route.
"""

import pytest

from dashboard.permissions import Perm
from tests.support import csrf_token_from
from tests.support import login_as
from tests.support.routes import ROUTES
from tests.support.routes import allowed
from tests.support.routes import own_token_id
from tests.support.ui import ROLES
from tests.support.ui import add_job
from tests.support.ui import add_truck
from tests.support.ui import build_world

UI_BLUEPRINTS = ("jobs", "sync", "locations", "admin", "auth", "audit", "reports")

# (method, path template, needed permission, endpoint). "login" = any signed-in role; "public" = anyone.
# Form fields per endpoint; "{name}" values are filled in like the paths.
POST_DATA = {
    "jobs.edit": {"truck_id": "0", "crew_other": "Helper Hal", "dispatch_status": "ASSIGNED", "notes": "Bring ramps"},
    "jobs.assign": {"truck_id": "0", "crew_other": "Helper Hal", "dispatch_status": "ASSIGNED", "notes": ""},
    "jobs.accept_crew": {"job": "{job_a}"},
    "jobs.new_job": {"location_id": "{loc_a}", "scheduled_date": "{today}", "customer_name": "Walk-in Wanda"},
}


def expected_status(role, method, perm, endpoint):
    """The answer a role (None = anonymous) should get, derived from ROLE_PERMISSIONS."""
    if role is None:
        if perm == "public":
            return 302 if method == "POST" else 200
        return 302  # to the sign-in page
    if not allowed(role, perm):
        return 403
    if method == "POST":
        return 302  # post/redirect/get
    if endpoint == "jobs.today" and not allowed(role, Perm.VIEW_JOBS):
        return 302  # drivers and movers land on My jobs
    if endpoint == "auth.login":
        return 302  # already signed in
    return 200


def test_every_route_declares_its_permission(app):
    """A view without require/require_login/public fails here (deny by default)."""
    unprotected = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        if getattr(view, "required_permission", None) is None:
            unprotected.append(f"{rule.rule} -> {rule.endpoint}")
    assert not unprotected, "routes without a declared permission: " + ", ".join(unprotected)


def test_every_ui_route_is_in_the_matrix(app):
    """A new page must be added to ROUTES so its role matrix is tested."""
    covered = {(endpoint, method) for method, _path, _perm, endpoint in ROUTES}
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in UI_BLUEPRINTS:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (rule.endpoint, method) not in covered and not (method == "POST" and (rule.endpoint, "GET") in covered):
                missing.append(f"{method} {rule.rule}")
    assert not missing, "routes missing from the access matrix: " + ", ".join(missing)


def test_matrix_declarations_match_the_views(app):
    """The permission each ROUTES row assumes is the one the view actually requires."""
    for _method, _path, perm, endpoint in ROUTES:
        declared = app.view_functions[endpoint].required_permission
        assert declared == perm, f"{endpoint}: matrix says {perm}, view requires {declared}"


@pytest.mark.parametrize("role", (None,) + ROLES, ids=lambda r: r or "anonymous")
def test_role_matrix(app, client, default_company, make_company, make_location, make_user, fake_sync, role):
    """Each (route, method) answers each role as the permission table says."""
    world = build_world(app, default_company, make_company, make_location, make_user)
    truck_id = add_truck(app, default_company, "Matrix Truck")
    values = {"today": world.today.isoformat(), "job_a": world.job_a, "mover_id": world.users["MOVER"].id,
              "truck_id": truck_id, "loc_a": world.loc_a.id,
              "manual_job": add_job(app, world.loc_a, external_id=None, data_source="MANUAL"),
              "token_id": own_token_id(app, world.users[role or "MOVER"])}
    if role is not None:
        login_as(client, world.users[role])
        token = csrf_token_from(client.get("/auth/password").get_data(as_text=True))
    else:
        token = csrf_token_from(client.get("/auth/login").get_data(as_text=True))

    failures = []
    for method, template, perm, endpoint in ROUTES:
        if endpoint == "auth.logout":
            continue  # would end the session mid-matrix; covered in test_auth_pages
        if endpoint == "auth.issue_token":
            continue  # JSON credentials, not a form: covered in test_jwt
        path = template.format(**values)
        if method == "POST":
            form = {name: value.format(**values) for name, value in POST_DATA.get(endpoint, {}).items()}
            response = client.post(path, data=dict(form, csrf_token=token))
        else:
            response = client.get(path)
        want = expected_status(role, method, perm, endpoint)
        if response.status_code != want:
            failures.append(f"{method} {path}: got {response.status_code}, expected {want}")
        elif role is None and want == 302 and perm != "public":
            location = response.headers["Location"]
            if "/auth/login" not in location:
                failures.append(f"{method} {path}: anonymous redirected to {location}, not the sign-in page")
    assert not failures, f"role {role or 'anonymous'}:\n" + "\n".join(failures)


def test_anonymous_htmx_and_api_get_401(client):
    """htmx gets 401 + HX-Redirect to sign in (next = the page); the JSON API gets a JSON 401."""
    response = client.get("/", headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/board/tomorrow"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/auth/login")
    assert "next=/board/tomorrow" in response.headers["HX-Redirect"].replace("%2F", "/")
    api = client.get("/api/smartmoving/jobs/today")
    assert api.status_code == 401
    assert api.get_json()["error"] == "unauthorized"


def test_forbidden_htmx_gets_a_fragment(app, client, make_user):
    """A signed-in role without the permission gets a 403 fragment for htmx, a page otherwise."""
    login_as(client, make_user("DRIVER", crew_name="D"))
    fragment = client.get("/sync/", headers={"HX-Request": "true"})
    assert fragment.status_code == 403
    assert "<html" not in fragment.get_data(as_text=True)
    page = client.get("/sync/")
    assert page.status_code == 403
    assert "<html" in page.get_data(as_text=True)


@pytest.mark.parametrize("role", ["DISPATCHER", "MANAGER", "ADMIN", "AUDITOR", "DRIVER"])
def test_other_tenant_and_other_location_jobs_are_404(app, client, default_company, make_company, make_location,
                                                      make_user, role):
    """Jobs outside the caller's scope do not exist for them: detail and edit both 404."""
    world = build_world(app, default_company, make_company, make_location, make_user)
    login_as(client, world.users[role])
    hidden = [world.job_c]  # another company
    if role in ("DISPATCHER", "MANAGER", "DRIVER"):
        hidden.append(world.job_b)  # a location they are not assigned to / not their crew
    for job_id in hidden:
        assert client.get(f"/jobs/{job_id}").status_code == 404, job_id
        edit = client.get(f"/jobs/{job_id}/edit").status_code
        assert edit == (404 if allowed(role, Perm.EDIT_JOBS) else 403), job_id
    assert client.get("/jobs/999999").status_code == 404
