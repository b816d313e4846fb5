"""axe-core in real Chromium (issue 20 §17): no critical or serious violation on the pages people use every day.

One demo-filled app, one browser: the board (table, cards, lanes; at 1440 and at 390 px), a job page, sync,
reports, audit, the changes list, the crew roster, My jobs, My availability, a personal plan page (/p/<token>) and
the assign panel open on the board.
axe-core's own script comes with axe-playwright-python (its axe.min.js); page.evaluate injects it, which the
page's Content-Security-Policy does not govern.
"""
import pytest
import sqlalchemy as sa

from tests.support.browser import demo_app
from tests.support.browser import serving
from tests.support.browser import sign_in
from tests.support.browser import skip_without_chromium

pytestmark = pytest.mark.browser

skip_without_chromium()
axe_playwright = pytest.importorskip("axe_playwright_python.sync_playwright")

# WCAG 2.1 A and AA plus axe's best practices; "critical" and "serious" fail the test.
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
               "resultTypes": ["violations"]}
FAILING = ("critical", "serious")


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    from dashboard.db import db
    from dashboard.models import Company
    from dashboard.models import TruckJourney
    from dashboard.models import User
    from dashboard.timeutil import company_today
    from tests.support.confirm import tell_crew

    app = demo_app(tmp_path_factory, "a11y")
    with app.app_context():
        company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
        _version, tokens = tell_crew(company, company_today(company.timezone))   # a published plan: /p/ links
        dispatcher = db.session.scalar(sa.select(User).where(User.email == "dispatcher@demo.test"))
        job_id = db.session.scalar(sa.select(TruckJourney.id).where(
            TruckJourney.location_id.in_([location.id for location in dispatcher.locations]),
            TruckJourney.scheduled_date == company_today(company.timezone)).limit(1))
    with serving(app) as url:
        yield {"url": url, "token": next(iter(tokens.values())), "job_id": job_id}


def _violations(page):
    """'impact rule: N nodes (first target)' for each critical or serious axe finding on the page."""
    results = axe_playwright.Axe().run(page, options=AXE_OPTIONS).response
    return [f"{v['impact']} {v['id']}: {len(v['nodes'])} nodes, e.g. {v['nodes'][0]['target']}"
            for v in results["violations"] if v["impact"] in FAILING]


def _audit(page, base, paths, found):
    """Open each path and record what axe finds there."""
    for path in paths:
        response = page.goto(base + path)
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
        found.extend(f"{path} @ {page.viewport_size['width']}px: {text}" for text in _violations(page))


def test_no_critical_or_serious_axe_violations(live_server, browser):
    base = live_server["url"]
    found = []
    for width, height in ((1440, 900), (390, 844)):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.set_default_timeout(15000)
        sign_in(page, base, "dispatcher@demo.test")
        _audit(page, base, ["/?view=cards", "/?view=lanes", "/"], found)
        page.locator("#board-live a[data-assign]").first.click()   # the assign panel, open over the table
        page.wait_for_selector("#assign-panel select[name=truck_id]")
        found.extend(f"assign panel @ {width}px: {text}" for text in _violations(page))
        if width == 1440:
            _audit(page, base, [f"/jobs/{live_server['job_id']}", "/sync/", "/reports/", "/changes", "/crew"], found)
        context.close()
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    sign_in(page, base, "admin@demo.test")
    _audit(page, base, ["/audit"], found)
    context.close()
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in(page, base, "driver@demo.test")
    _audit(page, base, ["/my-jobs", "/me/availability"], found)
    context.close()
    context = browser.new_context(viewport={"width": 390, "height": 844})   # the crew's link: no sign-in
    page = context.new_page()
    _audit(page, base, [f"/p/{live_server['token']}"], found)
    context.close()
    assert found == []
