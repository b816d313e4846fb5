"""Retake the README's screenshots (docs/*.png) from a running demo app.

    .venv/bin/flask --app dashboard init-db
    .venv/bin/flask --app dashboard run --port 5093 &
    .venv/bin/python docs/screenshots.py http://127.0.0.1:5093

Needs Playwright for Python and a Chromium (CHROMIUM_PATH, default /usr/bin/chromium).
A fresh demo has no trucks on today's jobs (start-up assigns only past days), so before
the 2026-11-28 shots about half of today's live jobs were given a free truck of their
location and their SmartMoving crew through PATCH /api/smartmoving/jobs/<id> (an admin's
token from `flask --app dashboard create-token admin@demo.test`), some set EN_ROUTE.
"""
import os
import pathlib
import sys

from playwright.sync_api import sync_playwright

DOCS = pathlib.Path(__file__).resolve().parent
DESKTOP = {"width": 1440, "height": 900}

# (file, demo user, path) - each taken at 1440x900, the top of the page.
SHOTS = [
    ("board-table.png", "admin@demo.test", "/"),
    ("board-lanes.png", "admin@demo.test", "/?view=lanes"),
    ("reports.png", "manager@demo.test", "/reports/"),
]


def sign_in(page, base, email):
    page.goto(base + "/auth/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "demo-password")
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state("networkidle")


def main(base):
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
        for name, email, path in SHOTS:
            context = browser.new_context(viewport=DESKTOP)
            page = context.new_page()
            sign_in(page, base, email)
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(DOCS / name))
            print("wrote", DOCS / name)
            context.close()
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:5000")
