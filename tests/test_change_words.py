"""SmartMoving changes in words (QA walkthrough): readiness lines name the job, and a one-address job's address
change is an "Address" change, not a "From" one."""
import pytest
import sqlalchemy as sa

from dashboard.changes.describe import change_words
from dashboard.changes.describe import field_changes
from dashboard.changes.service import ChangeSource
from dashboard.changes.service import record_presence
from dashboard.db import db
from dashboard.models import TruckJourney
from dashboard.readiness.blockers import grouped
from tests.support import login_as
from tests.support.api import bearer
from tests.support.upstream import changes
from tests.support.upstream import detail_reads_every_run
from tests.support.upstream import dispatch
from tests.support.upstream import job_row
from tests.support.upstream import record_change


def _upstream_blockers(client, app, user, day):
    answer = client.get(f"/api/smartmoving/readiness?date={day.isoformat()}", headers=bearer(app, user)).get_json()
    return {b["jobNumber"]: b for b in answer["blockers"] if b["kind"] == "upstream-change"}


def test_readiness_says_which_job_changed_and_how(app, client, world, make_user):
    north, south = world["jobs"]["north"], world["jobs"]["south"]
    record_change(app, north, {"arrival_window": "8:00 AM - 10:00 AM"}, {"arrival_window": "1:00 PM - 3:00 PM"})
    dispatch(app, "job-south")
    with app.app_context():
        record_presence(db.session.get(TruckJourney, south).company_id, [south], "removed",
                        ChangeSource("removal"))
        db.session.commit()
    admin = make_user("ADMIN")
    found = _upstream_blockers(client, app, admin, world["today"])
    assert found["J-north"]["message"] == ("J-north: arrival window 8–10 AM → 1–3 PM. "
                                           "Acknowledge it on the changes page.")
    # A removal says so once, not "In SmartMoving (day) → Removed in SmartMoving (day)".
    assert found["J-south"]["message"] == "J-south: removed in SmartMoving. Acknowledge it on the changes page."

    login_as(client, admin)
    panel = client.get(f"/readiness/panel?date={world['today'].isoformat()}").get_data(as_text=True)
    assert "J-north: arrival window 8–10 AM → 1–3 PM." in panel
    assert "J-south: removed in SmartMoving." in panel
    assert "Removed In SmartMoving" not in panel and "In SmartMoving (" not in panel


def test_panel_lines_keep_the_job_number_under_their_heading():
    blocker = {"kind": "upstream-change", "jobId": 7, "jobNumber": "101033-1",
               "message": "101033-1: status Confirmed → Cancelled. Acknowledge it on the changes page."}
    [(kind, label, [item])] = grouped([blocker])
    assert label == "Changed in SmartMoving"
    assert item["line"] == "101033-1: status Confirmed → Cancelled. Acknowledge it on the changes page."


def test_change_words_name_each_kind():
    assert change_words("window", "8–10 AM", "1–3 PM") == "arrival window 8–10 AM → 1–3 PM"
    assert change_words("address", "From: 1 Old Rd", "From: 9 New Ave") == "origin address 1 Old Rd → 9 New Ave"
    assert change_words("address", "To: 1 Old Rd", "To: 9 New Ave") == "destination address 1 Old Rd → 9 New Ave"
    assert change_words("address", "Address: 1 Old Rd", "Address: 9 New Ave") == "address 1 Old Rd → 9 New Ave"
    assert change_words("removed", "In SmartMoving (Sun 6 Dec)", "Removed in SmartMoving (Sun 6 Dec)") == \
        "removed in SmartMoving"
    assert change_words("revived", "x", "y") == "back in SmartMoving"
    assert change_words("status", "Confirmed", "Cancelled") == "status Confirmed → Cancelled"


@pytest.mark.parametrize(("stored", "record", "expected"), [
    # one address before and after: its only address, both ends
    ({"origin_address": "1 Old Rd", "destination_address": None},
     {"origin_address": "9 New Ave", "destination_address": None}, ("Address: 1 Old Rd", "Address: 9 New Ave")),
    # two addresses: the destination moved
    ({"origin_address": "1 Old Rd", "destination_address": "5 Far St"},
     {"origin_address": "1 Old Rd", "destination_address": "7 Near St"}, ("To: 5 Far St", "To: 7 Near St")),
    # two addresses: the origin moved
    ({"origin_address": "1 Old Rd", "destination_address": "5 Far St"},
     {"origin_address": "2 Old Rd", "destination_address": "5 Far St"}, ("From: 1 Old Rd", "From: 2 Old Rd")),
])
def test_address_changes_are_labelled_by_what_really_changed(stored, record, expected):
    [(kind, before, after)] = field_changes(stored, record)
    assert (kind, before, after) == ("address", *expected)


@pytest.mark.parametrize(("count", "side", "said"), [(1, "Address", "address now"), (2, "To", "destination now")])
def test_the_demo_address_edit_is_recorded_as_what_it_changed(rig, count, side, said):
    detail_reads_every_run(rig.app)
    truth = rig.truth()
    world = rig.world
    job_id = next(job_id for job_id, job in sorted(world.jobs.items())
                  if job_id in truth and len(job.addresses) == count
                  and len(world.opportunities[job.opportunity_id].job_ids) == 1)
    dispatch(rig.app, job_id)
    sentence = world.apply_demo_change(1, [None, job_id])          # step 1 is the demo's address edit
    assert said in sentence
    rig.sync()
    stored = job_row(rig.app, job_id)
    [change] = [c for c in changes(rig.app) if c.journey_id == stored.id]
    assert change.kind == "address"
    assert change.before.startswith(f"{side}: ") and change.after.startswith(f"{side}: ")
    with rig.app.app_context():
        kept = db.session.scalar(sa.select(TruckJourney).where(TruckJourney.external_id == job_id))
        db.session.commit()
    assert change.after == f"{side}: {kept.destination_address if count > 1 else kept.origin_address}"
