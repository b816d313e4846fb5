"""Reports in real Chromium: a manager's charts draw inside the CSP; a dispatcher sees no money anywhere.

The server's database holds two weeks of history back-filled from the sandbox by the
demo start-up (the same path as `make run`, shortened).
"""
import threading

import pytest

# The same Chromium, launch flags and skip rule as the other browser tests.
from test_ui_flows import browser  # noqa: F401  (a fixture)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from werkzeug.serving import make_server

    from conftest import make_test_app
    from dashboard.demo import seed_demo

    tmp = tmp_path_factory.mktemp("reports-browser")
    app = make_test_app("sqlite:///" + str(tmp / "reports.sqlite"), tmp, DEMO_HISTORY_DAYS=14)
    with app.app_context():
        for _line in seed_demo(app):
            pass
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    thread.join(10)
    app.extensions["sqlalchemy_engine"].dispose()


def open_reports(browser, base, email):
    """A fresh context signed in as email, on /reports; returns (page, console messages about the CSP)."""
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    blocked = []
    page.on("console", lambda msg: blocked.append(msg.text)
            if "Content Security Policy" in msg.text or "Refused to" in msg.text else None)
    page.goto(base + "/auth/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "demo-password")
    page.click("form button[type=submit]")
    page.wait_for_selector(".topbar")
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
