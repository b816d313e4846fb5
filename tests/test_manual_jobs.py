"""Manual jobs edited and deleted (issue 21 §5): pages, JSON API, scope, audit; SmartMoving jobs refused.

Also the seed gaps of the same section: jobs?date= says whether the day was synced, and
sync/status's quota keys in camelCase (the snake_case ones kept, deprecated).
"""
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import AuditEvent
from dashboard.models import SyncRun
from dashboard.models import TruckJourney
from dashboard.models import utcnow
from tests.support import csrf_token_from
from tests.support import login_as
from tests.support.api import bearer
from tests.support.ui import add_job
from tests.support.ui import build_world

URL = "/api/smartmoving/jobs/{}"


def _ui_world(app, default_company, make_company, make_location, make_user):
    """The UI world plus a manual job at Alpha (the dispatcher's location) and one at Beta (not theirs)."""
    w = build_world(app, default_company, make_company, make_location, make_user)
    w.manual = add_job(app, w.loc_a, external_id=None, job_number=None, data_source="MANUAL",
                       customer_name="Walk-in Wanda", smartmoving_crew=None, arrival_window="8:00 AM - 10:00 AM")
    w.manual_b = add_job(app, w.loc_b, external_id=None, job_number=None, data_source="MANUAL",
                         customer_name="Beta Walk-in", smartmoving_crew=None)
    return w


def _job(app, job_id):
    with app.app_context():
        return db.session.get(TruckJourney, job_id)


def _audit(app, job_id):
    with app.app_context():
        return [(event.action, event.detail) for event in db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.target == f"job:{job_id}").order_by(AuditEvent.id))]


def _edit_form(world, **changes):
    form = {"location_id": str(world.loc_a.id), "scheduled_date": world.today.isoformat(),
            "customer_name": "Walk-in Wanda", "customer_phone": "", "origin_address": "1 King St",
            "destination_address": "9 Queen St", "arrival_window": "8:00 AM - 10:00 AM"}
    form.update(changes)
    return form


def test_dispatcher_edits_a_manual_job_and_the_change_is_audited(app, client, default_company, make_company,
                                                                 make_location, make_user):
    world = _ui_world(app, default_company, make_company, make_location, make_user)
    login_as(client, world.users["DISPATCHER"])
    detail = client.get(f"/jobs/{world.manual}").get_data(as_text=True)
    assert f"/jobs/{world.manual}/details" in detail and f"/jobs/{world.manual}/delete" in detail
    page = client.get(f"/jobs/{world.manual}/details").get_data(as_text=True)
    assert "Walk-in Wanda" in page and "Beta Branch" not in page   # only the dispatcher's locations offered
    tomorrow = world.today + timedelta(days=1)
    answer = client.post(f"/jobs/{world.manual}/details", data=dict(_edit_form(
        world, scheduled_date=tomorrow.isoformat(), customer_name="Wanda Wells", customer_phone="555 0101",
        arrival_window="1:00 PM - 3:00 PM"), csrf_token=csrf_token_from(page)))
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"/jobs/{world.manual}")
    job = _job(app, world.manual)
    assert (job.customer_name, job.customer_phone, job.scheduled_date) == ("Wanda Wells", "555 0101", tomorrow)
    assert job.arrival_start_hour == 13 and job.span_start == datetime.combine(tomorrow, datetime.min.time()) \
        .replace(hour=13)   # the span follows the new day and window
    (action, detail), = _audit(app, world.manual)
    assert action == "job.edit"
    assert detail["scheduled_date"] == [world.today.isoformat(), tomorrow.isoformat()]
    assert detail["customer_name"] == ["Walk-in Wanda", "Wanda Wells"]
    assert "Saved Wanda Wells." in client.get(answer.headers["Location"]).get_data(as_text=True)   # the flash
    assert "Wanda Wells" not in client.get("/").get_data(as_text=True)
    assert "Wanda Wells" in client.get("/board/tomorrow").get_data(as_text=True)
    assert "Wanda Wells" in client.get(f"/jobs/{world.manual}").get_data(as_text=True)   # history renders


def test_manual_edit_refuses_bad_input_and_locations_out_of_scope(app, client, default_company, make_company,
                                                                  make_location, make_user):
    world = _ui_world(app, default_company, make_company, make_location, make_user)
    login_as(client, world.users["DISPATCHER"])
    token = csrf_token_from(client.get(f"/jobs/{world.manual}/details").get_data(as_text=True))
    foreign = client.post(f"/jobs/{world.manual}/details",
                          data=dict(_edit_form(world, location_id=str(world.loc_b.id)), csrf_token=token))
    assert foreign.status_code == 422 and "Not a valid choice" in foreign.get_data(as_text=True)
    bad = client.post(f"/jobs/{world.manual}/details",
                      data=dict(_edit_form(world, customer_name="", scheduled_date="1899-01-01"), csrf_token=token))
    assert bad.status_code == 422 and "Who is the job for?" in bad.get_data(as_text=True)
    without_csrf = client.post(f"/jobs/{world.manual}/details", data=_edit_form(world, customer_name="X"))
    assert without_csrf.status_code == 400
    assert _job(app, world.manual).customer_name == "Walk-in Wanda" and _audit(app, world.manual) == []
    # A job at a location the dispatcher does not see is not found; a role without edit rights is refused.
    assert client.get(f"/jobs/{world.manual_b}/details").status_code == 404
    assert client.get(f"/jobs/{world.manual_b}/delete").status_code == 404
    login_as(client, world.users["AUDITOR"])
    assert client.get(f"/jobs/{world.manual}/details").status_code == 403
    assert f"/jobs/{world.manual}/delete" not in client.get(f"/jobs/{world.manual}").get_data(as_text=True)


def test_smartmoving_jobs_offer_no_edit_or_delete(app, client, default_company, make_company, make_location,
                                                 make_user):
    world = _ui_world(app, default_company, make_company, make_location, make_user)
    login_as(client, world.users["ADMIN"])
    detail = client.get(f"/jobs/{world.job_a}").get_data(as_text=True)
    assert f"/jobs/{world.job_a}/details" not in detail and f"/jobs/{world.job_a}/delete" not in detail
    assert client.get(f"/jobs/{world.job_a}/details").status_code == 409
    token = csrf_token_from(detail)
    assert client.post(f"/jobs/{world.job_a}/delete", data={"csrf_token": token}).status_code == 409
    assert client.post(f"/jobs/{world.job_a}/details",
                       data=dict(_edit_form(world, customer_name="Hijacked"), csrf_token=token)).status_code == 409
    job = _job(app, world.job_a)
    assert (job.customer_name, job.sync_status) == ("Alice Able", "SYNCED")


def test_delete_asks_first_then_hides_the_job_everywhere(app, client, default_company, make_company, make_location,
                                                         make_user):
    world = _ui_world(app, default_company, make_company, make_location, make_user)
    login_as(client, world.users["DISPATCHER"])
    assert "Walk-in Wanda" in client.get("/").get_data(as_text=True)
    confirm = client.get(f"/jobs/{world.manual}/delete")
    html = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "Delete this job?" in html and "Walk-in Wanda" in html
    assert _job(app, world.manual).sync_status == "SYNCED"   # the GET only asks
    assert client.post(f"/jobs/{world.manual}/delete").status_code == 400   # no CSRF token
    answer = client.post(f"/jobs/{world.manual}/delete", data={"csrf_token": csrf_token_from(html)})
    assert answer.status_code == 302 and "/board?date=" in answer.headers["Location"]
    job = _job(app, world.manual)
    assert job.sync_status == "REMOVED" and job.removed_at is not None   # kept, not dropped
    assert [action for action, _ in _audit(app, world.manual)] == ["job.delete"]
    assert "Deleted the job for Walk-in Wanda." in client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Walk-in Wanda" not in client.get("/").get_data(as_text=True)
    assert "Walk-in Wanda" not in client.get(f"/board/export.csv?date={world.today}").get_data(as_text=True)
    assert client.get(f"/jobs/{world.manual}").status_code == 404
    assert client.get(f"/jobs/{world.manual}/details").status_code == 404
    headers = bearer(app, world.users["DISPATCHER"])
    assert client.get(URL.format(world.manual), headers=headers).status_code == 404
    listed = client.get("/api/smartmoving/jobs/today", headers=headers).get_json()
    assert world.manual not in [j["id"] for j in listed["jobs"]]


def _api_manual(app, world, location="north"):
    with app.app_context():
        job = TruckJourney(company_id=world[location].company_id, location_id=world[location].id,
                           customer_name="Walk-in Wanda", scheduled_date=world["today"], data_source="MANUAL",
                           arrival_window="8:00 AM - 10:00 AM", arrival_start_hour=8.0)
        db.session.add(job)
        db.session.commit()
        return job.id


def _etag(client, job_id, headers):
    answer = client.get(URL.format(job_id), headers=headers)
    assert answer.status_code == 200
    return answer.headers["ETag"]


def test_api_patches_a_manual_jobs_own_fields_and_refuses_them_on_smartmoving_jobs(app, client, make_user, world):
    user = make_user("DISPATCHER", locations=[world["north"]])
    headers = bearer(app, user)
    manual = _api_manual(app, world)
    day = (world["today"] + timedelta(days=2)).isoformat()
    answer = client.patch(URL.format(manual), headers={**headers, "If-Match": _etag(client, manual, headers)},
                          json={"customerName": "Wanda Wells", "scheduledDate": day,
                                "arrivalWindow": "2:00 PM - 4:00 PM", "originAddress": "1 Side St",
                                "notes": "Ring twice"})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert (body["customerName"], body["scheduledDate"], body["notes"]) == ("Wanda Wells", day, "Ring twice")
    job = _job(app, manual)
    assert (job.scheduled_date.isoformat(), job.origin_address, job.notes, job.arrival_start_hour) == (
        day, "1 Side St", "Ring twice", 14)
    assert {action for action, _ in _audit(app, manual)} == {"job.edit", "job.dispatch"}
    for bad in ({"scheduledDate": "2025-02-30"}, {"date": day}, {"customerName": ""}, {"locationId": world["south"].id},
                {"locationId": "1"}, {"customerPhone": 5}, {"originAddress": "x" * 401}):
        refused = client.patch(URL.format(manual), headers={**headers, "If-Match": _etag(client, manual, headers)},
                               json=bad)
        assert refused.status_code == 422, bad
    north = world["jobs"]["north"]
    refused = client.patch(URL.format(north), headers={**headers, "If-Match": _etag(client, north, headers)},
                           json={"customerName": "Hijacked", "notes": "x"})
    assert refused.status_code == 422 and "SmartMoving" in refused.get_json()["message"]
    assert _job(app, north).customer_name == "Customer north" and _job(app, north).notes is None


def test_api_delete_is_204_for_manual_jobs_and_409_for_smartmoving_ones(app, client, make_user, world):
    manual, south_manual = _api_manual(app, world), _api_manual(app, world, "south")
    dispatcher = bearer(app, make_user("DISPATCHER", locations=[world["north"]]))
    assert client.delete(URL.format(manual), headers=bearer(app, make_user("AUDITOR"))).status_code == 403
    assert client.delete(URL.format(manual),
                         headers=bearer(app, make_user("MOVER", crew_name="Sam Driver"))).status_code == 404
    assert client.delete(URL.format(south_manual), headers=dispatcher).status_code == 404   # not their location
    stale = client.delete(URL.format(manual), headers={**dispatcher, "If-Match": '"old"'})
    assert stale.status_code == 412
    smartmoving = client.delete(URL.format(world["jobs"]["north"]), headers=dispatcher)
    assert smartmoving.status_code == 409 and smartmoving.get_json()["error"]
    answer = client.delete(URL.format(manual), headers=dispatcher)
    assert answer.status_code == 204 and answer.get_data() == b""
    assert client.get(URL.format(manual), headers=dispatcher).status_code == 404
    assert client.delete(URL.format(manual), headers=dispatcher).status_code == 404
    assert _job(app, manual).sync_status == "REMOVED" and _job(app, world["jobs"]["north"]).sync_status == "SYNCED"
    # A session caller needs the CSRF token, like every cookie write.
    login_as(client, make_user("ADMIN"))
    assert client.delete(URL.format(south_manual)).status_code == 400
    assert _job(app, south_manual).sync_status == "SYNCED"


def test_jobs_on_a_day_say_whether_it_was_synced(app, client, make_user, world, default_company):
    headers = bearer(app, make_user("ADMIN"))
    today, later = world["today"], world["today"] + timedelta(days=5)
    assert client.get("/api/smartmoving/jobs/today", headers=headers).get_json()["synced"] is False
    with app.app_context():
        db.session.add_all([
            SyncRun(company_id=default_company.id, trigger="cli", window_start=today, window_end=today + timedelta(1),
                    status="SUCCESS", finished_at=utcnow()),
            SyncRun(company_id=default_company.id, trigger="cli", window_start=later, window_end=later,
                    status="FAILED", finished_at=utcnow())])
        db.session.commit()
    assert client.get("/api/smartmoving/jobs/today", headers=headers).get_json()["synced"] is True
    assert client.get("/api/smartmoving/jobs/tomorrow", headers=headers).get_json()["synced"] is True
    failed_day = client.get(f"/api/smartmoving/jobs?date={later.isoformat()}", headers=headers).get_json()
    assert failed_day["synced"] is False and failed_day["count"] == 0


def test_sync_status_quota_keys_are_camel_case_with_the_old_names_kept(app, client, make_user):
    usage = client.get("/api/smartmoving/sync/status", headers=bearer(app, make_user("ADMIN"))).get_json()["apiCalls"]
    for new, old in (("daysElapsed", "days_elapsed"), ("daysInMonth", "days_in_month"),
                     ("overQuota", "over_quota")):
        assert usage[new] == usage[old]
    assert isinstance(usage["overQuota"], bool) and 28 <= usage["daysInMonth"] <= 31
