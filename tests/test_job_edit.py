"""Dispatch edits: truck, crew, status and notes; validation; double-booking warnings; audit."""
import re

import pytest
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import AuditEvent
from dashboard.models import TruckJourney
from tests.support import csrf_token_from
from tests.support import login_as
from tests.support.crew_pick import picker_value
from tests.support.ui import add_crew_member
from tests.support.ui import add_job
from tests.support.ui import add_truck
from tests.support.ui import build_world


@pytest.fixture
def world(app, default_company, make_company, make_location, make_user):
    w = build_world(app, default_company, make_company, make_location, make_user)
    w.truck = add_truck(app, default_company, "Truck 12", location=w.loc_a)
    w.retired = add_truck(app, default_company, "Old Rusty", active=False)
    w.foreign_truck = add_truck(app, w.other_company, "Their Truck")
    add_crew_member(app, default_company, "Ann Lifter")
    add_crew_member(app, default_company, "Bob Carrier")
    return w


def version_from(html):
    return re.search(r'name="version" type="hidden" value="([^"]*)"', html).group(1)


def edit(client, job_id, **fields):
    page = client.get(f"/jobs/{job_id}/edit").get_data(as_text=True)
    data = {"truck_id": "0", "dispatch_status": "UNASSIGNED", "notes": "", "crew_other": "",
            "csrf_token": csrf_token_from(page), "version": version_from(page)}
    data.update(fields)
    return client.post(f"/jobs/{job_id}/edit", data=data)


def job(app, job_id):
    with app.app_context():
        return db.session.get(TruckJourney, job_id)


def test_dispatcher_assigns_truck_crew_status_and_notes(app, client, world):
    login_as(client, world.users["DISPATCHER"])
    form = client.get(f"/jobs/{world.job_a}/edit").get_data(as_text=True)
    assert "Truck 12" in form and "Ann Lifter" in form and "Old Rusty" not in form and "Their Truck" not in form
    response = edit(client, world.job_a, truck_id=str(world.truck), crew=["Ann Lifter", "Bob Carrier"],
                    crew_other="Hal Helper, ann lifter", dispatch_status="ASSIGNED", notes="Piano on 3rd floor")
    assert response.status_code == 302 and response.headers["Location"] == f"/jobs/{world.job_a}"
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved A-100." in detail and "History" in detail and "Piano on 3rd floor" in detail
    saved = job(app, world.job_a)
    assert saved.truck_id == world.truck
    assert saved.crew == ["Ann Lifter", "Bob Carrier", "Hal Helper"]
    assert saved.dispatch_status == "ASSIGNED" and saved.notes == "Piano on 3rd floor"
    assert saved.dispatch_updated_by == world.users["DISPATCHER"].id
    # SmartMoving's own columns are untouched.
    assert saved.smartmoving_crew == ["Dan Driver", "Mo Mover"] and saved.status == "BOOKED"
    board = client.get("/").get_data(as_text=True)
    assert "Truck 12" in board and "Hal Helper" in board and "Piano on 3rd floor" in board
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "job.dispatch"))
        assert event.target == f"job:{world.job_a}" and event.user_id == world.users["DISPATCHER"].id
        assert set(event.detail) == {"truck", "crew", "dispatch_status", "notes"}
        assert event.detail["truck"] == [None, "Truck 12"]


def test_saving_without_changes_writes_no_audit(app, client, world):
    login_as(client, world.users["MANAGER"])
    assert edit(client, world.job_a).status_code == 302
    with app.app_context():
        dispatches = sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action == "job.dispatch")
        assert db.session.scalar(dispatches) == 0


@pytest.mark.parametrize("fields,message", [
    ({"truck_id": "99999"}, "Not a valid choice"),
    ({"dispatch_status": "TELEPORTED"}, "Not a valid choice"),
    ({"notes": "x" * 2001}, "Keep notes under 2000 characters."),
    ({"crew": ["Not In List"]}, "not a valid choice"),
    ({"crew_other": "y" * 81}, "longer than 80 characters"),
])
def test_invalid_input_is_refused_with_a_clear_message(app, client, world, fields, message):
    login_as(client, world.users["DISPATCHER"])
    response = edit(client, world.job_a, **fields)
    assert response.status_code == 422
    assert message.lower() in response.get_data(as_text=True).lower()
    assert job(app, world.job_a).dispatch_updated_at is None


def test_foreign_and_retired_trucks_are_refused(app, client, world):
    login_as(client, world.users["ADMIN"])
    assert edit(client, world.job_a, truck_id=str(world.foreign_truck)).status_code == 422
    assert edit(client, world.job_a, truck_id=str(world.retired)).status_code == 422
    assert job(app, world.job_a).truck_id is None


def test_double_booking_warns_but_saves(app, client, world):
    other = add_job(app, world.loc_a, customer_name="Other Olga", job_number="O-1", truck_id=world.truck,
                    crew=["Ann Lifter"])
    login_as(client, world.users["DISPATCHER"])
    response = edit(client, world.job_a, truck_id=str(world.truck), crew=["Ann Lifter"], dispatch_status="ASSIGNED")
    assert response.status_code == 302
    assert job(app, world.job_a).truck_id == world.truck  # saved anyway
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    # Each conflict is listed once on the job page (no flash repeating the list after a save).
    assert html.count("Truck 12 is also on job O-1 (08:00–12:00)") == 1
    assert html.count("Crew member Ann Lifter is also on job O-1 (08:00–12:00)") == 1
    assert "Double booking" in client.get(f"/jobs/{other}/edit").get_data(as_text=True)


def test_conflicts_in_locations_out_of_scope_stay_anonymous(app, client, world):
    add_job(app, world.loc_b, customer_name="Secret Sam", job_number="SECRET-1", truck_id=world.truck)
    login_as(client, world.users["DISPATCHER"])  # sees Alpha only
    html = client.get(client_edit_location(client, world)).get_data(as_text=True)
    assert "a job in another location" in html and "Secret Sam" not in html and "SECRET-1" not in html


def client_edit_location(client, world):
    response = edit(client, world.job_a, truck_id=str(world.truck))
    assert response.status_code == 302
    return response.headers["Location"]


def test_edit_needs_csrf(app, client, world):
    login_as(client, world.users["DISPATCHER"])
    response = client.post(f"/jobs/{world.job_a}/edit", data={"truck_id": str(world.truck),
                                                               "dispatch_status": "ASSIGNED"})
    assert response.status_code == 400
    assert job(app, world.job_a).truck_id is None


def test_header_token_works_for_htmx_style_posts(app, client, world):
    login_as(client, world.users["DISPATCHER"])
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    version = version_from(client.get(f"/jobs/{world.job_a}/edit").get_data(as_text=True))
    response = client.post(f"/jobs/{world.job_a}/edit", headers={"X-CSRFToken": token},
                           data={"truck_id": str(world.truck), "dispatch_status": "EN_ROUTE", "version": version})
    assert response.status_code == 302
    assert job(app, world.job_a).dispatch_status == "EN_ROUTE"


@pytest.mark.parametrize("role", ["AUDITOR", "DRIVER", "MOVER"])
def test_roles_without_edit_cannot_post(app, client, world, role):
    login_as(client, world.users[role])
    token = csrf_token_from(client.get("/auth/password").get_data(as_text=True))
    response = client.post(f"/jobs/{world.job_a}/edit", data={"csrf_token": token, "truck_id": str(world.truck),
                                                               "dispatch_status": "ASSIGNED"})
    assert response.status_code == 403
    assert job(app, world.job_a).truck_id is None
    assert "Assign / edit" not in client.get(f"/jobs/{world.job_a}").get_data(as_text=True)


def test_out_of_scope_edit_is_404(app, client, world):
    login_as(client, world.users["DISPATCHER"])
    assert edit_status(client, world.job_b) == 404
    login_as(client, world.users["ADMIN"])
    assert edit_status(client, world.job_c) == 404


def edit_status(client, job_id):
    token = csrf_token_from(client.get("/auth/password").get_data(as_text=True))
    return client.post(f"/jobs/{job_id}/edit", data={"csrf_token": token, "dispatch_status": "ASSIGNED"}).status_code


def test_a_sync_upsert_keeps_dispatch_fields(app, client, world):
    """A sync rewriting the job changes SmartMoving's columns only; the dispatcher's work survives."""
    from dashboard.models import utcnow
    from dashboard.sync import upsert
    login_as(client, world.users["DISPATCHER"])
    edit(client, world.job_a, truck_id=str(world.truck), crew_other="Hal Helper", notes="Keep me",
         dispatch_status="ASSIGNED")
    assert not {"truck_id", "crew", "notes", "dispatch_status", "dispatch_updated_at",
                "dispatch_updated_by"} & set(upsert.JOURNEY_SYNC_COLUMNS)
    with app.app_context():
        external_id = db.session.get(TruckJourney, world.job_a).external_id
        with db.write_transaction():
            upsert.upsert_journeys(world.company.id, [{"external_id": external_id, "customer_name": "Alice Renamed",
                                                       "smartmoving_crew": ["Zed New"]}], utcnow())
    saved = job(app, world.job_a)
    assert saved.customer_name == "Alice Renamed" and saved.smartmoving_crew == ["Zed New"]
    assert saved.truck_id == world.truck and saved.crew == ["Hal Helper"] and saved.notes == "Keep me"
    assert saved.dispatch_status == "ASSIGNED"


def test_a_save_on_top_of_a_newer_save_is_caught_not_silently_lost(app, world):
    first, second = app.test_client(), app.test_client()
    login_as(first, world.users["DISPATCHER"])
    login_as(second, world.users["MANAGER"])
    stale_page = second.get(f"/jobs/{world.job_a}/edit").get_data(as_text=True)
    assert edit(first, world.job_a, notes="Use the back door", dispatch_status="ASSIGNED").status_code == 302
    stale = {"truck_id": "0", "dispatch_status": "UNASSIGNED", "notes": "Front door", "crew_other": "",
             "csrf_token": csrf_token_from(stale_page), "version": version_from(stale_page)}
    refused = second.post(f"/jobs/{world.job_a}/edit", data=stale)
    assert refused.status_code == 409
    html = refused.get_data(as_text=True)
    assert "saved changes to this job while you were editing" in html and "Front door" in html
    assert job(app, world.job_a).notes == "Use the back door"
    # Saving again from the refreshed form replaces the other save knowingly.
    again = dict(stale, version=version_from(html))
    assert second.post(f"/jobs/{world.job_a}/edit", data=again).status_code == 302
    assert job(app, world.job_a).notes == "Front door"


def test_dispatch_edits_commit_in_the_order_of_their_stamps(app, world):
    """Open boards notice an edit when the day's newest dispatch stamp moves, so an edit
    stamped earlier must never commit after one stamped later (on PostgreSQL as on SQLite)."""
    import threading
    import time

    from dashboard.jobs.dispatch import update_dispatch
    from dashboard.models import User

    committed = []
    stamped = threading.Event()
    commit_and_note = threading.Lock()   # the list's order is the commits' order

    def save(job_id, notes, linger=0.0):
        with app.app_context():
            db.begin_write()   # what every POST and PATCH does first
            admin = db.session.get(User, world.users["ADMIN"].id)
            job = db.session.get(TruckJourney, job_id)
            update_dispatch(job, admin, job.truck_id, job.crew, job.dispatch_status, notes)
            db.session.flush()
            if linger:
                stamped.set()
                time.sleep(linger)   # stamped and written, not yet committed
            with commit_and_note:
                db.session.commit()
                committed.append((notes, job.dispatch_updated_at))
            db.session.remove()

    slow = threading.Thread(target=save, args=(world.job_a, "first", 0.5))
    slow.start()
    assert stamped.wait(10)
    save(world.job_b, "second")   # a second dispatcher saves while the first is mid-commit
    slow.join(10)
    assert [notes for notes, _ in committed] == ["first", "second"]
    assert committed[0][1] < committed[1][1]


def test_dispatcher_adds_a_manual_job_at_an_assigned_location(app, client, world):
    login_as(client, world.users["DISPATCHER"])
    page = client.get(f"/jobs/new?date={world.today.isoformat()}").get_data(as_text=True)
    assert "Alpha Branch" in page and world.today.isoformat() in page
    assert "Beta Branch" not in page   # only the dispatcher's own locations are offered
    response = client.post("/jobs/new", data={
        "csrf_token": csrf_token_from(page), "location_id": str(world.loc_a.id),
        "scheduled_date": world.today.isoformat(), "customer_name": "Walk-in <b>Wanda</b>",
        "customer_email": "wanda@example.test", "origin_address": "1 Side St", "notes": "Warranty visit"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/edit")
    with app.app_context():
        created = db.session.scalar(sa.select(TruckJourney).where(TruckJourney.data_source == "MANUAL"))
        assert (created.customer_name, created.location_id, created.notes) == (
            "Walk-in <b>Wanda</b>", world.loc_a.id, "Warranty visit")
        assert created.external_id is None and created.scheduled_date == world.today
        assert db.session.scalar(sa.select(AuditEvent.action).where(AuditEvent.target == f"job:{created.id}")) \
            == "job.create"
    board = client.get("/").get_data(as_text=True)
    assert "Walk-in &lt;b&gt;Wanda&lt;/b&gt;" in board and "<b>Wanda</b>" not in board


def test_manual_job_at_a_location_out_of_scope_or_with_bad_input_is_refused(app, client, world):
    login_as(client, world.users["DISPATCHER"])
    token = csrf_token_from(client.get("/jobs/new").get_data(as_text=True))
    foreign = client.post("/jobs/new", data={"csrf_token": token, "location_id": str(world.loc_b.id),
                                             "scheduled_date": world.today.isoformat(), "customer_name": "Sneaky"})
    assert foreign.status_code == 422 and "Not a valid choice" in foreign.get_data(as_text=True)
    bad = client.post("/jobs/new", data={"csrf_token": token, "location_id": str(world.loc_a.id),
                                         "scheduled_date": "31/12/2026", "customer_name": "",
                                         "customer_email": "not-an-email"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "Who is the job for?" in html and "Not an email address." in html
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(TruckJourney.id)).where(
            TruckJourney.data_source == "MANUAL")) == 0


def test_smartmoving_crew_is_pre_ticked_so_adding_one_person_keeps_the_others(app, client, world):
    login_as(client, world.users["DISPATCHER"])
    page = client.get(f"/jobs/{world.job_a}/edit").get_data(as_text=True)
    dan, mo = (picker_value(app, world.company, name) for name in ("Dan Driver", "Mo Mover"))   # boxes post ids
    assert re.search(rf'checked[^>]*value="{dan}"|value="{dan}"[^>]*checked', page)
    assert re.search(rf'checked[^>]*value="{mo}"|value="{mo}"[^>]*checked', page)
    assert edit(client, world.job_a, crew=[dan, mo]).status_code == 302
    assert job(app, world.job_a).crew is None
    # Saved untouched, SmartMoving's crew stays SmartMoving's (nothing copied, no audit).
    assert edit(client, world.job_a, crew=["Dan Driver", "Mo Mover"]).status_code == 302
    assert job(app, world.job_a).crew is None
    assert edit(client, world.job_a, crew=["Dan Driver", "Mo Mover", "Ann Lifter"]).status_code == 302
    assert job(app, world.job_a).crew == ["Dan Driver", "Mo Mover", "Ann Lifter"]


def open_panel(client, job_id):
    """The assign panel's fields as drawn (the conflicts it shows travel as shown_conflicts)."""
    html = client.get(f"/jobs/{job_id}/assign", headers={"HX-Request": "true"}).get_data(as_text=True)
    return {"csrf_token": csrf_token_from(html), "version": version_from(html), "dispatch_status": "UNASSIGNED",
            "notes": "", "crew_other": "",
            "shown_conflicts": re.search(r'name="shown_conflicts" value="([^"]*)"', html).group(1)}


def test_a_stale_assign_panel_asks_before_saving_a_clash_it_did_not_show(app, client, world):
    login_as(client, world.users["DISPATCHER"])
    fields = open_panel(client, world.job_a)            # Truck 12 is free now
    assert fields["shown_conflicts"] == ""
    add_job(app, world.loc_a, customer_name="Other Olga", job_number="O-1", truck_id=world.truck)  # booked meanwhile
    fields.update(truck_id=str(world.truck))
    asked = client.post(f"/jobs/{world.job_a}/assign", data=fields, headers={"HX-Request": "true"})
    html = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "Saving now double-books" in html
    assert "Truck 12 is also on job O-1 (08:00–12:00)" in html and "Save anyway" in html and ">Back<" in html
    assert job(app, world.job_a).truck_id is None and job(app, world.job_a).dispatch_updated_at is None
    # Save anyway: the same form with allow_conflicts.
    saved = client.post(f"/jobs/{world.job_a}/assign", data=dict(fields, allow_conflicts="1"),
                        headers={"HX-Request": "true"})
    assert "Saved A-100." in saved.get_data(as_text=True) and job(app, world.job_a).truck_id == world.truck


def test_an_assign_panel_that_showed_the_clash_saves_without_asking(app, client, world):
    add_job(app, world.loc_a, customer_name="Other Olga", job_number="O-1", truck_id=world.truck)
    login_as(client, world.users["DISPATCHER"])
    fields = open_panel(client, world.job_a)
    preview = client.get(f"/jobs/{world.job_a}/assign/preview?truck_id={world.truck}").get_data(as_text=True)
    fields.update(truck_id=str(world.truck),
                  shown_conflicts=re.search(r'name="shown_conflicts" value="([^"]*)"', preview).group(1))
    assert fields["shown_conflicts"]
    saved = client.post(f"/jobs/{world.job_a}/assign", data=fields, headers={"HX-Request": "true"})
    assert "Saved A-100." in saved.get_data(as_text=True) and job(app, world.job_a).truck_id == world.truck
    # Without htmx (the full page): 409 and the question, nothing saved.
    fields = open_panel(client, world.job_a)
    other = add_job(app, world.loc_a, customer_name="Late Larry", job_number="O-2", crew=["Bob Carrier"])
    answer = client.post(f"/jobs/{world.job_a}/assign", data=dict(fields, truck_id=str(world.truck),
                                                                  crew=["Bob Carrier"]))
    assert answer.status_code == 409 and "Crew member Bob Carrier is also on job O-2" in answer.get_data(as_text=True)
    assert job(app, world.job_a).crew is None and other
