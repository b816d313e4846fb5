"""Upstream changes in real Chromium (issue 19): a dispatcher has tomorrow's board open, SmartMoving's arrival
window of a planned job changes in the sandbox and a sync runs; the Changed badge appears within one poll, the
dispatcher opens it, reads before → after, acknowledges, and the badge goes."""
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.support.browser import demo_app
from tests.support.browser import serving
from tests.support.browser import sign_in
from tests.support.browser import skip_without_chromium

pytestmark = pytest.mark.browser

skip_without_chromium()

POLL_SECONDS = 2


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    app = demo_app(tmp_path_factory, "changes", BOARD_REFRESH_SECONDS=POLL_SECONDS)
    with serving(app) as url:
        yield {"url": url, "app": app}


def _planned_job_of_the_dispatcher(app):
    """(job id, external id, customer) of a job tomorrow in the demo dispatcher's locations, planned by us."""
    from datetime import timedelta

    from dashboard.db import db
    from dashboard.models import Company
    from dashboard.models import TruckJourney
    from dashboard.models import User
    from dashboard.timeutil import company_today

    with app.app_context():
        company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
        dispatcher = db.session.scalar(sa.select(User).where(User.email == "dispatcher@demo.test"))
        locations = [location.id for location in dispatcher.locations]
        tomorrow = company_today(company.timezone) + timedelta(days=1)
        job = db.session.scalar(sa.select(TruckJourney).where(
            TruckJourney.scheduled_date == tomorrow, TruckJourney.location_id.in_(locations),
            TruckJourney.sync_status == "SYNCED", TruckJourney.arrival_window.is_not(None))
            .order_by(TruckJourney.job_number))
        job.notes, job.dispatch_status = "Piano on the 3rd floor", "ASSIGNED"
        found = (job.id, job.external_id, job.customer_name, job.arrival_window)
        db.session.commit()
        return found


def _change_window_in_smartmoving_and_sync(app, external_id):
    """Move the job's arrival window in the sandbox (as SmartMoving's users would), then run a sync."""
    from dashboard.db import db
    from dashboard.models import Company
    from dashboard.sandbox.world import ARRIVAL_WINDOWS
    from dashboard.sync.clients import SANDBOX_EXTENSION
    from dashboard.sync.service import run_sync

    with app.app_context():
        company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
        world = app.extensions[SANDBOX_EXTENSION](company.timezone).world
        with world._lock:
            job = world.jobs[external_id]
            job.window = (job.window + 3) % len(ARRIVAL_WINDOWS)
            world._touch()
        app.config.update(OPPORTUNITY_REFRESH_MINUTES=0, SMARTMOVING_MONTHLY_QUOTA=0)   # re-read every detail
        run = run_sync(company.id, trigger="test")
        assert run.status in ("SUCCESS", "PARTIAL"), run.error


def _demo_dispatched_the_jobs_the_sandbox_will_edit(app):
    """True when the demo start-up gave each of the sandbox's demo-edit jobs a truck (so their edits are raised)."""
    from dashboard.db import db
    from dashboard.models import Company
    from dashboard.models import TruckJourney
    from dashboard.sync.clients import SANDBOX_EXTENSION

    with app.app_context():
        company = db.session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
        external_ids = app.extensions[SANDBOX_EXTENSION](company.timezone).world.demo_change_jobs()
        trucks = db.session.execute(sa.select(TruckJourney.truck_id, TruckJourney.dispatch_status).where(
            TruckJourney.external_id.in_(external_ids))).all()
        db.session.commit()
    return len(external_ids) == len(trucks) > 0 and all(truck and status == "ASSIGNED" for truck, status in trucks)


def test_a_dispatcher_sees_a_change_appear_reads_it_and_acknowledges_it(live_server, browser):
    app, url = live_server["app"], live_server["url"]
    assert _demo_dispatched_the_jobs_the_sandbox_will_edit(app)
    job_id, external_id, customer, window = _planned_job_of_the_dispatcher(app)
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        sign_in(page, url, "dispatcher@demo.test")
        page.goto(url + "/board/tomorrow")
        row = page.locator(f"#board-live tr[data-job-id='{job_id}']")
        expect(row).to_contain_text(customer)
        expect(row.locator(".f-changed")).to_have_count(0)

        _change_window_in_smartmoving_and_sync(app, external_id)

        badge = row.locator("summary.f-changed")
        expect(badge).to_be_visible(timeout=(POLL_SECONDS * 2 + 3) * 1000)   # within one poll (and a margin)
        badge.focus()
        page.keyboard.press("Enter")                     # a keyboard opens it: no hover-only tooltip
        detail = row.locator(".chg-pop")
        expect(detail).to_be_visible()
        expect(detail.locator(".chg-before")).to_have_text(window)
        after = detail.locator(".chg-after").inner_text()
        assert after and after != window
        detail.get_by_role("button", name="Acknowledge").click()
        expect(row.locator(".f-changed")).to_have_count(0, timeout=(POLL_SECONDS * 2 + 3) * 1000)
        expect(row).to_contain_text(customer)            # the job stays; only the badge goes
    finally:
        context.close()
