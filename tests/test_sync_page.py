"""The sync page: live progress panel, history, monthly quota, and the "Sync now" button."""
from datetime import timedelta
from types import SimpleNamespace

import pytest

from dashboard.db import db
from dashboard.models import ApiCall
from dashboard.models import RunStatus
from dashboard.models import SyncRun
from dashboard.models import utcnow
from tests.support import csrf_token_from
from tests.support import login_as


def add_run(app, company, **fields):
    with app.app_context():
        now = utcnow()
        values = dict(company_id=company.id, trigger="scheduled", window_start=now.date(), window_end=now.date(),
                      status=RunStatus.SUCCESS.value, started_at=now - timedelta(minutes=5),
                      finished_at=now - timedelta(minutes=4), pages_fetched=3, opportunities_to_enrich=10,
                      opportunities_enriched=10, created=7, updated=2, removed=1, api_calls=15)
        values.update(fields)
        run = SyncRun(**values)
        db.session.add(run)
        db.session.commit()
        return run.id


@pytest.fixture
def admin(make_user):
    return make_user("ADMIN")


def test_history_and_usage(app, client, admin, default_company):
    add_run(app, default_company, status=RunStatus.FAILED.value, error="SmartMoving answered 503", created=0,
            updated=0, removed=0)
    add_run(app, default_company)
    with app.app_context():
        db.session.add_all([ApiCall(company_id=default_company.id, path="/api/jobs") for _ in range(3)])
        db.session.commit()
    login_as(client, admin)
    html = client.get("/sync/").get_data(as_text=True)
    assert "SmartMoving answered 503" in html
    assert "10 / 10" in html and "7 new, 2 updated, 1 removed" in html
    assert "<b>3</b> of 20,000" in html
    # Two different projections, each saying what it projects from.
    assert "At the pace so far: about" in html and "if every planned sync runs" in html
    assert "Sync now" in html
    assert 'hx-trigger="every 2s"' not in html  # nothing running: no polling


def test_running_panel_polls_and_stops_when_done(app, client, admin, default_company):
    run_id = add_run(app, default_company, status=RunStatus.RUNNING.value, finished_at=None, phase="enriching",
                     pages_fetched=4, opportunities_to_enrich=40, opportunities_enriched=12, created=3, updated=0,
                     removed=0)
    from dashboard.sync.lease import acquire_lease
    from dashboard.sync.lease import lease_name_for
    with app.app_context():   # a run is only "running" while its runner holds the lease
        assert acquire_lease(lease_name_for(default_company.id), "the-runner", 60)
    login_as(client, admin)
    panel = client.get("/sync/status-panel", headers={"HX-Request": "true", "HX-Trigger": "sync-panel"})
    html = panel.get_data(as_text=True)
    assert panel.status_code == 200 and "<html" not in html
    assert 'hx-trigger="every 2s"' in html and 'id="sync-panel"' in html
    assert "Enriching" in html and "12 / 40" in html and 'value="12"' in html
    assert "Syncing…" in html and "disabled" in html
    with app.app_context():
        run = db.session.get(SyncRun, run_id)
        run.status, run.finished_at, run.opportunities_enriched = RunStatus.SUCCESS.value, utcnow(), 40
        db.session.commit()
    done = client.get("/sync/status-panel", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'hx-trigger="every 2s"' not in done and "40 / 40" in done


@pytest.mark.parametrize("role", ["DISPATCHER", "MANAGER", "AUDITOR"])
def test_board_roles_see_the_page_but_no_button(client, make_user, role):
    login_as(client, make_user(role))
    html = client.get("/sync/").get_data(as_text=True)
    assert "API calls this month" in html and "Sync now" not in html
    token = csrf_token_from(html)
    assert client.post("/sync/run", data={"csrf_token": token}).status_code == 403


@pytest.mark.parametrize("role", ["DRIVER", "MOVER"])
def test_crews_cannot_see_the_sync_page(client, make_user, role):
    login_as(client, make_user(role))
    assert client.get("/sync/").status_code == 403
    assert client.get("/sync/status-panel").status_code == 403
    assert ">Sync<" not in client.get("/my-jobs").get_data(as_text=True)  # not in the nav either


class StubService:
    """Records calls; raises like the real service when told a run is going."""

    def __init__(self, real, running=None):
        self.real, self.running, self.started = real, running, []
        self.SyncAlreadyRunning = real.SyncAlreadyRunning

    def start_sync_in_background(self, app, company_id, trigger="manual", user_id=None):
        if self.running is not None:
            raise self.real.SyncAlreadyRunning(company_id, self.running)
        self.started.append((company_id, trigger, user_id))
        return SimpleNamespace(id=99, status="RUNNING", started_at=utcnow())

    def __getattr__(self, name):
        return getattr(self.real, name)


@pytest.fixture
def stub(monkeypatch):
    import dashboard.sync.views as sync_views
    from dashboard.sync import service as real
    holder = StubService(real)
    monkeypatch.setattr(sync_views, "_service", lambda: holder)
    return holder


def test_sync_now_starts_a_background_run(client, admin, stub):
    login_as(client, admin)
    token = csrf_token_from(client.get("/sync/").get_data(as_text=True))
    assert client.post("/sync/run").status_code == 400  # CSRF required
    assert client.get("/sync/run").status_code == 405  # never a GET
    plain = client.post("/sync/run", data={"csrf_token": token})
    assert plain.status_code == 302 and plain.headers["Location"] == "/sync/"
    assert "Sync started." in client.get("/sync/").get_data(as_text=True)
    htmx = client.post("/sync/run", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert htmx.status_code == 200 and 'id="sync-panel"' in htmx.get_data(as_text=True)
    assert stub.started == [(admin.company_id, "manual", admin.id)] * 2


def test_sync_now_while_running_is_a_409(app, client, admin, stub, default_company):
    run_id = add_run(app, default_company, status=RunStatus.RUNNING.value, finished_at=None)
    with app.app_context():
        stub.running = db.session.get(SyncRun, run_id)
    login_as(client, admin)
    token = csrf_token_from(client.get("/sync/").get_data(as_text=True))
    htmx = client.post("/sync/run", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert htmx.status_code == 409
    assert "A sync is already running (started " in htmx.get_data(as_text=True)
    as_json = client.post("/sync/run", headers={"Accept": "application/json", "X-CSRFToken": token})
    assert as_json.status_code == 409 and as_json.get_json()["error"] == "conflict"
    plain = client.post("/sync/run", data={"csrf_token": token})
    assert plain.status_code == 302
    assert "A sync is already running" in client.get("/sync/").get_data(as_text=True)
    assert stub.started == []


def test_sync_now_with_the_real_service_refuses_a_second_runner(app, client, admin, default_company):
    """With the lease held (a run begun elsewhere), the real service answers 409 through the page."""
    from dashboard.sync import service
    with app.app_context():
        run, _owner = service.begin_run(default_company.id, trigger="cli")
    login_as(client, admin)
    token = csrf_token_from(client.get("/sync/").get_data(as_text=True))
    response = client.post("/sync/run", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 409
    assert "A sync is already running" in response.get_data(as_text=True)


def test_the_plan_shows_cadence_projection_freshness_and_warns_past_75_percent(app, client, admin, default_company):
    login_as(client, admin)
    html = client.get("/sync/").get_data(as_text=True)
    assert 'id="sync-plan"' in html and "SmartMoving Basic, 20,000 calls a month" in html
    assert "today every 30 min and tomorrow every 2 h in business hours; both every 4 h at night" in html
    assert "under 18,000, 90 %" in html and "Freshness" in html
    assert "alert-warning" not in html.split('id="sync-plan"')[1]
    app.config["SMARTMOVING_MONTHLY_QUOTA"] = 4
    with app.app_context():
        db.session.add_all([ApiCall(company_id=default_company.id, path="/api/customers") for _ in range(3)])
        db.session.commit()
    html = client.get("/sync/").get_data(as_text=True).split('id="sync-plan"')[1]
    assert "at 75% of the 4-call quota" in html and "stretched" in html
