"""Reports in real Chromium: a manager's charts draw inside the CSP; a dispatcher sees no money anywhere.

The server's database holds two weeks of history back-filled from the sandbox by the
demo start-up (the same path as `make run`, shortened).
"""
import pytest

from tests.support.browser import collect_csp_blocks
from tests.support.browser import demo_app
from tests.support.browser import serving
from tests.support.browser import sign_in
from tests.support.browser import skip_without_chromium

pytestmark = pytest.mark.browser

skip_without_chromium()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    app = demo_app(tmp_path_factory, "reports", DEMO_HISTORY_DAYS=14)
    with serving(app) as url:
        yield url


def open_reports(browser, base, email):
    """A fresh context signed in as email, on /reports; returns (page, console messages about the CSP)."""
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    blocked = []
    collect_csp_blocks(page, blocked)
    sign_in(page, base, email)
    page.click("nav >> text=Reports")
    page.wait_for_selector("svg.chart-svg")
    return page, blocked


def test_managers_charts_render_with_their_numbers(server, browser):
    page, blocked = open_reports(browser, server, "manager@demo.test")
    charts = page.locator("svg.chart-svg")
    assert charts.count() == 3
    for name in ("revenue", "days", "utilisation-days"):
        svg = page.locator(f"svg[data-chart='chart-{name}']")
        marks = svg.locator("rect.bar, circle.dot")
        assert marks.count() > 10, name
        box = svg.bounding_box()
        assert box["width"] > 400 and box["height"] > 120, (name, box)
        # Drawn in colour: the classes' fills from app.css apply (no inline styles needed).
        fill = marks.first.evaluate("node => getComputedStyle(node).fill")
        assert fill not in ("", "none", "rgb(0, 0, 0)"), (name, fill)
        assert page.locator(f"table[data-table='{name}'] tbody tr").count() >= 14
    # Money cells read "$…"; a day a location had no job reads "—" (no data), never "$0.00" (issue 20 item 12).
    cells = page.locator("table[data-table='revenue'] tbody td").all_inner_texts()
    assert any(cell.startswith("$") for cell in cells) and all(cell.startswith("$") or cell == "—" for cell in cells)
    assert not blocked, blocked


def test_a_phone_sees_that_wide_tables_scroll_sideways(server, browser):
    """390 px: a wide table scrolls inside its box, says so, and takes keyboard focus to scroll."""
    page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    sign_in(page, server, "manager@demo.test")
    page.goto(server + "/reports/")
    wrap = page.locator("#estimates .report-table")
    assert wrap.evaluate("node => node.scrollWidth > node.clientWidth")
    assert page.locator("#estimates .scroll-hint").is_visible()
    assert wrap.get_attribute("tabindex") == "0"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390   # the page itself does not scroll
    assert page.locator("#revenue .axis-title-y").is_visible() and page.locator("#days .axis-title-x").is_visible()


def test_dispatcher_sees_no_money_anywhere(server, browser):
    page, blocked = open_reports(browser, server, "dispatcher@demo.test")
    assert page.locator("svg.chart-svg").count() == 2
    assert page.locator("svg[data-chart='chart-revenue']").count() == 0
    assert "$" not in page.inner_text("body")
    assert "$" not in page.content()
    assert "Estimated" not in page.content() and "Actual charges" not in page.content()
    assert not blocked, blocked
