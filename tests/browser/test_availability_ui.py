"""My availability in real Chromium on a 390 x 844 phone: a mover says "not Friday" in two taps and sees it listed,
three from My jobs (My availability, Fri, Mark off: the QA walkthrough's four went through the menu); an unlinked
account gets no such link."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.auth.users import create_user
from dashboard.db import db
from dashboard.models import Company
from dashboard.models import CrewMember
from dashboard.models import TimeOff
from dashboard.timeutil import company_today
from tests.support import PASSWORD
from tests.support import make_test_app
from tests.support.browser import collect_csp_blocks
from tests.support.browser import serving
from tests.support.browser import sign_in
from tests.support.browser import skip_without_chromium

pytestmark = pytest.mark.browser

skip_without_chromium()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("availability")
    app = make_test_app("sqlite:///" + str(tmp / "availability.sqlite"), tmp)
    with app.app_context():
        company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
        member = CrewMember(company_id=company.id, external_id="c-mo", name="Mo Mover", role="mover")
        db.session.add(member)
        db.session.flush()
        user = create_user("mo@example.test", PASSWORD, "MOVER", company, full_name="Mo Mover")
        user.crew_member_id = member.id
        create_user("loose@example.test", PASSWORD, "MOVER", company, full_name="Not Linked")
        db.session.commit()
        app.config["AVAILABILITY_TEST"] = {"company_id": company.id, "member_id": member.id,
                                           "today": company_today(company.timezone)}
    with serving(app) as url:
        yield url, app


def _phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    return context, context.new_page()


def _clear_time_off(app):
    """The tests share one server: each starts with no time off, so its Friday is free to mark."""
    with app.app_context():
        db.session.execute(sa.delete(TimeOff))
        db.session.commit()


def _mover_on_a_phone(server, browser):
    """(app, context, page, CSP blocks seen): the linked mover signed in on a phone, with no time off yet."""
    base, app = server
    _clear_time_off(app)
    context, page = _phone(browser)
    blocked = []
    collect_csp_blocks(page, blocked)
    sign_in(page, base, "mo@example.test", PASSWORD)
    return app, context, page, blocked


def _next_friday(app):
    today = app.config["AVAILABILITY_TEST"]["today"]
    return today + timedelta(days=(4 - today.weekday()) % 7 or 7)


def test_a_mover_marks_friday_off_in_two_taps_on_a_phone(server, browser):
    app, context, page, blocked = _mover_on_a_phone(server, browser)
    page.goto(server[0] + "/me/availability")
    friday = _next_friday(app)
    day = page.locator(f"label.day-btn[data-day='{friday.isoformat()}']")
    box = day.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44, box                     # a thumb-sized target
    day.tap()                                                                    # tap 1: Friday
    mark = page.get_by_role("button", name="Mark off")
    assert mark.bounding_box()["height"] >= 44
    mark.tap()                                                                   # tap 2: Mark off
    listed = page.locator("#my-off-list")
    listed.get_by_text(f"Fri {friday.day} {friday:%b}").wait_for()
    assert page.locator(f"label.day-btn[data-day='{friday.isoformat()}']").get_attribute("class").endswith("is-off")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390         # nothing wider than the phone
    with app.app_context():
        entry = db.session.scalar(sa.select(TimeOff))
        assert (entry.crew_member_id, entry.starts_at.date(), entry.ends_at - entry.starts_at) == (
            app.config["AVAILABILITY_TEST"]["member_id"], friday, timedelta(days=1))
    assert not blocked, blocked
    context.close()


def test_a_mover_marks_friday_off_from_my_jobs_in_three_taps(server, browser):
    app, context, page, blocked = _mover_on_a_phone(server, browser)
    page.goto(server[0] + "/my-jobs")
    taps = 0
    link = page.locator("main").get_by_role("link", name="My availability")
    box = link.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44, box                     # a thumb-sized target
    assert box["y"] + box["height"] <= 844                                      # near the top: no scrolling
    link.tap()
    taps += 1                                                                    # tap 1: My availability
    page.wait_for_url("**/me/availability")
    friday = _next_friday(app)
    page.locator(f"label.day-btn[data-day='{friday.isoformat()}']").tap()
    taps += 1                                                                    # tap 2: Friday
    page.get_by_role("button", name="Mark off").tap()
    taps += 1                                                                    # tap 3: Mark off
    page.locator("#my-off-list").get_by_text(f"Fri {friday.day} {friday:%b}").wait_for()
    assert taps <= 3
    with app.app_context():
        entry = db.session.scalar(sa.select(TimeOff))
        assert (entry.crew_member_id, entry.starts_at.date()) == (app.config["AVAILABILITY_TEST"]["member_id"],
                                                                  friday)
    assert not blocked, blocked
    context.close()


def test_an_account_without_a_crew_member_gets_no_availability_link_on_my_jobs(server, browser):
    base, _ = server
    context, page = _phone(browser)
    sign_in(page, base, "loose@example.test", PASSWORD)
    page.goto(base + "/my-jobs")
    page.get_by_text("not linked to a crew member").wait_for()
    assert page.locator("main").get_by_role("link", name="My availability").count() == 0
    context.close()
