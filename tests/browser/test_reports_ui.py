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
    assert page.locator("table[data-table='revenue'] td").first.inner_text().startswith("$")
    assert not blocked, blocked


def test_dispatcher_sees_no_money_anywhere(server, browser):
    page, blocked = open_reports(browser, server, "dispatcher@demo.test")
    assert page.locator("svg.chart-svg").count() == 2
    assert page.locator("svg[data-chart='chart-revenue']").count() == 0
    assert "$" not in page.inner_text("body")
    assert "$" not in page.content()
    assert "Estimated" not in page.content() and "Actual charges" not in page.content()
    assert not blocked, blocked
