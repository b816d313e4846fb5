"""User and truck administration: company boundaries, role limits, disabling, audit."""
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import AuditEvent
from dashboard.models import Truck
from dashboard.models import User
from tests.support import csrf_token_from
from tests.support import login_as
from tests.support.crew_links import crew_member_named


def token_of(client, path="/admin/users"):
    return csrf_token_from(client.get(path).get_data(as_text=True))


def get_user(app, email):
    with app.app_context():
        return db.session.scalar(sa.select(User).where(User.email == email))


def test_admin_lists_only_own_company(client, make_user, make_company):
    other = make_company("Rival Movers")
    make_user("DISPATCHER", email="ours@example.test")
    make_user("DISPATCHER", email="theirs@example.test", company=other)
    login_as(client, make_user("ADMIN"))
    html = client.get("/admin/users").get_data(as_text=True)
    assert "ours@example.test" in html and "theirs@example.test" not in html


def test_super_admin_sees_every_company(client, make_user, make_company):
    other = make_company("Rival Movers")
    make_user("DISPATCHER", email="theirs@example.test", company=other)
    login_as(client, make_user("SUPER_ADMIN"))
    html = client.get("/admin/users").get_data(as_text=True)
    assert "theirs@example.test" in html and "Rival Movers" in html


def test_create_user_with_locations(app, client, make_user, make_location):
    north = make_location("North")
    with app.app_context():
        newbie = crew_member_named(1, "Newbie")
        db.session.commit()
        newbie_id = newbie.id
    login_as(client, make_user("ADMIN"))
    token = token_of(client, "/admin/users/new")
    response = client.post("/admin/users/new", data={
        "csrf_token": token, "email": "New.Person@example.test", "full_name": "New Person",
        "crew_member_id": str(newbie_id),
        "role": "DISPATCHER", "locations": [str(north.id)], "password": "long-enough-pass", "company_id": "1"})
    assert response.status_code == 302
    user = get_user(app, "new.person@example.test")
    assert user.role == "DISPATCHER" and user.crew_member_id == newbie_id
    with app.app_context():
        assert [loc.name for loc in db.session.get(User, user.id).locations] == ["North"]
        created = db.session.scalars(sa.select(AuditEvent.target).where(AuditEvent.action == "user.create"))
        assert user.email in set(created)
    fresh = app.test_client()
    page = fresh.get("/auth/login")
    signed = fresh.post("/auth/login", data={"csrf_token": csrf_token_from(page.get_data(as_text=True)),
                                             "email": "new.person@example.test", "password": "long-enough-pass"})
    assert signed.status_code == 302


def test_create_refuses_bad_input(app, client, make_user):
    login_as(client, make_user("ADMIN", email="boss@example.test"))
    token = token_of(client, "/admin/users/new")
    base = {"csrf_token": token, "email": "x@example.test", "role": "DISPATCHER", "password": "long-enough-pass",
            "company_id": "1"}
    assert client.post("/admin/users/new", data=dict(base, role="SUPER_ADMIN")).status_code == 422
    assert client.post("/admin/users/new", data=dict(base, password="short")).status_code == 422
    duplicate = client.post("/admin/users/new", data=dict(base, email="boss@example.test"))
    assert duplicate.status_code == 422 and "cannot be used for a new user" in duplicate.get_data(as_text=True)
    assert get_user(app, "x@example.test") is None


def _creation_error(client, email):
    from dashboard.auth.users import EMAIL_IN_USE
    token = token_of(client, "/admin/users/new")
    answer = client.post("/admin/users/new", data={"csrf_token": token, "email": email, "role": "DISPATCHER",
                                                   "password": "long-enough-pass", "company_id": "1"})
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    return html[html.index("<ul class=\"errors\""):].split("</ul>")[0], EMAIL_IN_USE


def test_the_duplicate_message_does_not_tell_which_company_holds_an_email(app, client, make_user, make_company):
    rival = make_company("Rival Movers")
    make_user("DISPATCHER", email="their.dispatcher@rival.test", company=rival)
    make_user("DISPATCHER", email="our.dispatcher@example.test")
    login_as(client, make_user("ADMIN"))
    theirs, expected = _creation_error(client, "their.dispatcher@rival.test")
    ours, _ = _creation_error(client, "our.dispatcher@example.test")
    assert theirs.replace("their.dispatcher@rival.test", "X") == ours.replace("our.dispatcher@example.test", "X")
    assert expected in theirs and "Rival" not in theirs and "exists" not in theirs and "in use" not in theirs


def test_admin_cannot_place_users_in_other_companies(app, client, make_user, make_company, make_location):
    other = make_company("Rival Movers")
    their_location = make_location("Their Depot", company=other)
    login_as(client, make_user("ADMIN"))
    token = token_of(client, "/admin/users/new")
    for data in ({"company_id": str(other.id)}, {"locations": [str(their_location.id)]}):
        response = client.post("/admin/users/new", data={
            "csrf_token": token, "email": "sneak@example.test", "role": "DISPATCHER", "password": "long-enough-pass",
            "company_id": "1", **data})
        assert response.status_code == 422
    assert get_user(app, "sneak@example.test") is None


def test_admin_cannot_touch_other_companies_or_super_admins(client, make_user, make_company):
    other = make_company("Rival Movers")
    theirs = make_user("DISPATCHER", company=other)
    boss = make_user("SUPER_ADMIN")
    login_as(client, make_user("ADMIN"))
    token = token_of(client)
    assert client.get(f"/admin/users/{theirs.id}/edit").status_code == 404
    assert client.post(f"/admin/users/{theirs.id}/active", data={"csrf_token": token}).status_code == 404
    assert client.get(f"/admin/users/{boss.id}/edit").status_code == 403
    assert client.post(f"/admin/users/{boss.id}/active", data={"csrf_token": token}).status_code == 403


def test_role_change_signs_the_user_out(app, client, make_user, make_location):
    target = make_user("DISPATCHER", email="promote@example.test")
    victim_client = app.test_client()
    login_as(victim_client, target)
    assert victim_client.get("/").status_code == 200
    login_as(client, make_user("ADMIN"))
    token = token_of(client, f"/admin/users/{target.id}/edit")
    response = client.post(f"/admin/users/{target.id}/edit", data={
        "csrf_token": token, "role": "MANAGER", "full_name": "Promoted", "crew_name": "", "company_id": "1"})
    assert response.status_code == 302
    saved = get_user(app, "promote@example.test")
    assert saved.role == "MANAGER" and saved.full_name == "Promoted" and saved.session_token != target.session_token
    assert victim_client.get("/").status_code == 302


def test_admin_cannot_change_own_role_or_disable_self(app, client, make_user):
    me = make_user("ADMIN", email="me@example.test")
    login_as(client, me)
    token = token_of(client, f"/admin/users/{me.id}/edit")
    response = client.post(f"/admin/users/{me.id}/edit", data={"csrf_token": token, "role": "DISPATCHER",
                                                                "company_id": "1"})
    assert response.status_code == 422 and "You cannot change your own role." in response.get_data(as_text=True)
    client.post(f"/admin/users/{me.id}/active", data={"csrf_token": token})
    assert get_user(app, "me@example.test").is_active_user


def test_disable_and_enable(app, client, make_user):
    target = make_user("MOVER", email="off@example.test", crew_name="Off")
    their_client = app.test_client()
    login_as(their_client, target)
    login_as(client, make_user("ADMIN"))
    token = token_of(client)
    assert client.post(f"/admin/users/{target.id}/active", data={"csrf_token": token}).status_code == 302
    disabled = get_user(app, "off@example.test")
    assert not disabled.is_active_user and disabled.session_token != target.session_token
    assert their_client.get("/my-jobs").status_code == 302  # signed out at once
    client.post(f"/admin/users/{target.id}/active", data={"csrf_token": token})
    assert get_user(app, "off@example.test").is_active_user
    with app.app_context():
        actions = set(db.session.scalars(sa.select(AuditEvent.action)))
    assert {"user.disable", "user.enable"} <= actions


def test_trucks_add_and_take_out_of_service(app, client, make_user, make_location, make_company):
    depot = make_location("Depot")
    other = make_company("Rival Movers")
    login_as(client, make_user("ADMIN"))
    token = token_of(client, "/admin/trucks")
    assert client.post("/admin/trucks", data={"csrf_token": token, "name": " Truck  21 ",
                                              "location_id": str(depot.id)}).status_code == 302
    duplicate = client.post("/admin/trucks", data={"csrf_token": token, "name": "truck 21", "location_id": "0"})
    assert duplicate.status_code == 422 and "already a truck" in duplicate.get_data(as_text=True)
    with app.app_context():
        truck = db.session.scalar(sa.select(Truck))
        assert truck.name == "Truck 21" and truck.location_id == depot.id and truck.is_active
        foreign = Truck(company_id=other.id, name="Theirs")
        db.session.add(foreign)
        db.session.commit()
        truck_id, foreign_id = truck.id, foreign.id
    assert client.post(f"/admin/trucks/{truck_id}/active", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert not db.session.get(Truck, truck_id).is_active
    assert client.post(f"/admin/trucks/{foreign_id}/active", data={"csrf_token": token}).status_code == 404
    assert "Their" not in client.get("/admin/trucks").get_data(as_text=True)


def test_non_admins_get_403(client, make_user):
    login_as(client, make_user("MANAGER"))
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/trucks").status_code == 403
    assert ">Users<" not in client.get("/").get_data(as_text=True)
