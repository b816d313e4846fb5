"""My jobs on a 390×844 phone in real Chromium (issue 20 §9–10): every control a 44×44 px target (menu open or
shut), "you" marked on the crew, directions correct, tomorrow one tap from the top, no API tokens entry."""
from datetime import timedelta
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from dashboard.auth.users import create_user
from dashboard.auth.users import link_crew_member
from dashboard.db import db
from dashboard.models import Company
from dashboard.models import CrewMember
from dashboard.models import Location
from dashboard.models import TruckJourney
from dashboard.timeutil import company_today
from tests.support import PASSWORD
from tests.support import make_test_app
from tests.support.browser import collect_csp_blocks
from tests.support.browser import serving
from tests.support.browser import sign_in
from tests.support.browser import skip_without_chromium

pytestmark = pytest.mark.browser

skip_without_chromium()

ORIGIN, DESTINATION = "12 Rue Saint-Denis, Montréal", "40 Bay St & Front St #2, Toronto"

# Every visible interactive element on screen and its box (the off-screen skip link aside).
TARGETS = """() => [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, summary')]
  .map(e => [e, e.getBoundingClientRect()])
  .filter(([e, r]) => r.width > 0 && r.height > 0 && r.right > 0 && getComputedStyle(e).visibility !== 'hidden')
  .map(([e, r]) => [(e.innerText || e.getAttribute('aria-label') || e.tagName).trim().slice(0, 40),
                    Math.round(r.width * 10) / 10, Math.round(r.height * 10) / 10])"""


def _small(page):
    """The (text, width, height) of targets under 44 px either way."""
    return [target for target in page.evaluate(TARGETS) if target[1] < 44 or target[2] < 44]


def _phone_app(tmp):
    """Dana (driver, linked by id) on three of today's jobs and one of tomorrow's, at an office with a phone."""
    app = make_test_app("sqlite:///" + str(tmp / "phone.sqlite"), tmp)
    with app.app_context():
        company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
        office = Location(company_id=company.id, name="North", phone="4165550100")
        db.session.add(office)
        db.session.flush()
        dana = CrewMember(company_id=company.id, external_id="c-1", name="Dana Driver", role="driver")
        mo = CrewMember(company_id=company.id, external_id="c-2", name="Mo Mover", role="mover")
        db.session.add_all([dana, mo])
        db.session.flush()
        today = company_today(company.timezone)
        for number, (day, hour) in enumerate(((today, 8), (today, 11), (today, 14), (today + timedelta(days=1), 9))):
            db.session.add(TruckJourney(
                company_id=company.id, location_id=office.id, scheduled_date=day, external_id=f"p-{number}",
                job_number=f"P-{100 + number}", customer_name=f"Customer {number}", status="BOOKED",
                customer_phone="4165550199", arrival_window=f"{hour}:00 - {hour + 2}:00",
                arrival_start_hour=float(hour), origin_address=f"{number} {ORIGIN}",
                destination_address=f"{number} {DESTINATION}", notes="Piano, third floor, no elevator",
                crew=[mo.name, dana.name], crew_member_ids=[mo.id, dana.id]))
        user = create_user("dana@example.test", PASSWORD, "DRIVER", company, full_name="Dana Driver")
        link_crew_member(user, dana)
        db.session.commit()
    return app


def test_my_jobs_on_a_phone_is_all_44px_targets_marks_you_and_reaches_tomorrow_in_one_tap(tmp_path, browser):
    with serving(_phone_app(tmp_path)) as base:
        context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
        page = context.new_page()
        blocked = []
        collect_csp_blocks(page, blocked)
        sign_in(page, base, "dana@example.test", PASSWORD)
        page.goto(base + "/my-jobs")
        page.locator(".my-job").first.wait_for()

        assert _small(page) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= 390   # nothing wider than the phone
        page.get_by_role("button", name="Menu").tap()
        nav = page.locator("#mainnav")
        nav.get_by_role("link", name="My jobs").wait_for()
        assert _small(page) == []
        assert page.get_by_text("API tokens").count() == 0
        page.get_by_role("button", name="Menu").tap()

        first = page.locator(".my-job").first
        you = first.locator(".crew-seats li.is-you")
        assert " ".join(you.inner_text().split()) == "Dana Driver You · Driver"
        assert first.locator(".crew-seats li").count() == 2 and first.locator(".my-role").inner_text() == "Driver"
        href = first.locator(".my-directions").get_attribute("href")
        parts = urlsplit(href)
        assert (parts.netloc, parts.path) == ("www.google.com", "/maps/dir/")
        assert parse_qs(parts.query) == {"api": ["1"], "origin": [f"0 {ORIGIN}"], "destination": [f"0 {DESTINATION}"]}
        leg = page.locator(".my-job").nth(1).locator(".my-leg")
        assert parse_qs(urlsplit(leg.get_attribute("href")).query) == {
            "api": ["1"], "origin": [f"0 {DESTINATION}"], "destination": [f"1 {ORIGIN}"]}
        assert first.locator("a[href='tel:4165550100']").count() == 1

        tomorrow = page.locator("#day-tomorrow h2")
        assert tomorrow.bounding_box()["y"] > 844   # below today's jobs
        page.locator(".day-jump").get_by_role("link", name="Tomorrow").tap()
        page.wait_for_function("location.hash === '#day-tomorrow'")
        page.wait_for_function("document.querySelector('#day-tomorrow h2').getBoundingClientRect().top < 844")
        box = tomorrow.bounding_box()
        jump = page.locator(".day-jump").bounding_box()
        assert jump["y"] + jump["height"] <= box["y"] < 844   # in view, under the sticky bar, after one tap
        assert "P-103" in page.locator("#day-tomorrow").inner_text()
        assert blocked == []
        context.close()
