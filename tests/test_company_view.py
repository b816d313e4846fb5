"""The company in view (issue 21 §4) beyond the boards: Send plan and the outbox, per-company webhook secrets,
"Sync now" for a disabled company, and "today" in the viewed company's zone. Both databases (the `app` fixture)."""
import json

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from dashboard.companies import service as companies
from dashboard.db import db
from dashboard.models import Company
from dashboard.models import SyncRun
from dashboard.models import WebhookEvent
from dashboard.plans.models import OutboxMessage
from dashboard.plans.models import PlanVersion
from dashboard.sync import service as sync_service
from dashboard.sync.lease import lease_holder
from dashboard.sync.lease import lease_name_for
from dashboard.timeutil import company_today
from dashboard.webhooks import senders
from dashboard.webhooks import worker
from tests.support import csrf_token_from
from tests.support import login_as
from tests.support.api import bearer
from tests.support.company_view import HARBOUR_TZ
from tests.support.company_view import HOME_TZ
from tests.support.company_view import build_harbour
from tests.support.company_view import switch_to
from tests.support.plans import DAY

KEY = Fernet.generate_key().decode()
HOOK_URL = "/api/smartmoving/webhooks"
EVENT = json.dumps({"event-type": "opportunity-changed", "opportunity-id": "opp-7"})


def _versions(app):
    with app.app_context():
        rows = [(v.company_id, v.version) for v in db.session.scalars(sa.select(PlanVersion).order_by(PlanVersion.id))]
        db.session.commit()
    return rows


# ---------------------------------------------------------------- Send plan and the outbox


def test_a_super_admin_switched_to_harbour_publishes_harbour_s_plan(app, client, make_user, default_company):
    harbour = build_harbour(app, DAY)
    login_as(client, make_user("SUPER_ADMIN"))
    switch_to(client, harbour["company"])
    panel = client.get(f"/plans/{DAY.isoformat()}/publish").get_data(as_text=True)
    assert "Crews of Harbour Movers" in panel and "<b>1</b> person" in panel
    sent = client.post(f"/plans/{DAY.isoformat()}/publish", data={"csrf_token": csrf_token_from(panel)})
    assert sent.status_code == 302
    assert _versions(app) == [(harbour["company"], 1)]
    with app.app_context():
        assert [m.company_id for m in db.session.scalars(sa.select(OutboxMessage))] == [harbour["company"]]

    # The outbox follows the pick: Harbour's message while switched; every company's without a pick.
    assert "Hana Harbour" in client.get("/outbox").get_data(as_text=True)
    switch_to(client, default_company.id)
    assert "Hana Harbour" not in client.get("/outbox").get_data(as_text=True)
    switch_to(client, None)
    assert "Hana Harbour" in client.get("/outbox").get_data(as_text=True)


def test_the_panel_carries_company_from_the_query_and_the_api_publishes_the_picked_company(app, client, make_user):
    harbour = build_harbour(app, DAY)
    boss = make_user("SUPER_ADMIN")
    login_as(client, boss)
    panel = client.get(f"/plans/{DAY.isoformat()}/publish?company={harbour['company']}",
                       headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f"/plans/{DAY.isoformat()}/publish?company={harbour['company']}" in panel   # the send forms keep it
    assert f'name="company" value="{harbour["company"]}"' in panel                      # and the scope form
    headers = bearer(app, boss)
    answer = client.post(f"/api/smartmoving/plans/{DAY.isoformat()}/publish?company={harbour['company']}",
                         headers=headers)
    assert answer.status_code == 202 and answer.get_json()["messages"] == 1
    assert _versions(app) == [(harbour["company"], 1)]
    # Without a pick the super admin's own company is published: nobody works there that day.
    own = client.post(f"/api/smartmoving/plans/{DAY.isoformat()}/publish", headers=headers)
    assert own.status_code == 202 and own.get_json()["messages"] == 0 and _versions(app) == [(harbour["company"], 1)]


def test_an_admin_never_publishes_or_reads_another_company_s_plan(app, client, make_user):
    harbour = build_harbour(app, DAY)
    admin = make_user("ADMIN")
    headers = bearer(app, admin)
    url = f"/api/smartmoving/plans/{DAY.isoformat()}/publish?company={harbour['company']}"
    assert client.post(url, headers=headers).status_code == 404
    login_as(client, admin)
    switch_to(client, harbour["company"])   # a session key only the super admin's switcher honours
    panel = client.get(f"/plans/{DAY.isoformat()}/publish").get_data(as_text=True)
    assert "Hana" not in panel and "<b>0</b> people" in panel
    assert client.get(f"/plans/{DAY.isoformat()}/publish?company={harbour['company']}").status_code == 404
    assert client.get(f"/outbox?company={harbour['company']}").status_code == 404
    client.post(f"/plans/{DAY.isoformat()}/publish", data={"csrf_token": csrf_token_from(panel)})
    assert _versions(app) == []


# ---------------------------------------------------------------- webhooks per company


def _hook(client, secret):
    return client.post(HOOK_URL, data=EVENT, headers={"X-Webhook-Secret": secret} if secret is not None else {})


def _set_hook_secret(app, company_id, secret):
    with app.app_context(), db.write_transaction():
        companies.set_smartmoving_key(db.session.get(Company, company_id), "sm-key-0123456789abcdef",
                                      app.config["CREDENTIALS_KEY"], webhook_secret=secret)


def _stored(app):
    with app.app_context():
        events = db.session.scalars(sa.select(WebhookEvent).order_by(WebhookEvent.id))
        rows = [(event.company_id, event.deliveries) for event in events]
        db.session.commit()
    return rows


def test_a_delivery_with_a_company_s_own_secret_is_stored_under_that_company(app, client, default_company,
                                                                              monkeypatch):
    kicked = []
    monkeypatch.setattr(worker, "kick", lambda app_, company_id: kicked.append(company_id))
    app.config.update(CREDENTIALS_KEY=KEY, SMARTMOVING_WEBHOOK_SECRET=None)
    assert _hook(client, "anything").status_code == 404          # no secret anywhere
    harbour = build_harbour(app, DAY)["company"]
    _set_hook_secret(app, harbour, "harbour-hook-secret-1")
    assert _hook(client, "harbour-hook-secret-1").status_code == 202
    assert _hook(client, "harbour-hook-secret-2").status_code == 401
    assert _hook(client, None).status_code == 401
    app.config["SMARTMOVING_WEBHOOK_SECRET"] = "global-hook-secret"
    assert _hook(client, "global-hook-secret").status_code == 202
    assert _stored(app) == [(harbour, 1), (default_company.id, 1)] and kicked == [harbour, default_company.id]

    # A disabled company's secret opens nothing; a secret CREDENTIALS_KEY cannot open is refused, not a 500.
    with app.app_context(), db.write_transaction():
        companies.set_active(db.session.get(Company, harbour), False)
    assert _hook(client, "harbour-hook-secret-1").status_code == 401
    with app.app_context(), db.write_transaction():
        companies.set_active(db.session.get(Company, harbour), True)
    app.config["CREDENTIALS_KEY"] = Fernet.generate_key().decode()
    assert _hook(client, "harbour-hook-secret-1").status_code == 401
    assert _hook(client, "global-hook-secret").status_code == 202   # the global one keeps working
    assert len(_stored(app)) == 2


def test_secrets_are_all_compared_and_the_sync_page_says_which_company_has_webhooks(app, client, make_user,
                                                                                     monkeypatch):
    compared = []
    monkeypatch.setattr(senders.hmac, "compare_digest", lambda a, b: compared.append(b) or a == b)
    assert senders.company_for("two", [(1, "one"), (2, "two"), (3, "three")]) == 2
    assert compared == [b"one", b"two", b"three"]   # no early exit after the match
    assert senders.company_for("", [(1, "")]) is None

    app.config.update(CREDENTIALS_KEY=KEY, SMARTMOVING_WEBHOOK_SECRET=None)
    harbour = build_harbour(app, DAY)["company"]
    login_as(client, make_user("SUPER_ADMIN"))
    card = client.get(f"/sync/?company={harbour}").get_data(as_text=True)
    assert "have a super admin set this company's webhook secret" in card
    _set_hook_secret(app, harbour, "harbour-hook-secret-1")
    card = client.get(f"/sync/?company={harbour}").get_data(as_text=True)
    assert "have a super admin set" not in card and "SmartMoving's webhooks bring announced edits" in card


# ---------------------------------------------------------------- "Sync now" for a disabled company


def test_sync_now_refuses_a_disabled_company_with_a_clear_message(app, client, make_user, quick_syncs):
    harbour = build_harbour(app, DAY)["company"]
    with app.app_context(), db.write_transaction():
        companies.set_active(db.session.get(Company, harbour), False)
    boss = make_user("SUPER_ADMIN")
    answer = client.post(f"/api/smartmoving/jobs/sync?company={harbour}", headers=bearer(app, boss))
    assert answer.status_code == 409 and "Harbour Movers is disabled" in answer.get_json()["message"]

    login_as(client, boss)
    switch_to(client, harbour)
    token = csrf_token_from(client.get("/sync/").get_data(as_text=True))
    toast = client.post("/sync/run", data={"csrf_token": token}, headers={"HX-Request": "true"})
    assert toast.status_code == 409 and "Harbour Movers is disabled" in toast.get_data(as_text=True)
    page = client.post("/sync/run", data={"csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert "Harbour Movers is disabled: it is not synced until a super admin enables it" in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(SyncRun.id))) == 0
    # Enabled again, it syncs.
    with app.app_context(), db.write_transaction():
        companies.set_active(db.session.get(Company, harbour), True)
    assert client.post(f"/api/smartmoving/jobs/sync?company={harbour}", headers=bearer(app, boss)).status_code == 202


def test_no_background_sync_starts_for_a_disabled_company(app):
    harbour = build_harbour(app, DAY)["company"]
    with app.app_context():
        with db.write_transaction():
            companies.set_active(db.session.get(Company, harbour), False)
        with pytest.raises(sync_service.CompanyDisabled, match="Harbour Movers is disabled"):
            sync_service.start_sync_in_background(app, harbour)
        assert db.session.scalar(sa.select(sa.func.count(SyncRun.id))) == 0
        assert lease_holder(lease_name_for(harbour)) is None   # refused before the lease was taken


# ---------------------------------------------------------------- today in the viewed company's zone


def test_today_is_the_viewed_company_s_today(app, client, make_user, make_company):
    home = make_company("Home Office", timezone=HOME_TZ)
    with app.app_context():
        harbour_today, home_today = company_today(HARBOUR_TZ), company_today(HOME_TZ)
    assert harbour_today != home_today   # 25 hours apart: the test can tell the two apart
    harbour = build_harbour(app, harbour_today)
    boss = make_user("SUPER_ADMIN", company=home)

    answer = client.get(f"/api/smartmoving/jobs/today?company={harbour['company']}", headers=bearer(app, boss))
    assert answer.get_json()["date"] == harbour_today.isoformat() and answer.get_json()["count"] == 1
    assert client.get("/api/smartmoving/jobs/today", headers=bearer(app, boss)).get_json()["date"] == \
        home_today.isoformat()

    login_as(client, boss)
    switch_to(client, harbour["company"])
    assert "HARBOUR-1" in client.get("/").get_data(as_text=True)
    readiness = client.get(f"/readiness/panel?date={harbour_today.isoformat()}").get_data(as_text=True)
    assert "Today" in readiness
    reports = client.get("/reports/").get_data(as_text=True)
    assert harbour_today.isoformat() in reports
    switch_to(client, None)
    assert "HARBOUR-1" not in client.get("/").get_data(as_text=True)   # home's today: not Harbour's day
