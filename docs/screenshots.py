"""Retake the README's screenshots (docs/*.png) from a running demo app.

    .venv/bin/flask --app dashboard init-db
    .venv/bin/flask --app dashboard run --port 5093 &
    .venv/bin/python docs/screenshots.py http://127.0.0.1:5093 [crew-roster.png ...]

Names after the address retake only those shots (personal-plan-phone.png included); none: all.

Needs Playwright for Python and a Chromium (CHROMIUM_PATH, default /usr/bin/chromium).
A fresh demo has no trucks on today's jobs (start-up assigns only past days), so before
the 2026-11-28 shots about half of today's live jobs were given a free truck of their
location and their SmartMoving crew through PATCH /api/smartmoving/jobs/<id> (an admin's
token from `flask --app dashboard create-token admin@demo.test`), some set EN_ROUTE.

The crew shots want a demo that has run a few minutes (the sandbox's edits give the
Changed badges and the changes page). Before them the script sends tomorrow's plan as
PLANNER through the Send plan page (each run sends a new version: its messages are the
outbox's newest), takes the first personal page of the outbox as its crew member sees
it, then answers a few personal pages (one "can't make it") so PLANNER's board shows
confirmations.
"""
import os
import pathlib
import re
import sys

from playwright.sync_api import sync_playwright

DOCS = pathlib.Path(__file__).resolve().parent
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
# The demo location whose crew has time off and whose jobs the sandbox edits.
BUSY_LOCATION = "Toronto Downtown"
PEOPLE_WHO_ANSWER = 8   # personal pages answered after the plan is sent; the third says it can't make it
# Sends the plan, and its board shows the readiness panel: no money column, so the flags stay beside the panel.
PLANNER = "dispatcher@demo.test"

# (file, demo user, path, viewport, what to do before the shot) - each the top of the page.
# {location} in a path is BUSY_LOCATION's id; {tomorrow} is the company's tomorrow.
SHOTS = [
    ("board-table.png", "admin@demo.test", "/", DESKTOP, None),
    ("board-lanes.png", "admin@demo.test", "/?view=lanes", DESKTOP, None),
    ("reports.png", "manager@demo.test", "/reports/", DESKTOP, None),
    ("board-readiness.png", PLANNER, "/board/tomorrow", DESKTOP, "open readiness"),
    ("crew-roster.png", "admin@demo.test", "/crew?location={location}", DESKTOP, None),
    ("changes.png", "admin@demo.test", "/changes", DESKTOP, None),
    ("outbox.png", "admin@demo.test", "/outbox", DESKTOP, "open first message"),
    ("my-jobs-phone.png", "driver@demo.test", "/my-jobs", PHONE, None),
]


def sign_in(page, base, email):
    """Sign page in as the demo user email."""
    page.goto(base + "/auth/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "demo-password")
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state("networkidle")


def signed_in(browser, base, email, viewport=DESKTOP):
    """A new browser context and page, signed in as email."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    sign_in(page, base, email)
    return context, page


def board_facts(browser, base):
    """(tomorrow as YYYY-MM-DD, BUSY_LOCATION's id) as the admin's tomorrow board has them."""
    context, page = signed_in(browser, base, "admin@demo.test")
    page.goto(base + "/board/tomorrow")
    tomorrow = page.input_value("#date-pick")
    location = page.eval_on_selector(
        "select[name=location]",
        "(select, name) => [...select.options].find(o => o.textContent.trim() === name)?.value || ''",
        BUSY_LOCATION)
    context.close()
    return tomorrow, location


def send_plan(browser, base, tomorrow):
    """Send tomorrow's plan to everyone of PLANNER's locations (a new version when one was sent)."""
    context, page = signed_in(browser, base, PLANNER)
    page.goto(f"{base}/plans/{tomorrow}/publish")
    page.click(".publish-actions button.btn-primary")
    page.wait_for_selector(".publish-result")
    print(page.inner_text(".publish-result"))
    context.close()


def personal_links(browser, base):
    """The personal page links of the outbox's newest messages, newest first, each once."""
    context, page = signed_in(browser, base, "admin@demo.test")
    page.goto(base + "/outbox")
    links = re.findall(r'href="(https?://[^"]+/p/[^"]+)"', page.content())
    context.close()
    return list(dict.fromkeys(links))


def personal_page_and_answers(browser, base, links):
    """docs/personal-plan-phone.png from the first link (unanswered), then a few answers."""
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(links[0])
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(DOCS / "personal-plan-phone.png"))
    print("wrote", DOCS / "personal-plan-phone.png")
    for number, link in enumerate(links[:PEOPLE_WHO_ANSWER]):
        page.goto(link)
        if number == 2:
            page.click(".cp-decline summary")
            page.fill("#cp-reason", "Car trouble; I can do the afternoon")
            page.click(".cp-reason-form button[type=submit]")
        else:
            page.click(".cp-confirm button[type=submit]")
        page.wait_for_load_state("networkidle")
    context.close()


def before_shot(page, what):
    """Open what the shot shows open: the readiness panel or the outbox's first message."""
    if what == "open readiness":
        page.wait_for_selector("#readiness .readiness-body", state="attached")
        page.click("#readiness summary")
    elif what == "open first message":
        page.click(".outbox-body summary >> nth=0")
    page.wait_for_timeout(300)


def main(base, names=()):
    """Send tomorrow's plan if needed, answer some of it, then take the shots of SHOTS named (all without names)."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
        tomorrow, location = board_facts(browser, base)
        send_plan(browser, base, tomorrow)
        links = personal_links(browser, base)
        if links and (not names or "personal-plan-phone.png" in names):
            personal_page_and_answers(browser, base, links)
        for name, email, path, viewport, what in SHOTS:
            if names and name not in names:
                continue
            context, page = signed_in(browser, base, email, viewport)
            page.goto(base + path.format(location=location, tomorrow=tomorrow))
            page.wait_for_load_state("networkidle")
            if what:
                before_shot(page, what)
            page.screenshot(path=str(DOCS / name))
            print("wrote", DOCS / name)
            context.close()
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:5000", sys.argv[2:])
