"""Real Chromium against a real server whose database was filled by a real sync from the sandbox.

Skipped only when Chromium (CHROMIUM_PATH, else /usr/bin/chromium) is missing outside CI; with CI=true these must run.
"""
import pathlib

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.support.browser import collect_csp_blocks
from tests.support.browser import demo_app
from tests.support.browser import serving
from tests.support.browser import sign_in
from tests.support.browser import skip_without_chromium

pytestmark = pytest.mark.browser

ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "test-artifacts"

skip_without_chromium()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """The app on a free port, its SQLite database seeded by the demo sync (sandbox over real HTTP)."""
    from dashboard.db import db
    from dashboard.models import Company

    app = demo_app(tmp_path_factory, "browser", BOARD_REFRESH_SECONDS=60)
    with app.app_context():
        company_id = db.session.scalar(sa.select(Company.id).where(Company.is_default.is_(True)))
    with serving(app) as url:
        yield {"url": url, "app": app, "company_id": company_id}


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.csp_errors = []
    collect_csp_blocks(page, page.csp_errors)
    page.set_default_timeout(20000)
    yield page
    context.close()


def jobs_by_location(server, user_email):
    """(customer names in the user's locations, customer names elsewhere) for today."""
    from dashboard.db import db
    from dashboard.models import TruckJourney
    from dashboard.models import User
    from dashboard.timeutil import company_today
    with server["app"].app_context():
        user = db.session.scalar(sa.select(User).where(User.email == user_email))
        mine = {loc.id for loc in user.locations}
        today = company_today(user.company.timezone)
        jobs = list(db.session.scalars(sa.select(TruckJourney).where(
            TruckJourney.scheduled_date == today, TruckJourney.sync_status != "REMOVED")))
        inside = {j.customer_name for j in jobs if j.location_id in mine}
        outside = {j.customer_name for j in jobs if j.location_id not in mine} - inside
        return inside, outside


def test_dispatcher_sees_assigned_locations_without_money(live_server, page):
    inside, outside = jobs_by_location(live_server, "dispatcher@demo.test")
    assert inside and outside, "the sandbox should give jobs both inside and outside the dispatcher's locations"
    sign_in(page, live_server["url"], "dispatcher@demo.test")
    page.wait_for_selector("#board-live tr[data-job-id]")
    titles = set(page.locator("tr[data-job-id] .t-cust").all_inner_texts())
    assert titles and titles <= inside
    assert not titles & outside
    assert page.locator(".money").count() == 0
    assert "Estimate" not in page.inner_text("#board-live")
    assert not page.csp_errors, page.csp_errors


def test_manager_sees_money(live_server, page):
    sign_in(page, live_server["url"], "manager@demo.test")
    page.wait_for_selector("#board-live tr[data-job-id]")
    assert page.locator("tr[data-job-id] .money").count() > 0
    assert page.locator("tr[data-job-id] .money").first.inner_text().startswith("$")


def test_filters_update_the_board_and_the_url(live_server, page):
    sign_in(page, live_server["url"], "manager@demo.test")
    page.wait_for_selector("#board-live tr[data-job-id]")
    first = page.locator("tr[data-job-id] .t-job").first.inner_text()
    page.fill("input[name=q]", first)
    expect(page.locator("#board-live tr[data-job-id]")).to_have_count(1)
    assert "q=" in page.url
    assert page.locator("tr[data-job-id] .t-job").first.inner_text() == first


def test_dispatcher_edits_a_job_and_sees_it_on_the_board(live_server, page):
    sign_in(page, live_server["url"], "dispatcher@demo.test")
    page.wait_for_selector("#board-live tr[data-job-id]")
    page.locator("tr[data-job-id] .t-job a").first.click()
    page.click("a.btn >> text=Assign / edit")
    page.wait_for_selector("form.form-card")
    options = page.locator("select[name=truck_id] option")
    truck_name = options.nth(1).inner_text()
    page.select_option("select[name=truck_id]", index=1)
    checkboxes = page.locator(".checklist input[type=checkbox]")
    if checkboxes.count():
        checkboxes.first.check()
    page.fill("input[name=crew_other]", "Browser Betty")
    page.fill("textarea[name=notes]", "Fragile mirror, bring blankets")
    page.select_option("select[name=dispatch_status]", "ASSIGNED")
    page.click("form.form-card button[type=submit]")
    page.wait_for_selector(".flashes")
    assert "Saved" in page.inner_text(".flashes")
    page.goto(live_server["url"] + "/?view=cards")
    page.wait_for_selector("#board-live article[data-job-id]")
    board = page.inner_text("#board-live") + " ".join(
        page.locator("#board-live [title]").evaluate_all("els => els.map(e => e.title)"))
    assert truck_name.replace(" (out of service)", "") in board
    assert "Browser Betty" in board and "Fragile mirror, bring blankets" in board
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "board.png"), full_page=True)
    assert not page.csp_errors, page.csp_errors


def test_admin_clicks_sync_now_and_watches_it_finish(live_server, page):
    from dashboard.db import db
    from dashboard.models import SyncRun
    ours = SyncRun.company_id == live_server["company_id"]   # the demo's second company synced its own world too
    with live_server["app"].app_context():
        before = db.session.scalar(sa.select(sa.func.count(SyncRun.id)).where(ours))
    sign_in(page, live_server["url"], "admin@demo.test")
    page.click("nav.mainnav >> text=Sync")
    page.wait_for_selector("#sync-now")
    page.click("#sync-now")
    # The panel swaps in (running, then polling) and ends without the poll once the run is done.
    expect(page.locator('#sync-panel[data-running="false"] tbody tr')).to_have_count(before + 1, timeout=60000)
    with live_server["app"].app_context():
        runs = list(db.session.scalars(sa.select(SyncRun).where(ours).order_by(SyncRun.id)))
    assert len(runs) == before + 1
    assert runs[-1].trigger == "manual" and runs[-1].status in ("SUCCESS", "PARTIAL")
    assert page.locator("#sync-now").is_enabled()
    assert "Sync now" in page.inner_text("#sync-now")
    assert not page.csp_errors, page.csp_errors


def test_sign_out_is_a_post(live_server, page):
    sign_in(page, live_server["url"], "auditor@demo.test")
    page.click("text=Sign out")
    page.wait_for_selector("input[name=email]")
    assert "/auth/login" in page.url
    page.goto(live_server["url"] + "/")
    assert "/auth/login" in page.url


def test_demo_sign_in_page_fills_in_an_account_with_one_click(live_server, page):
    page.goto(live_server["url"] + "/auth/login")
    page.get_by_role("button", name="Fill in dispatcher@demo.test").click()
    expect(page.locator("input[name=email]")).to_have_value("dispatcher@demo.test")
    page.locator(".auth-card button[type=submit]").press("Enter")
    expect(page.locator("[data-job-id]").first).to_be_visible()
    assert page.url.rstrip("/") == live_server["url"]
    assert page.csp_errors == []
