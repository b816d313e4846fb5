"""Readiness in real Chromium: a dispatcher opens tomorrow's blockers, clicks one, assigns a truck in the panel,
and the count drops without a page reload."""
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from dashboard.auth.users import create_user
from dashboard.confirm import states
from dashboard.db import db
from dashboard.models import Company
from dashboard.models import CrewMember
from dashboard.models import Location
from dashboard.models import RunStatus
from dashboard.models import SyncRun
from dashboard.models import Truck
from dashboard.models import TruckJourney
from dashboard.models import utcnow
from dashboard.readiness.blockers import KIND_LABELS
from dashboard.timeutil import company_today
from tests.support import PASSWORD
from tests.support import make_test_app
from tests.support.browser import collect_csp_blocks
from tests.support.browser import serving
from tests.support.browser import sign_in
from tests.support.browser import skip_without_chromium
from tests.support.readiness import at

pytestmark = pytest.mark.browser

skip_without_chromium()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Tomorrow: one job ready, two without a truck (2 blockers); a dispatcher of the location."""
    tmp = tmp_path_factory.mktemp("readiness")
    app = make_test_app("sqlite:///" + str(tmp / "readiness.sqlite"), tmp)
    with app.app_context():
        company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
        place = Location(company_id=company.id, name="North")
        db.session.add(place)
        db.session.flush()
        trucks = [Truck(company_id=company.id, location_id=place.id, name=name) for name in ("Truck 7", "Truck 8")]
        people = [CrewMember(company_id=company.id, external_id=f"c-{n}", name=name, role=role, location_id=place.id)
                  for n, (name, role) in enumerate((("Dana Driver", "driver"), ("Mo Mover", "mover"),
                                                    ("Ray Driver", "driver"), ("Sal Mover", "mover")))]
        db.session.add_all(trucks + people)
        db.session.flush()
        day = company_today(company.timezone) + timedelta(days=1)
        for number, (hour, truck, crew) in enumerate(((8, trucks[0], people[:2]), (13, None, people[:2]),
                                                      (8, None, people[2:]))):
            db.session.add(TruckJourney(
                company_id=company.id, location_id=place.id, scheduled_date=day, external_id=f"r-{number}",
                job_number=f"R-{100 + number}", customer_name=f"Customer {number}", status="BOOKED",
                arrival_window=f"{hour}:00 - {hour + 1}:00", arrival_start_hour=float(hour),
                span_start=at(day, hour), span_end=at(day, hour + 3), truck_id=truck.id if truck else None,
                crew=[p.name for p in crew], crew_member_ids=[p.id for p in crew], crew_required=2))
        finished = utcnow()
        db.session.add(SyncRun(company_id=company.id, trigger="test", window_start=day, window_end=day,
                               status=RunStatus.SUCCESS.value, started_at=finished, finished_at=finished))
        create_user("dispatch@example.test", PASSWORD, "DISPATCHER", company, [place], full_name="Dee Spatch")
        # The clock reads six hours before PLAN_CONFIRM_BY: nobody here was sent a plan, and after that hour
        # each would be an `unconfirmed` blocker too (tested in test_confirmations), whatever time the suite runs.
        deadline = states.confirm_by(day, company.timezone, app.config["PLAN_CONFIRM_BY"])
        db.session.commit()
    with pytest.MonkeyPatch.context() as patch, serving(app) as url:
        patch.setattr(states, "utcnow", lambda: deadline - timedelta(hours=6))
        yield url


def test_a_dispatcher_clears_a_blocker_from_the_readiness_panel(server, browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    blocked = []
    collect_csp_blocks(page, blocked)
    sign_in(page, server, "dispatch@example.test", PASSWORD)
    page.goto(server + "/board/tomorrow")
    summary = page.locator("#readiness summary")
    summary.get_by_text("2").wait_for()
    assert " ".join(summary.inner_text().split()) == "Tomorrow: 2 blockers"
    summary.focus()
    page.keyboard.press("Enter")                                   # opens by keyboard
    group = page.locator("#readiness .readiness-group[data-kind='unassigned-truck']")
    group.wait_for()
    assert group.locator("li").count() == 2
    assert KIND_LABELS["unassigned-truck"] in group.locator("h3").inner_text()
    page.evaluate("window.__sameDocument = true")
    group.get_by_text("R-101 has no truck.").click()                # opens that job's assign panel
    panel = page.locator("#assign-panel .assign")
    panel.wait_for()
    assert "R-101" in panel.locator("h2").inner_text()
    panel.locator("select[name=truck_id]").select_option(label="Truck 8")
    panel.get_by_role("button", name="Save").click()
    page.locator("#assign-panel [data-saved-job]").wait_for()
    # A locator wait, not wait_for_function: the page's CSP forbids evaluating strings as JavaScript.
    expect(page.locator("#readiness summary")).to_contain_text("1 blocker")
    assert page.locator("#readiness .readiness-group li").count() == 1
    assert page.evaluate("window.__sameDocument") is True            # no page reload
    assert not blocked, blocked
    context.close()
