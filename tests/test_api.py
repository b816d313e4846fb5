"""The JSON API, route by route and role by role, with bearer tokens and session cookies."""

import pytest
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import SyncRun
from dashboard.models import TruckJourney
from dashboard.models import utcnow
from dashboard.permissions import ROLE_PERMISSIONS
from dashboard.permissions import Perm
from dashboard.permissions import Role
from dashboard.timeutil import company_today
from tests.support import login_as
from tests.support.api import bearer
from tests.support.api import user_for

ROLES = [role.value for role in Role]


EXPECTED_JOBS = {
    "SUPER_ADMIN": {"north", "south", "rival"},
    "ADMIN": {"north", "south"},
    "DISPATCHER": {"north"},
    "MANAGER": {"north"},
    "AUDITOR": {"north", "south"},
    "DRIVER": {"north"},   # only the job whose crew names them, in their own company
    "MOVER": {"north"},
}


@pytest.mark.parametrize("role", ROLES)
def test_jobs_today_scope_and_money_per_role(app, client, make_user, world, role):
    user = user_for(make_user, role, world)
    answer = client.get("/api/smartmoving/jobs/today", headers=bearer(app, user))
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["date"] == world["today"].isoformat()
    keys = {job["jobNumber"].removeprefix("J-") for job in body["jobs"]}
    assert keys == EXPECTED_JOBS[role]
    assert body["count"] == len(body["jobs"])
    may_see_money = Perm.VIEW_FINANCIAL in ROLE_PERMISSIONS[Role(role)]
    for job in body["jobs"]:
        assert ("estimatedValue" in job) == may_see_money
        if may_see_money:
            assert job["estimatedValue"] == 7345.67
    assert ("7345.67" in answer.get_data(as_text=True)) == may_see_money


def test_job_keys_match_the_contract(app, client, make_user, world):
    user = make_user("ADMIN")
    job = client.get("/api/smartmoving/jobs/today", headers=bearer(app, user)).get_json()["jobs"][0]
    for key in ("id", "externalId", "jobNumber", "quoteNumber", "customerName", "customerPhone", "customerEmail",
                "estimatedValue", "scheduledDate", "location", "originAddress", "destinationAddress",
                "arrivalWindow", "status", "crew", "truck", "notes", "dataSource", "syncStatus", "lastSyncAt",
                "dispatchStatus", "start", "end", "conflicts"):
        assert key in job
    assert set(job["location"]) == {"id", "name"}


@pytest.mark.parametrize("role", ["DRIVER", "MOVER"])
def test_crew_roles_get_exactly_what_their_pages_show(app, client, make_user, world, role):
    from dashboard.jobs.serialize import CREW_KEYS
    user = user_for(make_user, role, world)
    with app.app_context():
        job = db.session.get(TruckJourney, world["jobs"]["north"])
        job.customer_email, job.customer_phone, job.notes = "private@customer.test", "555-0100", "Side door"
        job.origin_address = "12 Elm St"
        db.session.commit()
    jobs = client.get("/api/smartmoving/jobs/today", headers=bearer(app, user)).get_json()["jobs"]
    assert len(jobs) == 1
    assert set(jobs[0]) == {key for key in CREW_KEYS if key not in ("start", "end")} | (set(jobs[0]) & {"start", "end"})
    hidden = {"customerEmail", "estimatedValue", "externalId", "quoteNumber", "dataSource", "lastSyncAt"}
    assert not hidden & set(jobs[0])
    login_as(client, user)
    page = client.get(f"/jobs/{jobs[0]['id']}").get_data(as_text=True)
    for key in ("customerName", "customerPhone", "originAddress", "notes", "jobNumber"):
        assert str(jobs[0][key]) in page, key
    assert "private@customer.test" not in page


def test_tomorrow_and_date_routes(app, client, make_user, world):
    headers = bearer(app, make_user("ADMIN"))
    tomorrow = client.get("/api/smartmoving/jobs/tomorrow", headers=headers).get_json()
    assert [job["jobNumber"] for job in tomorrow["jobs"]] == ["J-tomorrow"]
    on_date = client.get(f"/api/smartmoving/jobs?date={world['today'].isoformat()}", headers=headers).get_json()
    assert on_date["count"] == 2
    bad = client.get("/api/smartmoving/jobs?date=31-12-2026", headers=headers)
    assert bad.status_code == 422 and bad.get_json()["error"] == "invalid"
    filtered = client.get(f"/api/smartmoving/jobs/today?location={world['south'].id}", headers=headers).get_json()
    assert [job["jobNumber"] for job in filtered["jobs"]] == ["J-south"]
    searched = client.get("/api/smartmoving/jobs/today?q=customer%20nor", headers=headers).get_json()
    assert [job["jobNumber"] for job in searched["jobs"]] == ["J-north"]


@pytest.mark.parametrize("path", ["/api/smartmoving/jobs/today", "/api/smartmoving/jobs/tomorrow",
                                  "/api/smartmoving/jobs?date=2026-01-01", "/api/smartmoving/sync/status",
                                  "/api/smartmoving/locations"])
def test_anonymous_gets_json_401(client, path):
    answer = client.get(path)
    assert answer.status_code == 401
    assert answer.get_json()["error"] == "unauthorized"


def test_bad_token_is_401_and_post_anonymous_is_401(client):
    assert client.get("/api/smartmoving/jobs/today", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.post("/api/smartmoving/jobs/sync", headers={"Authorization": "Bearer nope"}).status_code == 401


@pytest.mark.parametrize("role", ROLES)
def test_locations_and_sync_status_per_role(app, client, make_user, world, role):
    headers = bearer(app, user_for(make_user, role, world))
    locations = client.get("/api/smartmoving/locations", headers=headers)
    status = client.get("/api/smartmoving/sync/status", headers=headers)
    if role in ("DRIVER", "MOVER"):
        assert locations.status_code == 403 and status.status_code == 403
        assert locations.get_json()["error"] == "forbidden"
        return
    expected = {"SUPER_ADMIN": {"North", "South", "Rival Depot"}, "ADMIN": {"North", "South"},
                "DISPATCHER": {"North"}, "MANAGER": {"North"}, "AUDITOR": {"North", "South"}}[role]
    assert {loc["name"] for loc in locations.get_json()["locations"]} == expected
    assert status.status_code == 200
    assert set(status.get_json()) == {"running", "runs", "apiCalls"}


@pytest.mark.parametrize("role", ["DISPATCHER", "MANAGER", "AUDITOR", "DRIVER", "MOVER"])
def test_sync_forbidden_without_sync_permission(app, client, make_user, world, role):
    answer = client.post("/api/smartmoving/jobs/sync", headers=bearer(app, user_for(make_user, role, world)))
    assert answer.status_code == 403


def test_sync_answers_409_while_the_lease_is_held(app, client, make_user, default_company):
    from dashboard.sync.lease import acquire_lease
    from dashboard.sync.lease import lease_name_for
    headers = bearer(app, make_user("ADMIN"))
    with app.app_context():
        assert acquire_lease(lease_name_for(default_company.id), "someone-else", 60)
    answer = client.post("/api/smartmoving/jobs/sync", headers=headers)
    assert answer.status_code == 409
    assert answer.get_json()["error"] == "conflict"


def test_sync_rejects_bad_date_with_422(app, client, make_user):
    headers = bearer(app, make_user("ADMIN"))
    answer = client.post("/api/smartmoving/jobs/sync", json={"date": "tomorrow"}, headers=headers)
    assert answer.status_code == 422


def test_session_post_without_csrf_is_refused(app, client, make_user, login):
    login(make_user("ADMIN"))
    answer = client.post("/api/smartmoving/jobs/sync")
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "bad_request"


def test_wrong_method_is_json_405(app, client, make_user):
    answer = client.get("/api/smartmoving/jobs/sync", headers=bearer(app, make_user("ADMIN")))
    assert answer.status_code == 405
    assert answer.get_json()["error"] == "method_not_allowed"


def test_unknown_api_path_is_json_404(client):
    answer = client.get("/api/smartmoving/nope")
    assert answer.status_code == 404 and answer.get_json()["error"] == "not_found"


def test_health_is_public_and_reports_last_sync(app, client, default_company):
    body = client.get("/api/smartmoving/health").get_json()
    assert body["status"] == "degraded" and body["database"] == "ok" and body["lastSync"] is None
    with app.app_context():
        db.session.add(SyncRun(company_id=default_company.id, trigger="cli", window_start=company_today("UTC"),
                               window_end=company_today("UTC"), status="SUCCESS", finished_at=utcnow()))
        db.session.commit()
    body = client.get("/api/smartmoving/health").get_json()
    assert body["status"] == "ok" and body["lastSync"]["status"] == "SUCCESS"
    assert body["smartmoving"]["status"] == "ok"


def test_revoked_token_stops_working(app, client, make_user, runner):
    user = make_user("ADMIN")
    headers = bearer(app, user)
    assert client.get("/api/smartmoving/jobs/today", headers=headers).status_code == 200
    result = runner.invoke(args=["revoke-token", user.email])
    assert "Revoked 1 token" in result.output
    assert client.get("/api/smartmoving/jobs/today", headers=headers).status_code == 401


def test_tokens_are_stored_hashed(app, make_user):
    from dashboard.models import ApiToken
    user = make_user("ADMIN")
    token = bearer(app, user)["Authorization"].split()[1]
    with app.app_context():
        stored = db.session.scalar(sa.select(ApiToken.token_hash))
    assert token not in stored and len(stored) == 64
