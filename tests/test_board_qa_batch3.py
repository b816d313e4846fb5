"""Board defects from the third QA walkthrough: one-address jobs, the crew member filter (the roster's links),
the confirmed count over people actually sent the plan, and the readiness panel of a day no sync covered.
(Lanes past the day's end and cards on a phone: tests/browser/test_board_qa_batch3.py.)"""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import Company
from dashboard.models import TruckJourney
from dashboard.plans import audience
from tests.support import login_as
from tests.support.confirm import add_job as add_plan_job
from tests.support.confirm import add_member as add_plan_member
from tests.support.confirm import answer_link
from tests.support.readiness import add_member
from tests.support.ui import add_job
from tests.support.ui import today_of

FRAGMENT = {"HX-Request": "true"}


@pytest.fixture
def branch(app, make_location, make_user):
    """One location and its dispatcher."""
    location = make_location("Alpha")
    return location, make_user("DISPATCHER", locations=[location])


@pytest.mark.parametrize("view", ["table", "cards"])
def test_a_one_address_job_shows_that_address_alone(app, client, branch, view):
    location, dispatcher = branch
    add_job(app, location, job_number="L-1", origin_address="1392 Spadina Ave, Buffalo", destination_address=None)
    add_job(app, location, job_number="P-1", origin_address=None, destination_address="540 Spadina Ave, Buffalo")
    login_as(client, dispatcher)
    html = client.get(f"/?view={view}", headers=FRAGMENT).get_data(as_text=True)
    assert "1392 Spadina Ave, Buffalo" in html and "540 Spadina Ave, Buffalo" in html
    assert "→ ?" not in html and "? →" not in html and "→" not in html.split("1392 Spadina")[1][:40]


def test_the_day_sheet_shows_a_one_address_job_without_a_question_mark(app, client, branch):
    location, dispatcher = branch
    add_job(app, location, job_number="L-1", origin_address="1392 Spadina Ave, Buffalo", destination_address=None)
    add_job(app, location, job_number="M-1", origin_address="1 King St", destination_address="9 Queen St")
    login_as(client, dispatcher)
    html = client.get(f"/board/print?date={today_of(app).isoformat()}").get_data(as_text=True)
    assert "<td>1392 Spadina Ave, Buffalo</td>" in html and "<td>1 King St → 9 Queen St</td>" in html
    assert "?" not in html.split("<tbody>")[1].split("</tbody>")[0]


def test_the_member_filter_keeps_that_persons_jobs_by_id_not_by_name(app, client, default_company, branch):
    """Two people called Sam Lee: the roster's count of each links to their own jobs, ours or SmartMoving's."""
    location, dispatcher = branch
    first = add_member(app, default_company, "Sam Lee", location=location)
    second = add_member(app, default_company, "Sam Lee", location=location, external_id="sam-2")
    add_job(app, location, job_number="OURS-1", crew=["Sam Lee"], crew_member_ids=[first], smartmoving_crew=[])
    add_job(app, location, job_number="SM-1", smartmoving_crew=["Sam Lee"], smartmoving_crew_ids=[first])
    add_job(app, location, job_number="OTHER-1", smartmoving_crew=["Sam Lee"], smartmoving_crew_ids=[second])
    # SmartMoving names the first Sam, but our crew (which counts) is someone else.
    add_job(app, location, job_number="MOVED-1", crew=["Ann Other"], crew_member_ids=[], smartmoving_crew=["Sam Lee"],
            smartmoving_crew_ids=[first])
    login_as(client, dispatcher)
    html = client.get(f"/?member={first}&group=none", headers=FRAGMENT).get_data(as_text=True)
    assert "OURS-1" in html and "SM-1" in html and "OTHER-1" not in html and "MOVED-1" not in html
    assert "Jobs <b>2</b>" in html
    assert 'data-filter="member">Crew member: Sam Lee' in html
    assert 'href="/" aria-label="Remove the filter: crew member Sam Lee"' in html   # the chip's ×
    assert f"member={first}" in html.split('class="counts"')[1]   # the count links keep the filter
    page = client.get(f"/?member={second}").get_data(as_text=True)
    assert f'<input type="hidden" name="member" value="{second}">' in page   # kept when other filters change
    assert "OTHER-1" in page and "OURS-1" not in page
    roster = client.get("/crew").get_data(as_text=True)
    day = today_of(app).isoformat()
    assert f'href="/board?date={day}&amp;member={first}">2</a>' in roster
    assert f'href="/board?date={day}&amp;member={second}">1</a>' in roster
    # The day sheet and the CSV keep the filter, by id, from the board's links.
    board = client.get(f"/?member={first}").get_data(as_text=True)
    assert f'href="/board/print?date={day}&amp;member={first}"' in board
    for path in ("/board/print", "/board/export.csv"):
        sheet = client.get(f"{path}?date={day}&member={first}").get_data(as_text=True)
        assert "OURS-1" in sheet and "SM-1" in sheet and "OTHER-1" not in sheet and "MOVED-1" not in sheet, path


def test_an_unknown_member_filter_is_ignored_or_shows_no_jobs(app, client, branch):
    location, dispatcher = branch
    add_job(app, location, job_number="J-1")
    login_as(client, dispatcher)
    assert "J-1" in client.get("/?member=abc", headers=FRAGMENT).get_data(as_text=True)
    html = client.get("/?member=999999", headers=FRAGMENT).get_data(as_text=True)
    assert "J-1" not in html and "Crew member: #999999" in html


def test_people_whose_only_job_is_cancelled_do_not_count_as_unconfirmed(app, client, plan_world, make_user):
    """12 of 13 confirmed could never become 13: the 13th's only job was cancelled and they were never sent
    the plan. The board counts the people a plan tells, as plans.audience picks them."""
    with app.app_context():
        eve = add_plan_member(plan_world.company_id, "Eve Gone", "mover", plan_world.location_id)
        cancelled = add_plan_job(plan_world.company_id, plan_world.location_id, plan_world.day, [eve], "X-300",
                                 status="CANCELLED")
        removed = add_plan_job(plan_world.company_id, plan_world.location_id, plan_world.day, [eve], "X-301",
                               sync_status="REMOVED")
        company = db.session.get(Company, plan_world.company_id)
        told = audience.build(company, plan_world.day, None)
        assert eve.id not in {r.member.id for r in told.recipients}
        day_jobs = {job.id for job in audience.day_jobs(company.id, plan_world.day, None)}
        every = db.session.scalars(sa.select(TruckJourney).where(TruckJourney.scheduled_date == plan_world.day))
        assert {job.id for job in every if audience.in_plan(job)} == day_jobs   # the two agree
        assert cancelled.id not in day_jobs and removed.id not in day_jobs
    login_as(client, make_user("ADMIN"))
    html = client.get("/board/tomorrow", headers=FRAGMENT).get_data(as_text=True)
    assert "<b>0 of 4</b> confirmed" in html
    with app.test_client() as phone:
        for person in (plan_world.ana, plan_world.bo, plan_world.cy, plan_world.dee):
            answer_link(phone, plan_world.tokens[person], "confirmed")
    html = client.get("/board/tomorrow", headers=FRAGMENT).get_data(as_text=True)
    assert "<b>4 of 4</b> confirmed" in html and "count-plan count-attention" not in html


def test_a_day_outside_every_synced_window_without_jobs_is_not_called_ready(app, client, branch):
    location, dispatcher = branch
    login_as(client, dispatcher)
    far = today_of(app) + timedelta(days=40)
    panel = client.get(f"/readiness/panel?date={far.isoformat()}").get_data(as_text=True)
    assert "<b>Not synced</b>" in panel and "<b>Ready</b>" not in panel and "is-ready" not in panel
    assert "No jobs synced for" in panel
    # A day with jobs (typed in by hand) is judged on them: its blockers, or Ready.
    add_job(app, location, day=far, job_number="J-1")
    panel = client.get(f"/readiness/panel?date={far.isoformat()}").get_data(as_text=True)
    assert "Not synced" not in panel


def test_the_readiness_api_does_not_call_an_unsynced_empty_day_ready(app, client, branch):
    location, dispatcher = branch
    login_as(client, dispatcher)
    far = today_of(app) + timedelta(days=40)
    answer = client.get(f"/api/smartmoving/readiness?date={far.isoformat()}").get_json()
    # Not ready, though no job blocks it (a stale-sync blocker may be listed: no sync ran at all here).
    assert answer["ready"] is False and answer["synced"] is False
    assert all(blocker["jobId"] is None for blocker in answer["blockers"])
    add_job(app, location, day=far, job_number="J-1", truck_id=None)
    answer = client.get(f"/api/smartmoving/readiness?date={far.isoformat()}").get_json()
    assert answer["synced"] is True and answer["ready"] is (not answer["blockers"])
