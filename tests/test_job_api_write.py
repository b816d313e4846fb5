"""GET/PATCH /api/smartmoving/jobs/<id>: ETag, If-Match (412/428), 422, 403/404 per role; JOB start/end/conflicts."""
from datetime import datetime
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import AuditEvent
from dashboard.models import TruckJourney
from tests.support import csrf_token_from
from tests.support.api import bearer
from tests.support.api import user_for
from tests.support.ui import ROLES
from tests.support.ui import add_job
from tests.support.ui import add_truck

URL = "/api/smartmoving/jobs/{}"

# PATCH of the "north" job: who may edit it, who gets 403 (may view, may not edit) or 404.
PATCH_STATUS = {"SUPER_ADMIN": 200, "ADMIN": 200, "DISPATCHER": 200, "MANAGER": 200, "AUDITOR": 403,
                "DRIVER": 404, "MOVER": 404}


@pytest.fixture
def trucks(app, default_company, world):
    return {"t1": add_truck(app, default_company, "Truck 101", location=world["north"]),
            "t2": add_truck(app, default_company, "Truck 202", location=world["south"])}


def read(client, job_id, headers):
    answer = client.get(URL.format(job_id), headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json(), answer.headers["ETag"]


def patch(client, job_id, headers, body, etag=None):
    extra = {"If-Match": etag} if etag is not None else {}
    return client.patch(URL.format(job_id), json=body, headers={**headers, **extra})


def stored(app, job_id):
    with app.app_context():
        return db.session.get(TruckJourney, job_id)


@pytest.mark.parametrize("role", ROLES)
def test_get_and_patch_answer_each_role_by_scope_and_rights(app, client, make_user, world, trucks, role):
    headers = bearer(app, user_for(make_user, role, world))
    north = world["jobs"]["north"]
    job, etag = read(client, north, headers)  # drivers and movers: it is their own job
    assert job["id"] == north and etag.startswith('"')
    answer = patch(client, north, headers, {"truck": "truck 101"}, etag)
    assert answer.status_code == PATCH_STATUS[role]
    if answer.status_code == 200:
        assert answer.get_json()["truck"] == "Truck 101" and answer.headers["ETag"] != etag
    else:
        assert set(answer.get_json()) == {"error", "message"}
        assert stored(app, north).truck_id is None
    hidden = {"SUPER_ADMIN": [], "ADMIN": ["rival"], "AUDITOR": ["rival"]}.get(role, ["south", "rival"])
    for key in hidden:
        job_id = world["jobs"][key]
        assert client.get(URL.format(job_id), headers=headers).status_code == 404
        refused = patch(client, job_id, headers, {"notes": "x"}, '"whatever"')
        assert refused.status_code == 404 and refused.get_json()["error"] == "not_found"
    assert client.get(URL.format(999999), headers=headers).status_code == 404


def test_patch_needs_a_current_if_match_and_goes_through_the_dispatch_rules(app, client, make_user, world, trucks):
    user = make_user("DISPATCHER", locations=[world["north"]])
    headers = bearer(app, user)
    north = world["jobs"]["north"]
    _, etag = read(client, north, headers)
    missing = patch(client, north, headers, {"notes": "Piano"})
    assert missing.status_code == 428 and missing.get_json()["error"] == "precondition_required"
    answer = patch(client, north, headers, {"truck": "Truck 101", "crew": ["Ann Lifter", "ann lifter", "Bo"],
                                            "notes": "Piano"}, etag)
    assert answer.status_code == 200
    job = answer.get_json()
    assert (job["truck"], job["crew"], job["notes"]) == ("Truck 101", ["Ann Lifter", "Bo"], "Piano")
    assert job["dispatchStatus"] == "ASSIGNED"  # truck and crew set: assigned by itself
    new_etag = answer.headers["ETag"]
    assert new_etag != etag and read(client, north, headers)[1] == new_etag
    stale = patch(client, north, headers, {"notes": "Overwrite"}, etag)
    assert stale.status_code == 412 and stale.get_json()["error"] == "precondition_failed"
    assert stale.headers["ETag"] == new_etag and stored(app, north).notes == "Piano"
    assert patch(client, north, headers, {"notes": "x"}, "W/" + new_etag).status_code == 412  # strong comparison
    listed = patch(client, north, headers, {"dispatchStatus": "UNASSIGNED", "truck": None}, f'"old", {new_etag}')
    assert listed.status_code == 200 and listed.get_json()["dispatchStatus"] == "UNASSIGNED"
    anything = patch(client, north, headers, {"crew": None}, "*")
    assert anything.status_code == 200 and anything.get_json()["crew"] == ["Sam Driver"]  # SmartMoving's again
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "job.dispatch")
                                    .order_by(AuditEvent.id)).all()
        assert [e.user_id for e in events] == [user.id] * 3
        assert events[0].detail["truck"] == [None, "Truck 101"] and events[0].target == f"job:{north}"


BAD_BODIES = [
    {"truck": "Truck 999"}, {"truck": "T" * 81}, {"truck": 101}, {"crew": "Ann"}, {"crew": ["A" * 81]},
    {"crew": [1, 2]}, {"crew": [f"Person {n}" for n in range(21)]}, {"dispatchStatus": "TELEPORTED"},
    {"notes": "n" * 2001}, {"notes": 5}, {"colour": "red"}, ["truck"], "truck",
]


def test_bad_input_is_422_and_changes_nothing(app, client, make_user, world, trucks):
    headers = bearer(app, make_user("ADMIN"))
    north = world["jobs"]["north"]
    _, etag = read(client, north, headers)
    for body in BAD_BODIES:
        answer = patch(client, north, headers, body, etag)
        assert answer.status_code == 422, body
        assert answer.get_json()["error"] == "invalid" and answer.get_json()["message"]
    raw = client.patch(URL.format(north), data="{not json", headers={**headers, "If-Match": etag,
                                                                     "Content-Type": "application/json"})
    assert raw.status_code == 422
    job = stored(app, north)
    assert job.truck_id is None and job.crew is None and job.dispatch_updated_at is None
    with app.app_context():
        dispatches = sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action == "job.dispatch")
        assert db.session.scalar(dispatches) == 0


def test_cookie_patch_needs_csrf_and_anonymous_gets_401(app, client, make_user, login, world, trucks):
    north = world["jobs"]["north"]
    assert client.get(URL.format(north)).status_code == 401
    nobody = client.patch(URL.format(north), json={}, headers={"Authorization": "Bearer nope", "If-Match": "*"})
    assert nobody.status_code == 401 and nobody.get_json()["error"] == "unauthorized"
    login(make_user("MANAGER", locations=[world["north"]]))
    _, etag = read(client, north, {})
    assert patch(client, north, {}, {"truck": "Truck 202"}, etag).status_code == 400
    token = csrf_token_from(client.get("/auth/password").get_data(as_text=True))
    answer = patch(client, north, {"X-CSRFToken": token}, {"truck": "Truck 202"}, etag)
    assert answer.status_code == 200 and answer.get_json()["truck"] == "Truck 202"


def test_job_json_carries_span_and_time_aware_conflicts(app, client, make_user, world, trucks):
    day = world["today"]
    at = datetime.combine(day, datetime.min.time())
    ids = {}
    with app.app_context():
        for key, location, start, end, extra in (
                ("a", world["north"], 8, 10, {"truck_id": trucks["t1"], "smartmoving_crew": ["Ann"]}),
                ("b", world["north"], 9, 12, {"truck_id": trucks["t1"], "smartmoving_crew": []}),
                ("c", world["north"], 10, 12, {"smartmoving_crew": []}),
                ("d", world["south"], 9.5, 11, {"smartmoving_crew": ["ANN"]}),
                ("x", world["north"], 8, 10, {"truck_id": trucks["t1"], "smartmoving_crew": ["Ann"],
                                              "status": "CANCELLED"})):
            job = TruckJourney(company_id=world["north"].company_id, location_id=location.id, scheduled_date=day,
                               external_id=f"span-{key}", job_number=f"S-{key}", customer_name=key,
                               arrival_start_hour=float(start), span_start=at + timedelta(hours=start),
                               span_end=at + timedelta(hours=end), **extra)
            db.session.add(job)
            db.session.flush()
            ids[key] = job.id
        db.session.commit()
    headers = bearer(app, make_user("DISPATCHER", locations=[world["north"]]))
    jobs = {job["jobNumber"]: job for job in client.get("/api/smartmoving/jobs/today", headers=headers)
            .get_json()["jobs"]}
    a = jobs["S-a"]
    assert (a["start"], a["end"]) == (f"{day}T08:00:00", f"{day}T10:00:00")
    assert a["conflicts"] == [
        {"kind": "truck", "name": "Truck 101", "jobNumber": "S-b", "from": "09:00", "to": "12:00"},
        {"kind": "crew", "name": "Ann", "jobNumber": None, "from": "09:30", "to": "11:00"},  # south: not theirs
    ]
    assert [c["jobNumber"] for c in jobs["S-b"]["conflicts"]] == ["S-a"]
    assert jobs["S-c"]["conflicts"] == [] and jobs["S-x"]["conflicts"] == []  # touching; cancelled
    admin = bearer(app, make_user("ADMIN"))
    single, _ = read(client, ids["d"], admin)
    assert single["conflicts"] == [{"kind": "crew", "name": "ANN", "jobNumber": "S-a", "from": "08:00", "to": "10:00"}]
    untimed, _ = read(client, world["jobs"]["south"], admin)
    assert untimed["start"] is None and untimed["end"] is None and untimed["conflicts"] == []


def test_patch_into_a_new_conflict_is_409_unless_allow_conflicts(app, client, make_user, world, trucks):
    headers = bearer(app, make_user("DISPATCHER", locations=[world["north"]]))
    north = world["jobs"]["north"]
    # Booked meanwhile: Truck 202 on an overlapping job that also has Sam Driver (north's crew: a clash it has now).
    add_job(app, world["north"], job_number="B-202", truck_id=trucks["t2"])
    before, etag = read(client, north, headers)
    assert [(c["kind"], c["jobNumber"]) for c in before["conflicts"]] == [("crew", "B-202")]
    clash = patch(client, north, headers, {"truck": "Truck 202", "notes": "Piano"}, etag)
    assert clash.status_code == 409 and clash.get_json()["error"] == "conflict"
    assert "allowConflicts" in clash.get_json()["message"]
    assert clash.get_json()["conflicts"] == [{"kind": "truck", "name": "Truck 202", "jobNumber": "B-202",
                                              "from": "08:00", "to": clash.get_json()["conflicts"][0]["to"]}]
    assert stored(app, north).truck_id is None and stored(app, north).notes is None
    for bad in ("yes", 1, None, "true"):
        refused = patch(client, north, headers, {"truck": "Truck 202", "allowConflicts": bad}, etag)
        assert refused.status_code == 422 and "allowConflicts" in refused.get_json()["message"], bad
    assert patch(client, north, headers, {"truck": "Truck 202", "allowConflicts": False}, etag).status_code == 409
    saved = patch(client, north, headers, {"truck": "Truck 202", "notes": "Piano", "allowConflicts": True}, etag)
    assert saved.status_code == 200 and saved.get_json()["truck"] == "Truck 202"
    assert {c["kind"] for c in saved.get_json()["conflicts"]} == {"truck", "crew"}
    # A change that adds no conflict (the job has these already) needs no allowConflicts.
    again = patch(client, north, headers, {"notes": "Piano, 3rd floor"}, saved.headers["ETag"])
    assert again.status_code == 200 and again.get_json()["notes"] == "Piano, 3rd floor"
