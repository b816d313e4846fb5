"""The plan loop in real Chromium (issue 18 §5): the dispatcher sends tomorrow's plan, a mover confirms on a
390-px phone, the open board shows it within one poll; a truck change shows "changed", and "Send changes"
reaches only that job's crew (the outbox rows say so).

One live server on SQLite, filled directly (tests/support/confirm.py): two jobs tomorrow, four people with
e-mail addresses, no mail channel configured (messages wait in the outbox, links work all the same).
"""
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.support.browser import collect_csp_blocks
from tests.support.browser import serving
from tests.support.browser import sign_in
from tests.support.browser import skip_without_chromium

pytestmark = pytest.mark.browser

PASSWORD = "plan-loop-password"
# The board polls every second here; "within one poll" is a poll plus a render.
ONE_POLL_MS = 4000

skip_without_chromium()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    from dashboard.auth.users import create_user
    from dashboard.db import db
    from dashboard.models import Company
    from dashboard.models import Location
    from tests.support import make_test_app
    from tests.support.confirm import build_plan_world

    tmp = tmp_path_factory.mktemp("plan-loop")
    app = make_test_app("sqlite:///" + str(tmp / "plan.sqlite"), tmp, BOARD_REFRESH_SECONDS=1)
    with app.app_context():
        company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
    world = build_plan_world(app, company, publish=False)
    with app.app_context():
        create_user("dispatch@example.test", PASSWORD, "DISPATCHER", db.session.get(Company, world.company_id),
                    [db.session.get(Location, world.location_id)], full_name="Dee Spatcher")
        db.session.commit()
    with serving(app) as url:
        yield {"url": url, "app": app, "world": world}


def _page(browser, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.problems = []
    collect_csp_blocks(page, page.problems)
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.set_default_timeout(15000)
    return page


def _outbox(app, version):
    """{crew member id} of the outbox rows of plan version `version`."""
    from dashboard.db import db
    from dashboard.plans.models import OutboxMessage
    with app.app_context():
        return set(db.session.scalars(sa.select(OutboxMessage.crew_member_id).where(OutboxMessage.version == version)))


def _link_of(app, base, member_id):
    """The personal URL of member's newest message (as the outbox page would show it)."""
    from dashboard.db import db
    from dashboard.plans.links import link_url
    from dashboard.plans.models import OutboxMessage
    with app.app_context():
        link_id = db.session.scalar(sa.select(OutboxMessage.crew_link_id).where(
            OutboxMessage.crew_member_id == member_id).order_by(OutboxMessage.version.desc()).limit(1))
        return link_url(link_id, base)


def _send(page, button):
    """On the open board, open the header's Send plan panel and press button ("Send plan", "Send changes (2)")."""
    panel = page.locator("#publish-panel")
    toggle = panel.locator("> summary")   # the panel's own; the loaded panel has <details> of its own inside
    if panel.get_attribute("open") is not None:   # still open from the last send: reopen it for fresh counts
        toggle.click()
    toggle.click()
    page.locator("#publish-box").get_by_role("button", name=button).click()
    expect(page.locator(".publish-result")).to_be_visible()


def test_publish_confirm_on_a_phone_then_send_only_the_changes(live_server, browser):
    base, app, world = live_server["url"], live_server["app"], live_server["world"]
    office = _page(browser, 1440, 900)
    sign_in(office, base, "dispatch@example.test", PASSWORD)
    office.goto(base + "/board/tomorrow")
    _send(office, "Send plan")
    expect(office.locator(".publish-result")).to_contain_text("Plan v1 ready for 4 people")
    assert _outbox(app, 1) == {world.ana, world.bo, world.cy, world.dee}

    ana_on_board = office.locator(f"#job-{world.first} .pm", has_text="Ana Driver")
    expect(ana_on_board).to_have_class("pm pm-sent")
    expect(office.locator("[data-confirmed]")).to_contain_text("0 of 4 confirmed")

    phone = _page(browser, 390, 844)
    phone.goto(_link_of(app, base, world.ana))
    expect(phone.get_by_role("heading", name="Your jobs")).to_be_visible()
    confirm = phone.get_by_role("button", name="Confirm")
    box = confirm.bounding_box()
    assert box["height"] >= 44 and box["width"] <= 390
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390   # nothing wider than the phone
    confirm.click()
    expect(phone.locator(".cp-confirmed")).to_contain_text("Confirmed v1 — thanks")

    # The open board picks it up on its own poll.
    expect(ana_on_board).to_have_class("pm pm-confirmed", timeout=ONE_POLL_MS)
    expect(office.locator("[data-confirmed]")).to_contain_text("1 of 4 confirmed", timeout=ONE_POLL_MS)

    # Dispatch swaps J-100's truck: Ana's confirmation no longer holds.
    from dashboard.db import db
    from dashboard.models import TruckJourney
    from dashboard.models import utcnow
    with app.app_context():
        job = db.session.get(TruckJourney, world.first)
        job.truck_id, job.dispatch_updated_at = world.truck7, utcnow()
        db.session.commit()
    expect(ana_on_board).to_have_class("pm pm-changed", timeout=ONE_POLL_MS)

    _send(office, "Send changes (2)")
    assert _outbox(app, 2) == {world.ana, world.bo}     # only J-100's crew hears about it

    phone.goto(_link_of(app, base, world.ana))
    expect(phone.locator(".cp-changed")).to_contain_text("Truck 12 → Truck 7")
    phone.get_by_role("button", name="Confirm").click()
    expect(phone.locator(".cp-confirmed")).to_contain_text("Confirmed v2 — thanks")
    office.goto(base + "/board/tomorrow")
    expect(ana_on_board).to_have_class("pm pm-confirmed")
    assert office.problems == [] and phone.problems == []
    office.context.close()
    phone.context.close()
