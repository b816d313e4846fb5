"""Upstream changes on the day board (issue 19 §2): the Changed badge, acknowledging it, removed and moved jobs."""
from datetime import UTC
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from dashboard.changes import service
from dashboard.changes.service import ChangeSource
from dashboard.db import db
from dashboard.jobs.queries import board_version
from dashboard.models import TruckJourney
from dashboard.models import User
from dashboard.models import utcnow
from dashboard.readiness import blockers
from tests.support import csrf_token_from
from tests.support import login_as
from tests.support.api import bearer
from tests.support.ui import build_world

HTMX = {"HX-Request": "true"}


@pytest.fixture
def world(app, default_company, make_company, make_location, make_user):
    world = build_world(app, default_company, make_company, make_location, make_user)
    with app.app_context():   # job A is planned by us: its changes are raised
        db.session.execute(sa.update(TruckJourney).where(TruckJourney.id == world.job_a)
                           .values(notes="Bring the piano dolly", dispatch_status="ASSIGNED"))
        db.session.commit()
    return world


def _record(app, job_id, old, new, source="sync run 1"):
    """Record SmartMoving's change of job_id from old to new (column -> value) as a sync would."""
    with app.app_context():
        job = db.session.get(TruckJourney, job_id)
        written = service.record_job_changes(job, old, new, ChangeSource(source))
        db.session.execute(sa.update(TruckJourney).where(TruckJourney.id == job_id).values(**new))
        db.session.commit()
        return written


def _remove(app, job_id):
    """Mark job_id removed in SmartMoving and record it, as the removal path does."""
    with app.app_context():
        db.session.execute(sa.update(TruckJourney).where(TruckJourney.id == job_id)
                           .values(sync_status="REMOVED", removed_at=sa.func.now()))
        service.record_presence(db.session.get(TruckJourney, job_id).company_id, [job_id], "removed",
                                ChangeSource("removal"))
        db.session.commit()


def _version(app, user, day):
    with app.app_context():
        return board_version(db.session.get(User, user.id), day)


def _board(client, day=None, **query):
    if day:
        query["date"] = day.isoformat()
    answer = client.get("/board" if day else "/", query_string=query)
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def _open_change_ids(app, job_id):
    with app.app_context():
        return [c.id for c in service.changes_for_jobs([job_id]).get(job_id, [])]


def _acknowledge(client, ids, headers=HTMX):
    csrf = csrf_token_from(client.get("/").get_data(as_text=True))
    return client.post("/changes/board/acknowledge", data={"change": ",".join(map(str, ids))},
                       headers={**headers, "X-CSRFToken": csrf})


def test_a_dispatched_jobs_change_shows_a_changed_badge_until_acknowledged(app, client, world):
    dispatcher = world.users["DISPATCHER"]
    login_as(client, dispatcher)
    before = _version(app, dispatcher, world.today)
    assert _record(app, world.job_a, {"arrival_window": "8:00 - 9:00"}, {"arrival_window": "1:00 PM - 3:00 PM"}) == 1
    assert _version(app, dispatcher, world.today) != before          # an open board redraws on its next poll
    for view in ("table", "cards", "lanes"):
        html = _board(client, view=view)
        assert 'class="flag f-changed"' in html, view
        assert "8:00 - 9:00" in html and "1:00 PM - 3:00 PM" in html, view
        assert "Acknowledge" in html, view
    live = client.get("/", headers={**HTMX, "HX-Trigger": "board-live"}).get_data(as_text=True)
    assert "f-changed" in live and 'form="ack-form"' in live

    acknowledged = _version(app, dispatcher, world.today)
    answer = _acknowledge(client, _open_change_ids(app, world.job_a))
    assert answer.status_code == 200 and answer.headers["HX-Trigger"] == "board-changed"
    assert 'id="nav-changes-count" hx-swap-oob="true"' in answer.get_data(as_text=True)
    assert _version(app, dispatcher, world.today) != acknowledged
    assert "f-changed" not in _board(client)
    with app.app_context():
        change = service.changes_for_jobs([world.job_a], unacknowledged=False)[world.job_a][0]
        assert change.acknowledged_by == dispatcher.id and change.acknowledged_at is not None


def test_an_undispatched_jobs_change_raises_no_badge(app, client, world):
    login_as(client, world.users["ADMIN"])
    _record(app, world.job_b, {"arrival_window": "8:00 - 9:00"}, {"arrival_window": "1:00 PM - 3:00 PM"})
    assert "f-changed" not in _board(client)


def test_acknowledge_without_script_redirects_back_with_a_message(app, client, world):
    login_as(client, world.users["ADMIN"])
    _record(app, world.job_a, {"origin_address": "1 King St"}, {"origin_address": "77 Bay St"})
    answer = _acknowledge(client, _open_change_ids(app, world.job_a), headers={})
    assert answer.status_code == 302
    assert "Acknowledged 1 change" in client.get(answer.headers["Location"]).get_data(as_text=True)


def test_acknowledge_is_for_editors_in_scope_and_refuses_bad_input(app, client, world):
    _record(app, world.job_a, {"arrival_window": "8:00 - 9:00"}, {"arrival_window": "10:00 - 11:00"})
    ids = _open_change_ids(app, world.job_a)
    login_as(client, world.users["AUDITOR"])
    assert _acknowledge(client, ids).status_code == 403
    login_as(client, world.users["DISPATCHER"])
    assert _acknowledge(client, ["x1"]).status_code == 422
    assert _acknowledge(client, []).status_code == 422
    assert client.get("/changes/board/acknowledge").status_code == 405
    csrf_less = client.post("/changes/board/acknowledge", data={"change": str(ids[0])}, headers=HTMX)
    assert csrf_less.status_code in (400, 403)
    assert _open_change_ids(app, world.job_a) == ids                  # none of those touched it

    # A dispatcher of location A cannot acknowledge a change of a location-B job.
    with app.app_context():
        db.session.execute(sa.update(TruckJourney).where(TruckJourney.id == world.job_b).values(notes="Planned"))
        db.session.commit()
    _record(app, world.job_b, {"arrival_window": "8:00 - 9:00"}, {"arrival_window": "10:00 - 11:00"})
    assert _acknowledge(client, _open_change_ids(app, world.job_b)).status_code == 404
    assert _open_change_ids(app, world.job_b)


def test_a_removed_dispatched_job_stays_greyed_and_in_the_api_until_acknowledged(app, client, world):
    admin = world.users["ADMIN"]
    login_as(client, admin)
    _remove(app, world.job_a)
    html = _board(client)
    assert "Alice Able" in html and "Removed in SmartMoving" in html and "r-gone" in html
    assert "Jobs <b>1</b>" in html                                    # greyed, not counted
    api = client.get("/api/smartmoving/jobs/today", headers=bearer(app, admin)).get_json()
    removed = [job for job in api["jobs"] if job["id"] == world.job_a]
    assert removed and removed[0]["syncStatus"] == "REMOVED"

    assert _acknowledge(client, _open_change_ids(app, world.job_a)).status_code == 200
    assert "Alice Able" not in _board(client)
    api = client.get("/api/smartmoving/jobs/today", headers=bearer(app, admin)).get_json()
    assert world.job_a not in [job["id"] for job in api["jobs"]]


def test_a_removed_undispatched_job_leaves_at_once(app, client, world):
    login_as(client, world.users["ADMIN"])
    _remove(app, world.job_b)
    assert "Bert Beta" not in _board(client)


def test_a_moved_job_shows_on_both_days_until_acknowledged(app, client, world):
    login_as(client, world.users["ADMIN"])
    tomorrow = world.today + timedelta(days=1)
    _board(client)                                                    # the day read before the move
    _record(app, world.job_a, {"scheduled_date": world.today}, {"scheduled_date": tomorrow})
    old_day = _board(client)
    assert "Alice Able" in old_day and "r-gone" in old_day
    with app.app_context():   # the greyed copy is no work of the old day: no readiness blocker, not counted
        blocking = blockers.day_blockers(world.company.id, world.today, db.session.get(User, world.users["ADMIN"].id))
        assert world.job_a not in {blocker["jobId"] for blocker in blocking}
    assert "Jobs <b>1</b>" in old_day
    assert f"Moved to {tomorrow:%a} {tomorrow.day} {tomorrow:%b}" in old_day
    new_day = _board(client, tomorrow)
    assert "Alice Able" in new_day and "f-changed" in new_day and "Moved to" not in new_day

    assert _acknowledge(client, _open_change_ids(app, world.job_a)).status_code == 200
    assert "Alice Able" not in _board(client)
    new_day = _board(client, tomorrow)
    assert "Alice Able" in new_day and "f-changed" not in new_day


def test_the_job_page_says_how_fresh_its_smartmoving_details_are(app, client, world):
    login_as(client, world.users["ADMIN"])
    assert "details not read from SmartMoving yet" in client.get(f"/jobs/{world.job_a}").get_data(as_text=True)
    read_at = utcnow().replace(hour=11, minute=10, second=0, microsecond=0)
    with app.app_context():
        db.session.execute(sa.update(TruckJourney).where(TruckJourney.id == world.job_a)
                           .values(details_as_of=read_at))
        db.session.commit()
        local = read_at.replace(tzinfo=UTC).astimezone(ZoneInfo(app.config["DASHBOARD_TIMEZONE"]))
    html = client.get(f"/jobs/{world.job_a}").get_data(as_text=True)
    assert f'details as of <time datetime="{read_at.isoformat()}Z"' in html and f">{local:%H:%M}</time>" in html


def test_a_removed_job_awaiting_acknowledgement_is_off_the_crews_own_list(app, client, world):
    login_as(client, world.users["DRIVER"])
    assert "Alice Able" in client.get("/my-jobs").get_data(as_text=True)      # Dan Driver's job
    _remove(app, world.job_a)
    assert "Alice Able" not in client.get("/my-jobs").get_data(as_text=True)
    login_as(client, world.users["ADMIN"])
    assert "Removed in SmartMoving" in _board(client)                        # the board keeps it, greyed
