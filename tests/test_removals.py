"""Removal safety: the threshold, the "removal pending" hold on the sync page, and the 404 shapes."""
from datetime import date
from types import SimpleNamespace

import pytest
import responses
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import AuditEvent
from dashboard.models import TruckJourney
from dashboard.models import utcnow
from dashboard.smartmoving import normalize
from dashboard.smartmoving.client import SmartMovingClient
from dashboard.smartmoving.errors import NotFound
from dashboard.sync import removals
from tests.support import csrf_token_from
from tests.support import login_as

# ---------------------------------------------------------------- pure rules

@pytest.mark.parametrize("count, day_jobs, held", [
    (5, 10, False),      # not more than 5 jobs
    (6, 10, True),       # 6 > 5 and 60 % > 20 %
    (6, 30, False),      # 20 % exactly is not more than 20 %
    (7, 30, True),
    (40, 1000, False),   # many, but 4 % of a big day
])
def test_the_hold_threshold_needs_both_a_count_and_a_share(count, day_jobs, held):
    assert removals.too_many(count, day_jobs, min_jobs=5, percent=20) is held


DAY, NEXT_DAY = date(2026, 3, 2), date(2026, 3, 3)


def _rows(count, day, held=False, first_id=0):
    return [SimpleNamespace(id=first_id + i, scheduled_date=day, removal_pending_at=utcnow() if held else None)
            for i in range(count)]


def test_jobs_held_once_are_removed_when_confirmed_again_and_new_ones_may_be_held():
    rows = _rows(2, DAY, held=True) + _rows(8, DAY, first_id=2)
    decision = removals.decide(rows, {}, {DAY: 10}, min_jobs=5, percent=20)
    assert decision.remove == [0, 1] and decision.hold == list(range(2, 10))
    few = removals.decide(rows[:4], {}, {DAY: 10}, min_jobs=5, percent=20)
    assert few.remove == [0, 1, 2, 3] and few.hold == []


def test_the_share_is_taken_per_day_not_over_the_two_day_window():
    """14 of one day's 40 jobs (35 %) are held, though they are only 17 % of the window's 80."""
    rows = _rows(14, DAY)
    decision = removals.decide(rows, {}, {DAY: 40, NEXT_DAY: 40}, min_jobs=5, percent=20)
    assert decision.remove == [] and len(decision.hold) == 14
    # The other day, judged alone, loses 3 of 40 at once.
    both = removals.decide(rows + _rows(3, NEXT_DAY, first_id=100), {}, {DAY: 40, NEXT_DAY: 40},
                           min_jobs=5, percent=20)
    assert both.remove == [100, 101, 102] and len(both.hold) == 14


def test_removals_of_the_recent_window_count_with_the_new_ones():
    """One at a time (webhooks) is no way around the hold: the last 15 minutes' removals of the day count."""
    assert removals.decide(_rows(1, DAY), {DAY: 4}, {DAY: 8}, min_jobs=5, percent=20).remove == [0]
    assert removals.decide(_rows(1, DAY), {DAY: 5}, {DAY: 8}, min_jobs=5, percent=20).hold == [0]


@pytest.mark.parametrize("entry, problem", [
    ({"id": "c1", "opportunities": []}, None),
    ({"id": "c1"}, None),
    (42, "not a customer object"),
    ({"name": "x"}, "without an id"),
    ({"id": "c1", "opportunities": "x"}, "not a list"),
    ({"id": "c1", "opportunities": [1]}, "not a list of objects"),
])
def test_malformed_customer(entry, problem):
    found = normalize.malformed_customer(entry)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize("detail, problem", [
    ({"id": "o1", "jobs": []}, None),
    ({"jobs": [{"id": "j"}]}, None),
    ([], "not an opportunity object"),
    ({"id": "o1"}, "without a jobs list"),
    ({"id": "o1", "jobs": ["j"]}, "not objects"),
    ({"id": "o2", "jobs": []}, "instead of o1"),
])
def test_malformed_detail(detail, problem):
    found = normalize.malformed_detail(detail, "o1")
    assert (found is None) if problem is None else (problem in found)


@responses.activate
@pytest.mark.parametrize("body, from_application", [
    ({"message": "Opportunity not found."}, True),
    ({"statusCode": 404, "message": "Resource not found"}, False),
    ("<html>Not Found</html>", False),
])
def test_a_404_says_whether_the_application_or_the_gateway_sent_it(body, from_application):
    url = "https://sm.example/v1/api/opportunities/o1"
    if isinstance(body, dict):
        responses.get(url, status=404, json=body)
    else:
        responses.get(url, status=404, body=body)
    client = SmartMovingClient("https://sm.example/v1", "k", min_interval=0)
    with pytest.raises(NotFound) as caught:
        client.opportunity("o1")
    assert caught.value.from_application is from_application


# ---------------------------------------------------------------- the sync page

def _job(app, company, location=None, held=True, **fields):
    with app.app_context():
        job = TruckJourney(company_id=company.id, location_id=location.id if location else None,
                           external_id=fields.pop("external_id"), scheduled_date=date.today(),
                           customer_name=fields.pop("customer_name", "Held Harriet"),
                           removal_pending_at=utcnow() if held else None, removal_reason="held", **fields)
        db.session.add(job)
        db.session.commit()
        return job.id


def test_an_admin_confirms_held_removals_from_the_sync_page(app, client, make_user, default_company):
    held = [_job(app, default_company, external_id=f"j{i}") for i in range(3)]
    kept = _job(app, default_company, held=False, external_id="live")
    admin = make_user("ADMIN")
    login_as(client, admin)
    page = client.get("/sync/").get_data(as_text=True)
    assert "3 removals waiting for confirmation" in page and "Held Harriet" in page
    answer = client.post("/sync/removals/confirm", data={"csrf_token": csrf_token_from(page)})
    assert answer.status_code == 302
    with app.app_context():
        statuses = dict(db.session.execute(sa.select(TruckJourney.id, TruckJourney.sync_status)).all())
        pending = db.session.scalar(sa.select(sa.func.count()).where(TruckJourney.removal_pending_at.is_not(None)))
        audit = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "sync.removals_confirmed"))
    assert all(statuses[i] == "REMOVED" for i in held) and statuses[kept] == "SYNCED"
    assert pending == 0 and audit.user_id == admin.id and audit.detail["count"] == 3
    assert "removals waiting" not in client.get("/sync/").get_data(as_text=True)


def test_an_admin_keeps_held_jobs_on_the_board(app, client, make_user, default_company):
    held = _job(app, default_company, external_id="j1")
    login_as(client, make_user("ADMIN"))
    page = client.get("/sync/").get_data(as_text=True)
    client.post("/sync/removals/keep", data={"csrf_token": csrf_token_from(page)})
    with app.app_context():
        job = db.session.get(TruckJourney, held)
        assert job.sync_status == "SYNCED" and job.removal_pending_at is None


def test_held_removals_need_csrf_and_sync_rights(app, client, make_user, default_company):
    held = _job(app, default_company, external_id="j1")
    login_as(client, make_user("ADMIN"))
    assert client.post("/sync/removals/confirm").status_code == 400     # no CSRF token
    other = app.test_client()
    login_as(other, make_user("DISPATCHER"))
    assert other.post("/sync/removals/confirm").status_code in (400, 403)
    with app.app_context():
        assert db.session.get(TruckJourney, held).sync_status == "SYNCED"


def test_the_held_list_shows_only_jobs_the_viewer_may_see(app, client, make_user, make_location, default_company):
    north, south = make_location("North"), make_location("South")
    _job(app, default_company, north, external_id="n1", customer_name="Northern Nora")
    _job(app, default_company, south, external_id="s1", customer_name="Southern Sam")
    login_as(client, make_user("DISPATCHER", locations=[north]))
    page = client.get("/sync/").get_data(as_text=True)
    assert "Northern Nora" in page and "Southern Sam" not in page
    assert "Remove them" not in page                                    # dispatchers may not sync
