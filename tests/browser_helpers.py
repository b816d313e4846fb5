"""Shared pieces of the browser tests: Debian's Chromium, a live server thread, a module-wide browser."""
import contextlib
import os
import threading

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def skip_without_chromium():
    """Skip the module when Chromium is missing, except in CI where it must be there."""
    if not os.path.exists(CHROMIUM) and os.environ.get("CI") != "true":
        pytest.skip("Chromium is not installed at /usr/bin/chromium", allow_module_level=True)


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


@contextlib.contextmanager
def chromium():
    """A headless Chromium for one test module."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
