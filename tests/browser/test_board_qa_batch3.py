"""Board defects from the third QA walkthrough, in real Chromium: a job running past the lanes' last hour is drawn
to the lanes' right edge (not as a quarter-hour sliver), one starting before their first hour from the left edge,
and the cards view on a 390×844 phone never scrolls sideways (a crew of four long names wraps)."""
from datetime import datetime
from datetime import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.auth.users import create_user
from dashboard.db import db
from dashboard.models import Company
from dashboard.models import Location
from dashboard.models import Truck
from dashboard.models import TruckJourney
from dashboard.timeutil import company_today
from tests.support import PASSWORD
from tests.support import make_test_app
from tests.support.browser import serving
from tests.support.browser import sign_in
from tests.support.browser import skip_without_chromium

pytestmark = pytest.mark.browser

skip_without_chromium()

CREW = ["Alexandrina Montgomery-Fairweather", "Bartholomew Kowalczyk-Abernathy", "Cassiopeia Vandenberghe",
        "Dmitri Papadopoulos-Lindqvist"]

# Each lane block's job number, left and right edge, and the lanes' track edges (CSS px).
BLOCKS = """() => {
  const track = document.querySelector('.lane:not(.lane-hours) .track').getBoundingClientRect();
  return [...document.querySelectorAll('.lanes .lb')].map(b => {
    const r = b.getBoundingClientRect();
    return {id: b.id, left: r.left, right: r.right, text: b.innerText, trackLeft: track.left, trackRight: track.right};
  });
}"""


def _board_app(tmp):
    """Tomorrow at one branch: an evening job running to 00:30, an early one from 04:30, a day job with a crew of
    four long names (not SmartMoving's); and a dispatcher of that branch."""
    app = make_test_app("sqlite:///" + str(tmp / "board-qa3.sqlite"), tmp)
    with app.app_context():
        company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
        north = Location(company_id=company.id, name="North")
        db.session.add(north)
        db.session.flush()
        truck = Truck(company_id=company.id, location_id=north.id, name="Truck 102")
        db.session.add(truck)
        db.session.flush()
        day = company_today(company.timezone) + timedelta(days=1)
        midnight = datetime.combine(day, time())
        for number, (start, hours) in enumerate(((15, 9.5), (4.5, 3.5), (9, 3))):
            db.session.add(TruckJourney(
                company_id=company.id, location_id=north.id, scheduled_date=day, external_id=f"q-{number}",
                job_number=f"Q-{100 + number}", customer_name=f"Customer {number}", status="BOOKED",
                arrival_start_hour=float(start), span_start=midnight + timedelta(hours=start),
                span_end=midnight + timedelta(hours=start + hours), truck_id=truck.id,
                crew=CREW if number == 2 else ["Sam Lee"],
                # Our crew differs from SmartMoving's: the card says "Ours" and, for screen readers, whose it has.
                smartmoving_crew=["Noah Wong", "Emily Allen"] if number == 2 else None,
                origin_address="1392 Spadina Ave, Buffalo", destination_address="1959 Jefferson St, Buffalo"))
        create_user("dispatch@example.test", PASSWORD, "DISPATCHER", company, [north], full_name="Dee Dispatch")
        db.session.commit()
    return app


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    with serving(_board_app(tmp_path_factory.mktemp("qa3"))) as url:
        yield url


def test_a_job_past_the_lanes_last_hour_runs_to_the_right_edge_and_says_when_it_ends(base, browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    sign_in(page, base, "dispatch@example.test", PASSWORD)
    page.goto(base + "/board/tomorrow?view=lanes")
    page.locator(".lanes .lb").first.wait_for()
    blocks = page.evaluate(BLOCKS)
    late = next(block for block in blocks if "Q-100" in block["text"])
    early = next(block for block in blocks if "Q-101" in block["text"])
    # 15:00 to the lanes' last hour (20:00 by default): five hours, not a quarter hour at 15:00.
    assert late["right"] >= late["trackRight"] - 3, late
    assert late["right"] - late["left"] > (late["trackRight"] - late["trackLeft"]) / 3, late
    assert "→ 00:30" in late["text"]
    # 04:30 to 08:00: from the lanes' left edge (their first hour, 06:00) to 08:00.
    assert early["left"] <= early["trackLeft"] + 3, early
    assert early["right"] - early["left"] > (early["trackRight"] - early["trackLeft"]) / 14 * 1.5, early
    assert "04:30" in early["text"] and "←" in early["text"]
    page.screenshot(path=str(_shots() / "qa3-lanes-desk.png"))
    context.close()


def test_the_cards_view_on_a_phone_does_not_scroll_sideways(base, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = context.new_page()
    sign_in(page, base, "dispatch@example.test", PASSWORD)
    page.goto(base + "/board/tomorrow?view=cards")
    page.locator(".jc").first.wait_for()
    widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], widths
    crew = page.locator(".jc", has_text="Q-102").locator(".jc-crew")
    assert all(name in crew.inner_text() for name in CREW)   # wrapped, not cut off
    page.screenshot(path=str(_shots() / "qa3-cards-phone.png"), full_page=True)
    context.close()


def _shots():
    """Where the screenshots go for a person to look at (test-artifacts/, outside the repository's history)."""
    from pathlib import Path
    folder = Path(__file__).resolve().parents[2] / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder
