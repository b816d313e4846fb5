"""QA walkthrough, second batch, in real Chromium on the demo data.

- /crew: the location select narrows the roster and the URL, under the page's Content-Security-Policy (an inline
  onchange was blocked, so the select did nothing with JavaScript on).
- The assign panel on a 390×844 phone: every crew row and the close button are 44 px tall touch targets.
- The admin pages at 390 px: no table runs off the screen; a table that stays wide scrolls in a focusable region
  that says so (as the reports do), and the page itself never scrolls sideways.
"""
import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import collect_csp_blocks
from tests.support.browser import demo_app
from tests.support.browser import serving
from tests.support.browser import sign_in
from tests.support.browser import skip_without_chromium

pytestmark = pytest.mark.browser

skip_without_chromium()

PHONE = {"width": 390, "height": 844}

# Every admin page a super admin reaches from the menu (companies and the outbox included).
ADMIN_PAGES = ("/admin/users", "/admin/users/new", "/admin/trucks", "/locations/", "/admin/companies", "/outbox",
               "/audit", "/sync/", "/trucks/service", "/crew")

# Tables wider than the screen, unless inside a keyboard-reachable region (tabindex=0, named) with a visible hint.
WIDE_TABLES = """() => [...document.querySelectorAll('table')].filter(t => t.offsetParent !== null).map(t => {
  const region = t.closest('[role=region][tabindex="0"][aria-label]');
  const hint = region && region.parentElement.querySelector('.scroll-hint');
  const cue = !!(hint && hint.offsetParent !== null);
  return [t.className || 'table', Math.round(t.getBoundingClientRect().right), !!region && cue];
}).filter(([, right, scrolls]) => right > window.innerWidth && !scrolls)"""

# The box (width, height) of each visible element the selector finds.
BOXES = """(selector) => [...document.querySelectorAll(selector)].filter(el => el.offsetParent !== null).map(el => {
  const r = el.getBoundingClientRect();
  return [Math.round(r.width * 10) / 10, Math.round(r.height * 10) / 10];
})"""


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    app = demo_app(tmp_path_factory, "qafix2")
    with serving(app) as url:
        yield url


def _page(browser, viewport, **options):
    """A fresh context's page that records every CSP refusal and script error in page.problems."""
    context = browser.new_context(viewport=viewport, **options)
    page = context.new_page()
    page.problems = []
    collect_csp_blocks(page, page.problems)
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.set_default_timeout(15000)
    return page


@pytest.mark.parametrize("email", ["dispatcher@demo.test", "auditor@demo.test"])
def test_roster_location_select_narrows_the_list_and_the_url(live_server, browser, email):
    page = _page(browser, {"width": 1440, "height": 900})
    sign_in(page, live_server, email)
    page.goto(live_server + "/crew")
    groups = page.locator(".roster-group h2")
    assert groups.count() > 1
    select = page.locator("form.filters select[name=location]")
    option = select.locator("option").nth(1)
    name, value = option.inner_text().strip(), option.get_attribute("value")

    select.select_option(value)
    expect(page).to_have_url(re.compile(rf"/crew\?location={value}$"))
    # The select submits through app.js: on the new page, not before its script is listening (a change made
    # while it loaded went nowhere on a loaded CI machine).
    page.wait_for_load_state("load")
    expect(groups).to_have_count(1)
    expect(groups.first).to_contain_text(name)
    expect(select).to_have_value(value)

    select.select_option("")   # "All my locations" again
    expect(page).to_have_url(re.compile(r"/crew\?location=$"))
    assert groups.count() > 1
    assert page.problems == []
    page.context.close()


def test_assign_panel_rows_and_close_are_touch_sized_on_a_phone(live_server, browser):
    page = _page(browser, PHONE, has_touch=True, is_mobile=True)
    sign_in(page, live_server, "dispatcher@demo.test")
    page.goto(live_server + "/?view=table")
    page.locator('#board-live a[data-assign-kind="crew"]').first.click()
    expect(page.locator("#assign-panel .crew-list li").first).to_be_visible()
    rows = page.evaluate(BOXES, "#assign-panel .crew-list li label")
    assert rows and all(height >= 44 for _, height in rows), rows
    (close,) = page.evaluate(BOXES, "#assign-panel .assign-head [data-close-panel]")
    assert close[0] >= 44 and close[1] >= 44, close
    page.locator("#assign-panel .assign-head [data-close-panel]").tap()
    expect(page.locator("#assign-panel")).not_to_have_class(re.compile(r"is-open"))
    assert page.problems == []
    page.context.close()


def test_admin_pages_fit_a_phone(live_server, browser):
    page = _page(browser, PHONE)
    sign_in(page, live_server, "superadmin@demo.test")
    too_wide = []
    for path in ADMIN_PAGES:
        response = page.goto(live_server + path)
        assert response.status == 200, path
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide.append(f"{path}: page {width} px wide")
        too_wide.extend(f"{path}: {name} reaches {right} px" for name, right, _ in page.evaluate(WIDE_TABLES))
    assert too_wide == []
    assert page.problems == []
    page.context.close()
