"""The board's table view on a 390×844 phone in real Chromium: each job number link is a target of at least
24×24 CSS px (WCAG 2.2, 2.5.8 Target Size (Minimum)); the rows' other links are outside this check."""
import pytest
import sqlalchemy as sa

from dashboard.auth.users import create_user
from dashboard.db import db
from dashboard.models import Company
from dashboard.models import Location
from dashboard.models import TruckJourney
from dashboard.timeutil import company_today
from tests.support import PASSWORD
from tests.support import make_test_app
from tests.support.browser import serving
from tests.support.browser import sign_in
from tests.support.browser import skip_without_chromium

pytestmark = pytest.mark.browser

skip_without_chromium()

# The box of every job number link in the table (text, width, height), as the phone draws it.
JOB_LINKS = """() => [...document.querySelectorAll('.board-table td.t-job a')].map(a => {
  const r = a.getBoundingClientRect();
  return [a.innerText.trim(), Math.round(r.width * 10) / 10, Math.round(r.height * 10) / 10];
})"""


def _board_app(tmp):
    """Today's three jobs at one branch, and a dispatcher of that branch."""
    app = make_test_app("sqlite:///" + str(tmp / "board-phone.sqlite"), tmp)
    with app.app_context():
        company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
        north = Location(company_id=company.id, name="North")
        db.session.add(north)
        db.session.flush()
        today = company_today(company.timezone)
        for number, hour in enumerate((8, 11, 14)):
            db.session.add(TruckJourney(
                company_id=company.id, location_id=north.id, scheduled_date=today, external_id=f"t-{number}",
                job_number=f"T-{100 + number}", customer_name=f"Customer {number}", status="BOOKED",
                arrival_window=f"{hour}:00 - {hour + 2}:00", arrival_start_hour=float(hour),
                origin_address="1 King St, Toronto", destination_address="9 Queen St, Toronto"))
        create_user("dispatch@example.test", PASSWORD, "DISPATCHER", company, [north], full_name="Dee Dispatch")
        db.session.commit()
    return app


def test_job_number_links_in_the_table_are_24px_targets_on_a_phone(tmp_path, browser):
    with serving(_board_app(tmp_path)) as base:
        context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
        page = context.new_page()
        sign_in(page, base, "dispatch@example.test", PASSWORD)
        page.goto(base + "/?view=table")
        page.locator(".board-table td.t-job a").first.wait_for()
        links = page.evaluate(JOB_LINKS)
        assert [text for text, _, _ in links] == ["T-100", "T-101", "T-102"]
        assert all(height >= 24 and width >= 24 for _, width, height in links), links
        context.close()
