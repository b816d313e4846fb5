"""The audit page: who changed what and when, within the reader's scope, filterable and exportable."""
import csv
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.audit.trail import record
from dashboard.audit.trail import utc_bounds
from dashboard.db import db
from dashboard.models import AuditEvent
from dashboard.models import Company
from tests.support import PASSWORD
from tests.support import csrf_token_from
from tests.support import login_as
from tests.support.ui import build_world


@pytest.fixture
def world(app, default_company, make_company, make_location, make_user, cheap_passwords):
    w = build_world(app, default_company, make_company, make_location, make_user)
    admin = app.test_client()
    login_as(admin, w.users["ADMIN"])
    csrf = csrf_token_from(admin.get("/admin/users").get_data(as_text=True))
    # Real changes through the pages, so the trail is what the app writes.
    admin.post(f"/jobs/{w.job_a}/edit", data={"csrf_token": csrf, "truck_id": "0", "crew_other": "Hal",
                                              "dispatch_status": "ASSIGNED", "notes": "=cmd|' /C calc'!A0"})
    admin.post("/admin/trucks", data={"csrf_token": csrf, "name": "Big Blue", "location_id": "0"})
    admin.post("/auth/tokens", data={"csrf_token": csrf, "name": "nightly", "password": PASSWORD})
    with app.app_context():
        record(w.other_company.id, None, "user.update", "rival@example.test", role=["DISPATCHER", "MANAGER"])
        old = record(w.company.id, w.users["DISPATCHER"].id, "auth.login", w.users["DISPATCHER"].email, ip="10.1.1.1")
        # Noon, company time, three days back: the page filters by the company's day, not UTC's.
        start, _ = utc_bounds(w.today - timedelta(days=3), db.session.get(Company, w.company.id).timezone)
        old.at = start + timedelta(hours=12)
        db.session.commit()
    w.csrf = csrf
    return w


def _page(client, **query):
    answer = client.get("/audit", query_string=query)
    assert answer.status_code == 200, answer.status_code
    return answer.get_data(as_text=True)


def test_admin_sees_their_company_with_old_and_new_values(app, client, world):
    login_as(client, world.users["ADMIN"])
    html = _page(client)
    assert "job.dispatch" in html and f"job:{world.job_a}" in html
    assert "dispatch status: UNASSIGNED → ASSIGNED" in html and "crew: — → Hal" in html
    assert "truck.create" in html and "Big Blue" in html
    assert "token.create" in html and "nightly" in html
    assert world.users["ADMIN"].email in html
    assert "rival@example.test" not in html  # another company's trail


def test_super_admin_sees_every_company_and_auditor_their_own(app, client, world):
    login_as(client, world.users["SUPER_ADMIN"])
    assert "rival@example.test" in _page(client)
    login_as(client, world.users["AUDITOR"])
    html = _page(client)
    assert "job.dispatch" in html and "rival@example.test" not in html


@pytest.mark.parametrize("role", ["DISPATCHER", "MANAGER", "DRIVER", "MOVER"])
def test_other_roles_are_refused(client, world, role):
    login_as(client, world.users[role])
    assert client.get("/audit").status_code == 403
    assert client.get("/audit/export.csv").status_code == 403


def test_filters_by_day_user_and_job(app, client, world):
    login_as(client, world.users["ADMIN"])
    today = world.today.isoformat()
    three_days_ago = (world.today - timedelta(days=3)).isoformat()
    assert "10.1.1.1" not in _page(client, day=today)
    by_day = _page(client, day=three_days_ago)
    assert "auth.login" in by_day and "job.dispatch" not in by_day
    by_user = _page(client, user=world.users["DISPATCHER"].id)
    assert "auth.login" in by_user and "job.dispatch" not in by_user
    by_job = _page(client, job=str(world.job_a))
    assert "job.dispatch" in by_job and "truck.create" not in by_job
    assert "job.dispatch" in _page(client, job="A-100")  # its job number
    assert "Nothing recorded" in _page(client, job="C-300")  # another company's job is not in scope
    assert "Nothing recorded" not in _page(client, user="999999")  # an unknown user filters nothing
    assert client.get("/audit?day=9999-12-31").status_code == 400
    assert client.get("/audit/export.csv?day=31/12/2025").status_code == 400


def test_csv_export_matches_the_filters_and_neutralises_formulas(app, client, world):
    login_as(client, world.users["ADMIN"])
    answer = client.get("/audit/export.csv", query_string={"job": str(world.job_a)})
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert rows[0] == ["When", "Company", "Who", "Action", "Target", "Changes"]
    assert [row[3] for row in rows[1:]] == ["job.dispatch"]
    assert "notes: — → =cmd" in rows[1][5]  # inside the cell, not at its start: no formula
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)


def test_manual_syncs_and_truck_changes_are_recorded(app, client, world, fake_sync):
    login_as(client, world.users["ADMIN"])
    csrf = csrf_token_from(client.get("/sync/").get_data(as_text=True))
    assert client.post("/sync/run", data={"csrf_token": csrf}).status_code == 302
    with app.app_context():
        truck_id = db.session.scalar(sa.select(AuditEvent.target).where(AuditEvent.action == "truck.create"))
    client.post(f"/admin/trucks/{truck_id.split(':')[1]}/active", data={"csrf_token": csrf})
    html = _page(client)
    assert "sync.start" in html and "via: page" in html
    assert "truck.disable" in html
