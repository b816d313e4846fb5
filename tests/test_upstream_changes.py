"""Upstream changes (issue 19): what SmartMoving changed in jobs, recorded by the sweep, webhooks and removals."""
from datetime import datetime
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.changes.describe import source_id
from dashboard.changes.describe import source_text
from dashboard.changes.models import UpstreamChange
from dashboard.changes.service import STORED_COLUMNS
from dashboard.changes.service import ChangeSource
from dashboard.changes.service import readiness_blockers
from dashboard.changes.service import record_presence
from dashboard.changes.service import record_updates
from dashboard.changes.service import unacknowledged_counts
from dashboard.db import db
from dashboard.models import AuditEvent
from dashboard.models import TruckJourney
from tests.support import csrf_token_from
from tests.support import login_as
from tests.support.api import bearer
from tests.support.api import user_for
from tests.support.upstream import changes
from tests.support.upstream import deliver_webhooks
from tests.support.upstream import detail_reads_every_run
from tests.support.upstream import dispatch
from tests.support.upstream import edit_every_kind
from tests.support.upstream import job_row
from tests.support.upstream import record_change


def _first_job(rig, index=0):
    """(job id, opportunity id) of the index-th opportunity of the window, its first job in the window."""
    truth = rig.truth()
    opportunity_id = sorted({e["opportunityId"] for e in truth.values()})[index]
    job_id = sorted(j for j, e in truth.items() if e["opportunityId"] == opportunity_id)[0]
    return job_id, opportunity_id


KINDS_EDITED = ("window", "address", "status", "crew", "date", "removed", "revived", "quiet")


def _edited_jobs(rig):
    """{kind: (job id, opportunity id)}: one opportunity per kind, all but "quiet" dispatched."""
    jobs = {kind: _first_job(rig, index) for index, kind in enumerate(KINDS_EDITED)}
    for kind, (job_id, _) in jobs.items():
        if kind != "quiet":
            dispatch(rig.app, job_id)
    return jobs


def _by_job(rig, jobs, **where):
    """{kind edited: sorted kinds recorded for its job} and the changes themselves."""
    found = changes(rig.app, **where)
    ids = {job_row(rig.app, job_id).id: kind for kind, (job_id, _) in jobs.items()}
    recorded = {}
    for change in found:
        recorded.setdefault(ids.get(change.journey_id, "other"), []).append(change.kind)
    return {kind: sorted(kinds) for kind, kinds in recorded.items()}, found


def _assert_every_kind(recorded, found, jobs, rig):
    assert recorded == {"window": ["window"], "address": ["address"], "status": ["status"],
                        "crew": ["crew", "value"], "date": ["date"], "removed": ["removed"],
                        "revived": ["revived"], "quiet": ["window"]}, recorded
    quiet_id = job_row(rig.app, jobs["quiet"][0]).id
    assert all(c.dispatched is (c.journey_id != quiet_id) for c in found)      # undispatched: kept, not raised
    status = next(c for c in found if c.kind == "status")
    assert status.after == "Cancelled"
    moved = next(c for c in found if c.kind == "date")
    assert {moved.day_before, moved.day_after} == {rig.start, rig.end} and moved.day_before != moved.day_after
    assert moved.after == f"{moved.day_after:%a} {moved.day_after.day} {moved.day_after:%b}"
    address = next(c for c in found if c.kind == "address")
    assert address.after == "From: 77 Changed Street, Toronto, ON" and address.before.startswith("From: ")
    value = next(c for c in found if c.kind == "value")
    assert value.before.startswith("$") and value.after.startswith("$") and value.before != value.after


def test_a_sweep_records_every_kind_of_change_once(rig):
    detail_reads_every_run(rig.app)
    jobs = _edited_jobs(rig)
    edit_every_kind(rig, jobs)
    run = rig.sync()
    recorded, found = _by_job(rig, jobs)
    _assert_every_kind(recorded, found, jobs, rig)
    assert {(c.source, c.sync_run_id, c.webhook_event_id) for c in found} == {(f"sync run {run.id}", run.id, None)}
    assert rig.sync().updated == 0 and len(changes(rig.app)) == len(found)   # an unchanged re-sync adds nothing


def test_webhooks_record_every_kind_of_change_naming_the_event(rig):
    detail_reads_every_run(rig.app)
    jobs = _edited_jobs(rig)
    edit_every_kind(rig, jobs)
    payloads = [{"event-type": "opportunity-deleted" if kind == "removed" else "opportunity-changed",
                 "opportunity-id": opportunity_id} for kind, (_, opportunity_id) in jobs.items()]
    event_ids = deliver_webhooks(rig.app, rig.company_id, payloads)
    recorded, found = _by_job(rig, jobs)
    _assert_every_kind(recorded, found, jobs, rig)
    by_opportunity = dict(zip([p["opportunity-id"] for p in payloads], event_ids, strict=True))
    for change in found:
        kind = next(k for k, (job_id, _) in jobs.items() if job_row(rig.app, job_id).id == change.journey_id)
        if kind == "removed":
            assert change.source == "webhook deletion"
        else:
            event_id = by_opportunity[jobs[kind][1]]
            assert (change.source, change.webhook_event_id, change.sync_run_id) == (f"webhook {event_id}", event_id,
                                                                                      None)


def test_a_change_and_its_reversal_within_one_run_record_nothing(rig):
    run_id = rig.runs()[0].id
    job_id, _ = _first_job(rig)
    dispatch(rig.app, job_id)
    journey = job_row(rig.app, job_id)
    source = ChangeSource.for_run(run_id)
    stored = {c: getattr(journey, c) for c in STORED_COLUMNS} | {"id": journey.id}
    with rig.app.app_context():
        there = {"arrival_window": "1:00 PM – 3:00 PM"}
        record_updates(journey.company_id, [(stored, there)], source)
        record_updates(journey.company_id, [(stored | there, {"arrival_window": journey.arrival_window})], source)
        record_presence(journey.company_id, [journey.id], "removed", source)
        record_presence(journey.company_id, [journey.id], "revived", source)
        # Two steps in one run leave one change: from the value before the run to the value after it.
        record_updates(journey.company_id, [(stored, there)], source)
        record_updates(journey.company_id, [(stored | there, {"arrival_window": "4 PM"})], source)
        db.session.commit()
    [change] = changes(rig.app)
    assert (change.kind, change.before, change.after) == ("window", journey.arrival_window, "4 PM")


def test_an_unchanged_resync_records_nothing_and_stamps_details_as_of(rig):
    detail_reads_every_run(rig.app)
    job_id, _ = _first_job(rig)
    dispatch(rig.app, job_id)
    first = job_row(rig.app, job_id).details_as_of
    assert first is not None
    run = rig.sync()
    assert run.updated == 0 and changes(rig.app) == []
    assert job_row(rig.app, job_id).details_as_of > first   # read again, though nothing changed


# ---------------------------------------------------------------- the page, the API, the JOB fields (no sandbox)

@pytest.fixture
def changed(app, world):
    """A dispatched north job whose window and value changed, and a south one whose address changed."""
    north, south = world["jobs"]["north"], world["jobs"]["south"]
    window_id, value_id = record_change(app, north, {"arrival_window": "8–10 AM", "estimated_value_cents": 100000},
                                        {"arrival_window": "1–3 PM", "estimated_value_cents": 123400})
    [address_id] = record_change(app, south, {"origin_address": "1 Old Rd"}, {"origin_address": "9 New Ave"})
    [rival_id] = record_change(app, world["jobs"]["rival"], {"status": "BOOKED"}, {"status": "CANCELLED"})
    return {"window": window_id, "value": value_id, "address": address_id, "rival_change": rival_id, **world}


def test_changes_are_described_for_people(app, changed):
    with app.app_context():
        rows = {c.id: c for c in db.session.scalars(sa.select(UpstreamChange))}
        db.session.commit()
    window, value, address = (rows[changed[k]] for k in ("window", "value", "address"))
    assert (window.kind, window.before, window.after, window.dispatched) == ("window", "8–10 AM", "1–3 PM", True)
    assert (value.kind, value.before, value.after) == ("value", "$1,000.00", "$1,234.00")
    # The south job has one address (no destination): its only address changed, not a "From".
    assert (address.kind, address.before, address.after) == ("address", "Address: 1 Old Rd", "Address: 9 New Ave")
    assert window.day_before == window.day_after == changed["today"] and window.source == "sync run 1"


def test_the_api_lists_a_days_changes_in_scope_and_money_only_to_financial_roles(app, client, changed, make_user):
    day = changed["today"].isoformat()
    dispatcher = user_for(make_user, "DISPATCHER", changed)
    listed = client.get(f"/api/smartmoving/changes?date={day}", headers=bearer(app, dispatcher)).get_json()
    assert [c["id"] for c in listed["changes"]] == [changed["window"]]      # north only, no money
    [change] = listed["changes"]
    assert change == {"id": changed["window"], "jobId": changed["jobs"]["north"], "jobNumber": "J-north",
                      "kind": "window", "before": "8–10 AM", "after": "1–3 PM", "at": change["at"],
                      "source": "sync run 1", "acknowledgedBy": None, "acknowledgedAt": None}
    manager = user_for(make_user, "MANAGER", changed)
    seen = client.get(f"/api/smartmoving/changes?date={day}", headers=bearer(app, manager)).get_json()["changes"]
    assert {c["kind"] for c in seen} == {"window", "value"}
    admin = make_user("ADMIN")
    seen = client.get(f"/api/smartmoving/changes?date={day}", headers=bearer(app, admin)).get_json()["changes"]
    assert {c["id"] for c in seen} == {changed["window"], changed["value"], changed["address"]}   # not the rival's
    other_day = (changed["today"] + timedelta(days=3)).isoformat()
    assert client.get(f"/api/smartmoving/changes?date={other_day}",
                      headers=bearer(app, admin)).get_json() == {"changes": []}
    for bad in ("date=2025-13-01", "date=", f"date={day}&acknowledged=maybe"):
        answer = client.get(f"/api/smartmoving/changes?{bad}", headers=bearer(app, admin))
        assert answer.status_code == 422 and answer.get_json()["error"], bad
    driver = make_user("DRIVER", crew_name="Sam Driver")
    assert client.get(f"/api/smartmoving/changes?date={day}", headers=bearer(app, driver)).status_code == 403


def test_acknowledging_by_api_is_scoped_permitted_and_audited(app, client, changed, make_user):
    day = changed["today"].isoformat()
    dispatcher = user_for(make_user, "DISPATCHER", changed)
    headers = bearer(app, dispatcher)
    assert client.post(f"/api/smartmoving/changes/{changed['address']}/ack", headers=headers).status_code == 404
    assert client.post(f"/api/smartmoving/changes/{changed['value']}/ack", headers=headers).status_code == 404
    assert client.post("/api/smartmoving/changes/999999/ack", headers=headers).status_code == 404
    auditor = make_user("AUDITOR")
    assert client.post(f"/api/smartmoving/changes/{changed['window']}/ack",
                       headers=bearer(app, auditor)).status_code == 403
    answer = client.post(f"/api/smartmoving/changes/{changed['window']}/ack", headers=headers)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["id"] == changed["window"] and body["acknowledgedBy"] == dispatcher.full_name
    assert body["acknowledgedAt"].endswith("Z")
    assert client.get(f"/api/smartmoving/changes?date={day}&acknowledged=false",
                      headers=headers).get_json() == {"changes": []}
    assert [c["id"] for c in client.get(f"/api/smartmoving/changes?date={day}&acknowledged=true",
                                        headers=headers).get_json()["changes"]] == [changed["window"]]
    with app.app_context():
        [event] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "changes.acknowledged"))
        db.session.commit()
    assert event.user_id == dispatcher.id and event.detail["ids"] == [changed["window"]]
    assert event.detail["by"] == dispatcher.email and event.detail["at"] == body["acknowledgedAt"]
    # Again: still 200, nothing more acknowledged or audited.
    assert client.post(f"/api/smartmoving/changes/{changed['window']}/ack", headers=headers).status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
            AuditEvent.action == "changes.acknowledged")) == 1
        db.session.commit()


def test_the_job_json_counts_open_changes_and_says_how_fresh_details_are(app, client, changed, make_user):
    day = changed["today"].isoformat()
    with app.app_context():
        db.session.execute(sa.update(TruckJourney).where(TruckJourney.id == changed["jobs"]["north"])
                           .values(details_as_of=datetime(2026, 12, 5, 11, 10, 5)))
        db.session.commit()
    counts = {}
    for role in ("DISPATCHER", "MANAGER"):
        login_as(client, user_for(make_user, role, changed))
        jobs = client.get(f"/api/smartmoving/jobs?date={day}").get_json()["jobs"]
        north = next(job for job in jobs if job["id"] == changed["jobs"]["north"])
        counts[role] = north["upstreamChanges"]
        assert north["detailsAsOf"] == "2026-12-05T11:10:05Z"
        single = client.get(f"/api/smartmoving/jobs/{north['id']}").get_json()
        assert single["upstreamChanges"] == north["upstreamChanges"]
    assert counts == {"DISPATCHER": 1, "MANAGER": 2}    # the value change counts for financial roles only


def test_the_changes_page_shows_scope_and_acknowledges_one_or_all_shown(app, client, changed, make_user):
    dispatcher = user_for(make_user, "DISPATCHER", changed)
    login_as(client, dispatcher)
    page = client.get("/changes")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "J-north" in html and "1–3 PM" in html
    assert "J-south" not in html and "$1,234.00" not in html and "J-rival" not in html
    assert 'badge-changes" aria-label="1 unacknowledged">1<' in html
    assert client.get("/changes?day=2025-02-30").status_code == 422
    token = csrf_token_from(html)
    assert client.post(f"/changes/{changed['window']}/ack").status_code == 400          # no CSRF token
    assert client.post(f"/changes/{changed['address']}/ack", data={"csrf_token": token}).status_code == 404
    answer = client.post(f"/changes/{changed['window']}/ack", data={"csrf_token": token},
                         headers={"HX-Request": "true"})
    assert answer.status_code == 200 and "1 change acknowledged" in answer.get_data(as_text=True)
    assert "badge-changes" not in client.get("/changes").get_data(as_text=True)

    login_as(client, make_user("ADMIN"))
    html = client.get(f"/changes?day={changed['today'].isoformat()}").get_data(as_text=True)
    assert "Acknowledge all shown (2)" in html and "$1,234.00" in html
    answer = client.post("/changes/ack", data={"csrf_token": csrf_token_from(html), "day": changed["today"].isoformat(),
                                               "ids": [str(changed[k]) for k in ("value", "address", "rival_change")]})
    assert answer.status_code == 302
    with app.app_context():
        acknowledged = set(db.session.scalars(sa.select(UpstreamChange.id).where(
            UpstreamChange.acknowledged_at.is_not(None))))
        db.session.commit()
    assert acknowledged == {changed["window"], changed["value"], changed["address"]}   # never the rival's
    auditor = make_user("AUDITOR")
    login_as(client, auditor)
    assert client.get("/changes").status_code == 200
    assert client.post("/changes/ack", data={"ids": [str(changed["value"])]}).status_code in (400, 403)
    login_as(client, make_user("DRIVER", crew_name="Sam Driver"))
    assert client.get("/changes").status_code == 403


def test_undispatched_changes_are_kept_but_not_raised_and_readiness_blocks_on_open_ones(app, changed):
    quiet = changed["jobs"]["north"]
    with app.app_context():
        tomorrow_job = db.session.scalar(sa.select(TruckJourney).where(TruckJourney.external_id == "job-tomorrow"))
        db.session.commit()
    record_change(app, tomorrow_job.id, {"arrival_window": "8–10 AM"}, {"arrival_window": "9–11 AM"},
                  dispatched=False)
    with app.app_context():
        stored = db.session.scalar(sa.select(UpstreamChange).where(UpstreamChange.journey_id == tomorrow_job.id))
        counts = unacknowledged_counts(stored.company_id, [tomorrow_job.id, quiet], financial=True)
        jobs = list(db.session.scalars(sa.select(TruckJourney).where(TruckJourney.scheduled_date == changed["today"])))
        blockers = readiness_blockers(stored.company_id, changed["today"], jobs)
        db.session.commit()
    assert stored.dispatched is False and counts == {quiet: 2}
    [blocker] = [b for b in blockers if b["jobId"] == quiet]
    assert blocker["kind"] == "upstream-change" and blocker["jobNumber"] == "J-north"
    assert "8–10 AM → 1–3 PM" in blocker["message"] and "$" not in blocker["message"]


def test_the_readiness_api_lists_open_upstream_changes_as_blockers(app, client, changed, make_user):
    admin = make_user("ADMIN")
    day = changed["today"].isoformat()
    answer = client.get(f"/api/smartmoving/readiness?date={day}", headers=bearer(app, admin)).get_json()
    [blocker] = [b for b in answer["blockers"] if b["kind"] == "upstream-change" and b["jobNumber"] == "J-north"]
    assert blocker["jobId"] == changed["jobs"]["north"] and "1–3 PM" in blocker["message"]
    client.post(f"/api/smartmoving/changes/{changed['window']}/ack", headers=bearer(app, admin))
    answer = client.get(f"/api/smartmoving/readiness?date={day}", headers=bearer(app, admin)).get_json()
    assert not [b for b in answer["blockers"] if b["kind"] == "upstream-change" and b["jobNumber"] == "J-north"]


def test_the_changes_page_names_its_source_in_words_and_keeps_the_id_aside(app, client, changed, make_user):
    login_as(client, user_for(make_user, "DISPATCHER", changed))
    html = client.get("/changes").get_data(as_text=True)
    cell = html[html.index('data-label="Source"'):]
    cell = cell[:cell.index("</td>")]
    assert 'title="sync run 1"' in cell and "Sync at " in cell and "#1</small>" in cell
    assert ">sync run 1<" not in cell                                  # the internal words are not the text
    api = client.get(f"/api/smartmoving/changes?date={changed['today'].isoformat()}").get_json()
    assert {c["source"] for c in api["changes"]} == {"sync run 1"}     # the API's source stays as stored


def test_source_text_says_where_a_change_came_from():
    assert source_text("sync run 812", "06:10") == "Sync at 06:10"
    assert source_text("webhook 3", "06:12") == "SmartMoving webhook, 06:12"
    assert source_text("webhook", "06:12") == "SmartMoving webhook, 06:12"
    assert source_text("webhook deletion", "06:12") == "SmartMoving webhook (deleted), 06:12"
    assert source_text("something new", "07:00") == "Something new, 07:00"
    assert (source_id("sync run 812"), source_id("webhook"), source_id("")) == ("812", "", "")
