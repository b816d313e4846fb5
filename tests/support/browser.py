"""Shared pieces of the browser tests: Debian's Chromium, a live server thread, a demo-filled app, signing in.

The module-wide `browser` fixture is in tests/browser/conftest.py.
"""
import contextlib
import os
import threading

import pytest

DEBIAN_CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def chromium_path():
    """The Chromium the browser tests drive: CHROMIUM_PATH when set (.ci/run sets it), else Debian's."""
    return os.environ.get("CHROMIUM_PATH") or DEBIAN_CHROMIUM


def skip_without_chromium():
    """Skip the module when Chromium is missing, except in CI where it must be there."""
    if not os.path.exists(chromium_path()) and os.environ.get("CI") != "true":
        pytest.skip(f"Chromium is not installed at {chromium_path()} (set CHROMIUM_PATH)", allow_module_level=True)


@contextlib.contextmanager
def serving(app):
    """app on a free loopback port in a thread; yields its base URL."""
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        app.extensions["sqlalchemy_engine"].dispose()


def demo_app(tmp_path_factory, name, **overrides):
    """An app on a fresh SQLite file, filled by the demo start-up's sync from the sandbox (over real HTTP)."""
    from dashboard.demo import seed_demo
    from tests.support import make_test_app

    tmp = tmp_path_factory.mktemp(name)
    app = make_test_app("sqlite:///" + str(tmp / f"{name}.sqlite"), tmp, **overrides)
    with app.app_context():
        for _line in seed_demo(app):
            pass
    return app


@contextlib.contextmanager
def chromium():
    """A headless Chromium for one test module."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def collect_csp_blocks(page, into):
    """Append to into every console message in which Chromium reports something the CSP refused."""
    page.on("console", lambda msg: into.append(msg.text)
            if "Content Security Policy" in msg.text or "Refused to" in msg.text else None)


def sign_in(page, base, email, password="demo-password"):
    """Sign in through the real form (the demo users' password by default) and wait for the signed-in layout."""
    page.goto(base + "/auth/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_selector(".topbar")
    # The rows are in the HTML before htmx has run: wait for the load event, or a test that types at once
    # (a search) fires its input event before htmx listens, and the board never filters.
    page.wait_for_load_state("load")
