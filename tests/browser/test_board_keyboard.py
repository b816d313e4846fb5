"""The dispatcher's board by keyboard and in words (issue 20 §3, §4, §5, §7, §8), in real Chromium.

One live server with a small morning: Truck 101 double-booked by J-1 and J-2, J-1's crew accepted from
SmartMoving, J-2 still on SmartMoving's crew, J-3 waiting for a truck at the North yard.
"""
import re
from datetime import datetime
from datetime import time as clock_time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.support.browser import collect_csp_blocks
from tests.support.browser import serving
from tests.support.browser import sign_in
from tests.support.browser import skip_without_chromium

pytestmark = pytest.mark.browser

PASSWORD = "board-keys-password"

skip_without_chromium()


def _seed(app):
    """Two trucks at North, three jobs today, a dispatcher; returns {name: job id}."""
    from dashboard.auth.users import create_user
    from dashboard.db import db
    from dashboard.models import Company
    from dashboard.models import CrewMember
    from dashboard.models import Location
    from dashboard.models import Truck
    from dashboard.models import TruckJourney
    from dashboard.timeutil import company_today

    with app.app_context():
        company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
        today = company_today(company.timezone)
        north = Location(company_id=company.id, name="North Yard")
        db.session.add(north)
        db.session.flush()
        truck = Truck(company_id=company.id, location_id=north.id, name="Truck 101")
        spare = Truck(company_id=company.id, location_id=north.id, name="Truck 102")
        ann = CrewMember(company_id=company.id, external_id="c-ann", name="Ann Lifter", status="ACTIVE")
        bob = CrewMember(company_id=company.id, external_id="c-bob", name="Bob Carrier", status="ACTIVE")
        db.session.add_all([truck, spare, ann, bob])
        db.session.flush()

        def job(number, hour, **fields):
            start = datetime.combine(today, clock_time()) + timedelta(hours=hour)
            row = TruckJourney(company_id=company.id, location_id=north.id, scheduled_date=today,
                               external_id=f"ext-{number}", job_number=number, customer_name=f"Customer {number}",
                               origin_address="1 King St W, Toronto", destination_address="9 Queen St E, Toronto",
                               arrival_window=f"{hour}:00 AM - {hour + 2}:00 AM", arrival_start_hour=float(hour),
                               span_start=start, span_end=start + timedelta(hours=3), status="CONFIRMED", **fields)
            db.session.add(row)
            db.session.flush()
            return row.id

        ids = {
            "J-1": job("J-1", 8, truck_id=truck.id, crew=["Ann Lifter"], crew_member_ids=[ann.id],
                       smartmoving_crew=["Ann Lifter"], smartmoving_crew_ids=[ann.id]),
            "J-2": job("J-2", 9, truck_id=truck.id, smartmoving_crew=["Bob Carrier"], smartmoving_crew_ids=[bob.id]),
            "J-3": job("J-3", 10, smartmoving_crew=[], smartmoving_crew_ids=[]),
        }
        create_user("keys@board.test", PASSWORD, "DISPATCHER", company, [north], full_name="Key Board")
        db.session.commit()
    return ids


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    from dashboard.jobs import render_cache
    from tests.support import make_test_app

    tmp = tmp_path_factory.mktemp("board-keys")
    app = make_test_app("sqlite:///" + str(tmp / "keys.sqlite"), tmp)
    ids = _seed(app)
    render_cache.partials.clear()
    with serving(app) as url:
        yield {"url": url, "ids": ids}


def test_keyboard_words_sorting_and_lanes(live_server, browser):
    base, ids = live_server["url"], live_server["ids"]
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    problems = []
    collect_csp_blocks(page, problems)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.set_default_timeout(15000)
    sign_in(page, base, "keys@board.test", PASSWORD)
    page.goto(base + "/")
    rows = page.locator("#board-live tbody tr[data-job-id]")
    expect(rows).to_have_count(3)

    # §3: the clash in words, the other job linked; §7: whose crew it is.
    first = page.locator(f'tr[data-job-id="{ids["J-1"]}"]')
    expect(first.locator(".f-conflict")).to_have_text("Conflict: Truck 101 · with J-2 9 AM–12 PM")
    expect(first.locator(".f-conflict a")).to_have_attribute("href", f"/jobs/{ids['J-2']}")
    expect(first.locator(".sm-accepted")).to_contain_text("SM ✓")
    expect(page.locator(f'tr[data-job-id="{ids["J-2"]}"] .t-crew .sm')).to_have_text(
        "SM (SmartMoving's crew, not accepted yet)")

    # §5: the cells' names carry their value; skip link, then j/k/arrows move, t and c open the panel.
    third_truck = page.locator(f'tr[data-job-id="{ids["J-3"]}"] a[data-assign-kind="truck"]')
    expect(third_truck).to_have_accessible_name("Truck for J-3: No truck")
    page.keyboard.press("Tab")   # the layout's "Skip to content", then the board's own
    page.keyboard.press("Tab")
    expect(page.locator("[data-skip-board]")).to_be_focused()
    page.keyboard.press("Enter")
    expect(first).to_be_focused()
    page.keyboard.press("j")
    page.keyboard.press("ArrowDown")
    expect(page.locator(f'tr[data-job-id="{ids["J-3"]}"]')).to_be_focused()
    page.keyboard.press("k")
    expect(page.locator(f'tr[data-job-id="{ids["J-2"]}"]')).to_be_focused()
    page.keyboard.press("t")
    expect(page.locator("#assign-panel select[name=truck_id]")).to_be_visible()
    expect(page.locator("#assign-panel select[name=truck_id]")).to_be_focused()   # t: the truck panel
    page.keyboard.press("Escape")
    expect(page.locator(f'tr[data-job-id="{ids["J-2"]}"] a[data-assign-kind="truck"]')).to_be_focused()
    page.keyboard.press("c")
    expect(page.locator("#assign-panel")).to_have_class("assign-panel is-open")
    expect(page.locator("#assign-panel .crew-search")).to_be_focused()   # c: the crew panel's "Find a person"
    page.keyboard.type("ann")
    page.keyboard.press("Enter")   # ticks Ann, the first one the search leaves, beside SmartMoving's Bob
    expect(page.locator("#assign-panel input[name=crew]:checked")).to_have_count(2)
    page.keyboard.press("Escape")
    expect(page.locator(f'tr[data-job-id="{ids["J-2"]}"] a[data-assign-kind="crew"]')).to_be_focused()
    page.keyboard.press("t")   # after c, t still opens on the truck
    expect(page.locator("#assign-panel select[name=truck_id]")).to_be_focused()
    page.keyboard.press("Escape")

    # §8: a sort header swaps the board in place and puts the order in the URL (no page load).
    page.evaluate("window.__samePage = true")
    page.locator("thead a[data-sort=customer]").click()
    expect(page).to_have_url(f"{base}/?sort=customer")
    expect(page.locator("th[aria-sort=ascending] a[data-sort=customer]")).to_have_count(1)
    page.locator("thead a[data-sort=customer]").click()
    expect(page.locator("th[aria-sort=descending] a[data-sort=customer]")).to_have_count(1)
    expect(rows.first).to_have_attribute("data-job-id", str(ids["J-3"]))
    expect(page.locator("form.filters input[name=sort]")).to_have_value("-customer")
    expect(page.locator(".day-nav a[rel=next]")).to_have_attribute("href", re.compile(r"sort=-customer"))
    assert page.evaluate("window.__samePage") is True

    # §4: lanes put the waiting job in a queue with its count, name each truck's yard, and draw "now" on today.
    page.goto(base + "/?view=lanes")
    expect(page.locator(".lane-queue .lq-count")).to_have_text("1")
    expect(page.locator(f'.lane-queue [data-job-id="{ids["J-3"]}"]')).to_have_count(1)
    expect(page.locator(".lane .lane-place").first).to_have_text("North Yard")
    expect(page.locator(".lanes .lane-name", has_text="No truck")).to_have_count(0)
    expect(page.locator("[data-now-line]")).to_have_count(1)
    page.locator(".lane-queue summary").click()
    expect(page.locator(".lane-queue")).not_to_have_attribute("open", "")
    assert problems == []
    context.close()
