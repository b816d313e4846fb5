"""The dispatch board in real Chromium: density, assign in place, conflicts, live refresh, phone
navigation, and a driver's live My jobs.

One live server for the module, its SQLite database filled directly (no sync: faster)
with a dispatcher's busy morning: 26 jobs at one location, trucks, crew and a double booking.
"""
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

PASSWORD = "board-ui-password"

skip_without_chromium()


def _at(day, hours):
    return datetime.combine(day, clock_time()) + timedelta(hours=hours)


def seed(app):
    """Two locations, trucks, crew, users and a morning of jobs; returns the ids the tests need."""
    from dashboard.auth.users import create_user
    from dashboard.db import db
    from dashboard.models import Company
    from dashboard.models import CrewMember
    from dashboard.models import Location
    from dashboard.models import Truck
    from dashboard.models import TruckJourney
    from dashboard.timeutil import company_today

    ids = {}
    with app.app_context():
        company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
        today = company_today(company.timezone)
        north = Location(company_id=company.id, name="North Yard")
        south = Location(company_id=company.id, name="South Yard")
        db.session.add_all([north, south])
        db.session.flush()
        trucks = [Truck(company_id=company.id, location_id=north.id, name=f"Truck 10{n}") for n in range(1, 5)]
        trucks.append(Truck(company_id=company.id, location_id=south.id, name="Truck 201"))
        db.session.add_all(trucks)
        people = {name: CrewMember(company_id=company.id, external_id=f"crew-{n}", name=name, status="ACTIVE")
                  for n, name in enumerate(["Ann Lifter", "Bob Carrier", "Cy Strong", "Dee Packer", "Eve Driver"])}
        db.session.add_all(people.values())
        db.session.flush()
        ids["eve"] = people["Eve Driver"].id

        def job(number, hour, **fields):
            values = dict(company_id=company.id, location_id=north.id, scheduled_date=today,
                          external_id=f"ext-{number}",
                          job_number=f"J-{number}", customer_name=f"Board Customer {number}",
                          origin_address=f"{number} King St W, Toronto, ON M5V 1A1",
                          destination_address=f"{number} Queen St E, Toronto, ON M4M 1A1",
                          arrival_window=f"{hour}:00 AM - {hour + 2}:00 AM" if hour < 10 else None,
                          arrival_start_hour=float(hour), span_start=_at(today, hour), span_end=_at(today, hour + 3),
                          estimated_value_cents=150000 + number, status="CONFIRMED", smartmoving_crew=["Cy Strong"])
            values.update(fields)
            # SmartMoving's crew as the sync stores it: the names and our crew member ids (My jobs follows ids).
            values["smartmoving_crew_ids"] = [people[name].id for name in values["smartmoving_crew"]]
            row = TruckJourney(**values)
            db.session.add(row)
            db.session.flush()
            return row.id

        # A morning of unassigned work (hours 6..9, no overlaps on trucks: none assigned).
        ids["plain"] = [job(1000 + n, 6 + n % 4, smartmoving_crew=[]) for n in range(22)]
        # The clash: Truck 101 on two overlapping jobs; a later one and a cancelled one that do not clash.
        ids["clash_a"] = job(2001, 8, truck_id=trucks[0].id, smartmoving_crew=["Dee Packer"])
        ids["clash_b"] = job(2002, 9, truck_id=trucks[0].id, smartmoving_crew=["Eve Driver"])
        ids["later"] = job(2003, 13, truck_id=trucks[0].id, smartmoving_crew=["Bob Carrier"],
                           arrival_window="1:00 PM - 3:00 PM")
        ids["cancelled"] = job(2004, 8, truck_id=trucks[0].id, status="CANCELLED", smartmoving_crew=["Dee Packer"])
        ids["target"] = job(3001, 7, customer_name="Assign Me Please", smartmoving_crew=["Ann Lifter", "Bob Carrier"])
        ids["south"] = job(4001, 8, location_id=south.id, customer_name="South Side")
        ids["truck_102"] = trucks[1].id
        for role, email, locations in (("DISPATCHER", "disp@board.test", [north]),
                                        ("MANAGER", "mgr@board.test", [north, south]),
                                        ("ADMIN", "admin@board.test", [])):
            create_user(email, PASSWORD, role, company, locations, full_name=f"{role.title()} Person")
        create_user("driver@board.test", PASSWORD, "DRIVER", company, crew_member=people["Eve Driver"])
        db.session.commit()
    return ids


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    from dashboard.jobs import render_cache
    from tests.support import make_test_app

    tmp = tmp_path_factory.mktemp("board-ui")
    app = make_test_app("sqlite:///" + str(tmp / "board.sqlite"), tmp, BOARD_REFRESH_SECONDS=1)
    ids = seed(app)
    render_cache.partials.clear()
    with serving(app) as url:
        yield {"url": url, "app": app, "ids": ids}


def new_page(browser, width=1440, height=900):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.problems = []
    collect_csp_blocks(page, page.problems)
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.set_default_timeout(15000)
    return page


@pytest.fixture
def page(browser):
    page = new_page(browser)
    yield page
    page.context.close()


def fully_visible(page, selector):
    """How many elements matching selector lie entirely inside the viewport."""
    return page.evaluate("""(selector) => Array.from(document.querySelectorAll(selector)).filter(el => {
        const r = el.getBoundingClientRect();
        return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight
            && r.left >= 0 && r.right <= window.innerWidth;
    }).length""", selector)


def test_dense_table_and_cards_at_1440x900(live_server, page):
    sign_in(page, live_server["url"], "disp@board.test", PASSWORD)
    page.wait_for_selector("#board-live tr[data-job-id]")
    assert fully_visible(page, "#board-live tr[data-job-id]") >= 20
    page.click(".view-toggle >> text=Cards")
    page.wait_for_selector("#board-live article[data-job-id]")
    assert "view=cards" in page.url
    assert fully_visible(page, "#board-live article[data-job-id]") >= 12
    # The toggle keeps the view in every header link (filters too).
    assert "view=cards" in page.get_attribute("a[rel=next]", "href")
    assert not page.problems, page.problems


def test_overlapping_jobs_both_carry_a_badge_others_do_not(live_server, page):
    ids = live_server["ids"]
    sign_in(page, live_server["url"], "disp@board.test", PASSWORD)
    page.wait_for_selector("#board-live tr[data-job-id]")
    for job_id in (ids["clash_a"], ids["clash_b"]):
        expect(page.locator(f'tr[data-job-id="{job_id}"] .f-conflict')).to_have_count(1)
    for job_id in (ids["later"], ids["cancelled"], ids["target"]):
        expect(page.locator(f'tr[data-job-id="{job_id}"] .f-conflict')).to_have_count(0)
    assert "Conflicts 2" in " ".join(page.locator(".counts").inner_text().split())   # the two jobs of one clash
    page.goto(live_server["url"] + "/?view=lanes")
    expect(page.locator(".lb-conflict")).to_have_count(2)
    assert page.locator(f'.lb[data-job-id="{ids["later"]}"]').get_attribute("class").count("lb-conflict") == 0


def test_assign_truck_and_crew_in_place_keeps_filters_and_focus(live_server, page):
    from dashboard.db import db
    from dashboard.models import Truck
    from dashboard.models import TruckJourney

    ids = live_server["ids"]
    sign_in(page, live_server["url"], "disp@board.test", PASSWORD)
    page.goto(live_server["url"] + "/?q=J-3001&group=none")
    page.evaluate("window.__sameDocument = true")
    row = page.locator(f'tr[data-job-id="{ids["target"]}"]')
    truck_cell = row.locator(".t-truck a")
    truck_cell.click()                                                   # 1: open the form in place
    select = page.locator("#assign-panel select[name=truck_id]")
    expect(select).to_be_focused()
    # The location's trucks come first; SmartMoving's crew is pre-ticked.
    assert page.locator("#assign-panel optgroup").first.get_attribute("label") == "North Yard"
    ticked = page.locator("#assign-panel input[name=crew]:checked")
    expect(ticked).to_have_count(2)
    # Picking the busy Truck 101 warns before saving.
    page.select_option("#assign-panel select[name=truck_id]", label=page.locator(
        "#assign-panel option", has_text="Truck 101").first.inner_text())
    expect(page.locator("#assign-panel .assign-conflicts")).to_contain_text("Truck 101 is also on job J-2001")
    select.select_option(str(ids["truck_102"]))                          # 2: pick a free truck
    expect(page.locator("#assign-panel .assign-conflicts .alert")).to_have_count(0)
    page.fill("#assign-panel .crew-search", "dee")
    page.check("#assign-panel li[data-name^='dee packer '] input[name=crew]")
    # Dee is on J-2001 too: seen before saving, so the save does not ask about it.
    expect(page.locator("#assign-panel .assign-conflicts")).to_contain_text("Crew member Dee Packer")
    page.click("#assign-panel button[type=submit]")                      # 3: save
    expect(row.locator(".t-truck")).to_contain_text("Truck 102")
    expect(row.locator(".t-crew")).to_contain_text("3")
    assert page.evaluate("window.__sameDocument") is True                # no page load
    assert "q=J-3001" in page.url and "group=none" in page.url
    assert page.evaluate("document.activeElement.closest('[data-job-id]')?.dataset.jobId") == str(ids["target"])
    with live_server["app"].app_context():
        job = db.session.get(TruckJourney, ids["target"])
        assert db.session.get(Truck, job.truck_id).name == "Truck 102"
        assert job.crew == ["Ann Lifter", "Bob Carrier", "Dee Packer"]
        assert job.dispatch_status == "ASSIGNED"
    assert not page.problems, page.problems


def test_refresh_morphs_the_board_and_keeps_focus(live_server, page):
    from dashboard.db import db
    from dashboard.models import TruckJourney
    from dashboard.models import utcnow

    ids = live_server["ids"]
    sign_in(page, live_server["url"], "disp@board.test", PASSWORD)
    page.wait_for_selector("#board-live tr[data-job-id]")
    link = page.locator(f'tr[data-job-id="{ids["later"]}"] .t-job a')
    link.focus()
    page.evaluate("document.activeElement.__kept = true")
    with live_server["app"].app_context():
        job = db.session.get(TruckJourney, ids["plain"][0])
        job.notes, job.dispatch_updated_at = "Changed by someone else", utcnow()
        db.session.commit()
    # Someone else's edit shows up within the poll interval, without moving focus.
    expect(page.locator(f'tr[data-job-id="{ids["plain"][0]}"] .f-note')).to_have_count(1, timeout=10000)
    assert page.evaluate("document.activeElement.__kept === true")
    assert page.evaluate("document.activeElement.closest('[data-job-id]').dataset.jobId") == str(ids["later"])


def test_phone_navigation_reaches_every_page(live_server, browser):
    page = new_page(browser, 390, 844)
    try:
        sign_in(page, live_server["url"], "admin@board.test", PASSWORD)
        nav = page.locator("#mainnav")
        expect(nav).to_be_hidden()
        page.click("[data-menu]")
        expect(nav).to_be_visible()
        names = nav.locator("a").all_inner_texts()
        assert {"Today", "Tomorrow", "Locations", "Sync", "Users", "Trucks"} <= set(names)
        for index, name in enumerate(names):
            if index:
                page.click("[data-menu]")
                expect(nav).to_be_visible()
            link = nav.locator("a").nth(index)
            box = link.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, name
            with page.expect_navigation():
                link.click()
            expect(page.locator('#mainnav a[aria-current="page"]')).to_have_text(name)
            assert page.locator(".error-page").count() == 0, name
            expect(nav).to_be_hidden()
        expect(page.locator(".topbar >> text=Sign out")).to_be_hidden()
        page.click("[data-menu]")
        expect(page.locator(".topbar >> text=Sign out")).to_be_visible()
    finally:
        page.context.close()


def test_on_a_phone_the_lanes_keep_truck_names_in_view_while_the_day_scrolls(live_server, browser):
    page = new_page(browser, 390, 844)
    try:
        sign_in(page, live_server["url"], "disp@board.test", PASSWORD)
        page.goto(live_server["url"] + "/?view=lanes")
        name = page.locator(".lanes .lane:not(.lane-hours) .lane-name").first
        expect(name).to_be_visible()
        before = name.bounding_box()
        page.eval_on_selector(".lanes-scroll", "el => { el.scrollLeft = 500; }")
        assert page.eval_on_selector(".lanes-scroll", "el => el.scrollLeft") > 0   # the day is wider than the phone
        after = name.bounding_box()
        assert after["x"] == pytest.approx(before["x"], abs=1) and after["x"] >= 0
        assert after["x"] + after["width"] <= 390 / 3   # the name column leaves the phone to the day
        assert not page.problems, page.problems
    finally:
        page.context.close()


def test_an_unchanged_board_polls_304_and_keeps_its_rows(live_server, page):
    polls = []
    page.on("response", lambda answer: polls.append(answer.status)
            if answer.request.headers.get("hx-trigger") == "board-live" else None)
    sign_in(page, live_server["url"], "disp@board.test", PASSWORD)
    page.wait_for_selector("#board-live tr[data-job-id]")
    rows = page.locator("#board-live tr[data-job-id]").count()
    for _ in range(50):   # BOARD_REFRESH_SECONDS is 1 here: four polls within a few seconds
        if len(polls) >= 4:
            break
        page.wait_for_timeout(200)
    # The first poll learns the board's ETag; nothing changed since, so the rest are 304s.
    assert polls[0] == 200 and set(polls[1:4]) == {304}, polls
    assert page.locator("#board-live tr[data-job-id]").count() == rows   # a 304 swaps nothing in


def test_a_poll_after_idle_expiry_lands_on_sign_in_with_the_reason(live_server, page):
    app = live_server["app"]
    sign_in(page, live_server["url"], "mgr@board.test", PASSWORD)
    page.wait_for_selector("#board-live")
    idle = app.config["SESSION_IDLE_MINUTES"]
    app.config["SESSION_IDLE_MINUTES"] = 2 / 60   # two seconds; polls are not activity
    try:
        page.wait_for_url("**/auth/login**", timeout=15000)
        expect(page.locator(".flashes")).to_contain_text("inactivity")
    finally:
        app.config["SESSION_IDLE_MINUTES"] = idle


def test_my_jobs_shows_a_driver_a_job_dispatch_gives_them_without_a_reload(live_server, page):
    from dashboard.db import db
    from dashboard.models import TruckJourney
    from dashboard.models import utcnow

    ids = live_server["ids"]
    polls = []
    page.on("response", lambda answer: polls.append(answer.status)
            if answer.request.headers.get("hx-trigger") == "my-jobs-live" else None)
    sign_in(page, live_server["url"], "driver@board.test", PASSWORD)
    page.wait_for_url("**/my-jobs")
    expect(page.locator("#my-jobs-live")).to_contain_text("J-2002")   # Eve is on SmartMoving's crew
    page.evaluate("window.__sameDocument = true")
    for _ in range(50):
        if len(polls) >= 3:
            break
        page.wait_for_timeout(200)
    assert polls[0] == 200 and set(polls[1:3]) == {304}, polls
    with live_server["app"].app_context():   # dispatch puts Eve on the 6 a.m. job too
        job = db.session.get(TruckJourney, ids["plain"][0])
        before = job.crew, job.crew_member_ids
        job.crew, job.crew_member_ids, job.dispatch_updated_at = ["Eve Driver"], [ids["eve"]], utcnow()
        db.session.commit()
    try:
        expect(page.locator("#my-jobs-live")).to_contain_text("J-1000", timeout=10000)
        assert page.evaluate("window.__sameDocument === true")   # no page load
    finally:
        with live_server["app"].app_context():
            job = db.session.get(TruckJourney, ids["plain"][0])
            (job.crew, job.crew_member_ids), job.dispatch_updated_at = before, utcnow()
            db.session.commit()


def add_board_job(app, number, hour, **fields):
    """A job at North Yard today from hour to hour + 3 (these tests' own, added after the others ran)."""
    from dashboard.db import db
    from dashboard.models import Location
    from dashboard.models import Truck
    from dashboard.models import TruckJourney
    from dashboard.timeutil import company_today

    with app.app_context():
        north = db.session.scalar(sa.select(Location).where(Location.name == "North Yard"))
        today = company_today(north.company.timezone)
        if "truck" in fields:
            fields["truck_id"] = db.session.scalar(sa.select(Truck.id).where(Truck.name == fields.pop("truck")))
        row = TruckJourney(company_id=north.company_id, location_id=north.id, scheduled_date=today,
                           external_id=f"ext-{number}", job_number=f"J-{number}", customer_name=f"Late {number}",
                           arrival_start_hour=float(hour), span_start=_at(today, hour), span_end=_at(today, hour + 3),
                           status="CONFIRMED", smartmoving_crew=[], **fields)
        db.session.add(row)
        db.session.commit()
        return row.id


def open_assign_panel(page, live_server, job_number, job_id):
    sign_in(page, live_server["url"], "disp@board.test", PASSWORD)
    page.goto(live_server["url"] + f"/?q={job_number}&group=none")
    page.locator(f'tr[data-job-id="{job_id}"] .t-truck a').click()
    expect(page.locator("#assign-panel select[name=truck_id]")).to_be_focused()


def stored_job(live_server, job_id):
    from dashboard.db import db
    from dashboard.models import TruckJourney

    with live_server["app"].app_context():
        return db.session.get(TruckJourney, job_id)


def test_enter_in_the_crew_search_picks_the_first_match_and_never_saves(live_server, page):
    job_id = add_board_job(live_server["app"], 5001, 11)
    open_assign_panel(page, live_server, "J-5001", job_id)
    page.locator("#assign-panel select[name=truck_id]").select_option(label="Truck 103")
    search = page.locator("#assign-panel .crew-search")
    search.fill("dee")
    search.press("Enter")                                                # picks Dee Packer
    expect(page.locator("#assign-panel li[data-name^='dee packer '] input[name=crew]")).to_be_checked()
    expect(search).to_have_value("")
    expect(page.locator("#assign-panel li[data-name]:not([hidden])")).to_have_count(5)   # the list again
    search.fill("nobody")
    search.press("Enter")                                                # no match: nothing happens
    search.press("Enter")
    page.wait_for_timeout(500)
    expect(page.locator("#assign-panel [data-saved-job]")).to_have_count(0)
    expect(page.locator("#assign-panel form.assign-form")).to_be_visible()
    job = stored_job(live_server, job_id)
    assert job.truck_id is None and job.crew is None and job.dispatch_updated_at is None    # nothing saved
    page.click("#assign-panel button[type=submit]")                      # Save still saves, with the pick
    expect(page.locator("#assign-panel [data-saved-job]")).to_have_count(1)
    assert stored_job(live_server, job_id).crew == ["Dee Packer"]
    assert not page.problems, page.problems


def test_a_stale_panel_asks_save_anyway_or_back_for_a_clash_booked_meanwhile(live_server, page):
    app = live_server["app"]
    job_id = add_board_job(app, 5002, 17)       # after J-2003 (Bob Carrier, 13-16)
    open_assign_panel(page, live_server, "J-5002", job_id)
    page.locator("#assign-panel select[name=truck_id]").select_option(label="Truck 104")
    page.check("#assign-panel li[data-name^='bob carrier '] input[name=crew]")
    page.wait_for_timeout(700)                                           # the preview has answered: no conflict
    expect(page.locator("#assign-panel .assign-conflicts .alert")).to_have_count(0)
    add_board_job(app, 5003, 18, truck="Truck 104")                      # another user books Truck 104
    page.click("#assign-panel [data-save-actions] button[type=submit]")
    question = page.locator("#assign-panel [data-conflict-question]")
    expect(question).to_contain_text("Truck 104 is also on job J-5003")
    expect(question.get_by_role("button", name="Save anyway")).to_be_visible()
    expect(question.get_by_role("button", name="Back")).to_be_focused()
    expect(page.locator("#assign-panel [data-save-actions]")).to_be_hidden()
    assert stored_job(live_server, job_id).truck_id is None             # not saved
    question.get_by_role("button", name="Back").click()                  # Back: the form, clash now listed
    expect(question).to_have_count(0)
    expect(page.locator("#assign-panel [data-save-actions]")).to_be_visible()
    expect(page.locator("#assign-panel select[name=truck_id]")).to_be_focused()
    expect(page.locator("#assign-panel .assign-conflicts")).to_contain_text("Truck 104 is also on job J-5003")
    add_board_job(app, 5004, 16, crew=["Bob Carrier"])                   # and meanwhile Bob is booked too
    page.click("#assign-panel [data-save-actions] button[type=submit]")
    expect(question).to_contain_text("Crew member Bob Carrier is also on job J-5004")
    expect(question).not_to_contain_text("Truck 104")                    # shown already: not asked again
    assert stored_job(live_server, job_id).truck_id is None
    question.get_by_role("button", name="Save anyway").click()
    expect(page.locator("#assign-panel [data-saved-job]")).to_contain_text("Saved J-5002")
    job = stored_job(live_server, job_id)
    assert job.truck_id is not None and job.crew == ["Bob Carrier"]
    assert not page.problems, page.problems
