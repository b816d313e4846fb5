"""The malformed inputs that once made 500s: each now a clear 400/404/422 in the route's format."""
import json

import pytest

from tests.support import csrf_token_from
from tests.support import login_as
from tests.support.api import bearer
from tests.support.chunked import CHUNKED
from tests.support.chunked import send_chunked_too
from tests.support.ui import build_world

HUGE = [2**31, 2**63, 2**64 + 7]


@pytest.fixture
def world(app, default_company, make_company, make_location, make_user, cheap_passwords):
    return build_world(app, default_company, make_company, make_location, make_user)


def _admin(app, client, world):
    login_as(client, world.users["ADMIN"])
    return csrf_token_from(client.get("/admin/users").get_data(as_text=True))


def test_nul_in_the_login_form_is_400_not_500(client):
    csrf = csrf_token_from(client.get("/auth/login").get_data(as_text=True))
    answer = client.post("/auth/login", data={"csrf_token": csrf, "email": "a\x00@example.test", "password": "x"})
    assert answer.status_code == 400
    assert "<html" in answer.get_data(as_text=True) and "Control characters" in answer.get_data(as_text=True)


@pytest.mark.parametrize("query", ["q=a%00b", "status=%00", "location=1%00", "date=2025-01-01%1b"])
def test_control_characters_in_query_strings_are_400(app, client, world, query):
    login_as(client, world.users["ADMIN"])
    assert client.get(f"/?{query}").status_code == 400
    fragment = client.get(f"/board?{query}", headers={"HX-Request": "true"})
    assert fragment.status_code == 400 and "<html" not in fragment.get_data(as_text=True)
    api = client.get(f"/api/smartmoving/jobs/today?{query}")
    assert api.status_code == 400 and api.get_json()["error"] == "bad_request"


def test_nul_in_forms_is_400(app, client, world):
    csrf = _admin(app, client, world)
    posts = {
        f"/jobs/{world.job_a}/edit": {"truck_id": "0", "dispatch_status": "ASSIGNED", "notes": "a\x00b"},
        "/jobs/new": {"location_id": str(world.loc_a.id), "scheduled_date": world.today.isoformat(),
                      "customer_name": "Nul\x00Person"},
        "/admin/trucks": {"name": "Truck\x00", "location_id": "0"},
        "/admin/users/new": {"email": "x\x00@example.test", "role": "DISPATCHER", "password": "long-enough-pw",
                             "company_id": str(world.company.id)},
    }
    for path, form in posts.items():
        assert client.post(path, data=dict(form, csrf_token=csrf)).status_code == 400, path
    # Line breaks and tabs stay allowed in text (notes are multi-line).
    ok = client.post(f"/jobs/{world.job_a}/edit", data={"csrf_token": csrf, "truck_id": "0",
                                                        "dispatch_status": "ASSIGNED", "notes": "line 1\r\n\tline 2"})
    assert ok.status_code == 302


@pytest.mark.parametrize("big", HUGE)
def test_ids_past_the_database_integer_are_404(app, client, world, big):
    csrf = _admin(app, client, world)
    assert client.get(f"/jobs/{big}").status_code == 404
    assert client.get(f"/jobs/{big}/edit").status_code == 404
    assert client.get(f"/admin/users/{big}/edit").status_code == 404
    assert client.post(f"/admin/trucks/{big}/active", data={"csrf_token": csrf}).status_code == 404
    assert client.post(f"/admin/users/{big}/active", data={"csrf_token": csrf}).status_code == 404
    # A path with a GET and a PATCH rule: still 404, not the 405 of "wrong method".
    patch = client.patch(f"/api/smartmoving/jobs/{big}", json={}, headers={"X-CSRFToken": csrf})
    assert patch.status_code == 404
    api = client.get(f"/api/smartmoving/jobs/today?location={big}")
    assert api.status_code == 422 and api.get_json()["error"] == "invalid"
    assert client.get(f"/?location={big}").status_code == 200  # the board ignores an unknown filter


@pytest.mark.parametrize("location", ["²", "٣", "-1", "0", "1.0", " 1"])
def test_odd_digits_in_location_are_handled(app, client, world, location):
    login_as(client, world.users["ADMIN"])
    assert client.get("/api/smartmoving/jobs/today", query_string={"location": location}).status_code == 422
    assert client.get("/", query_string={"location": location}).status_code == 200


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1999-12-31", "2100-01-01", "2025-02-30",
                                 "２０２５-01-01"])
def test_dates_outside_the_board_range(app, client, world, day):
    login_as(client, world.users["ADMIN"])
    page = client.get("/board", query_string={"date": day})
    assert page.status_code == 400 and "between 2000 and 2099" in page.get_data(as_text=True)
    assert client.get("/board/print", query_string={"date": day}).status_code == 400
    assert client.get("/board/export.csv", query_string={"date": day}).status_code == 400
    api = client.get("/api/smartmoving/jobs", query_string={"date": day})
    assert api.status_code == 422 and api.get_json()["error"] == "invalid"


def test_board_edges_of_the_range_render(app, client, world):
    login_as(client, world.users["ADMIN"])
    assert client.get("/board?date=2000-01-01").status_code == 200
    assert client.get("/board?date=2099-12-31").status_code == 200


def test_new_job_date_outside_the_range_is_422(app, client, world):
    csrf = _admin(app, client, world)
    answer = client.post("/jobs/new", data={"csrf_token": csrf, "location_id": str(world.loc_a.id),
                                            "scheduled_date": "0001-01-01", "customer_name": "Old"})
    assert answer.status_code == 422 and "Pick a day between 2000 and 2099." in answer.get_data(as_text=True)


@pytest.mark.parametrize("body", [[1, 2], "str", 5, None, {"date": "9999-12-31"}, {"date": 20250101},
                                  {"date": ["2025-01-01"]}])
def test_sync_body_types_are_422(app, client, world, body):
    from dashboard.auth.tokens import issue_token
    from dashboard.db import db
    from dashboard.models import User
    with app.app_context():
        _, token = issue_token(db.session.get(User, world.users["ADMIN"].id))
        db.session.commit()
    answer = client.post("/api/smartmoving/jobs/sync", data=json.dumps(body), content_type="application/json",
                         headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 422 and answer.get_json()["error"] == "invalid"


# JSON we cannot store and bodies that are not JSON at all: the API's "bad input", 422.
HOSTILE_JSON = [
    '{"date": "2025-01-01\\u0000"}', '{"\\ud800": 1}', '{"date": "\\udfff"}', '{"date": NaN}',
    '{"date": Infinity}', '{"date": -Infinity}', '{"date": 1e999}', "[" * 100000 + "]" * 100000,
    '{"a": ' * 50 + "1" + "}" * 50, '{"date": "2025', b'{"date": "\xff"}', "1" * 5000,
]


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
@pytest.mark.parametrize("raw", HOSTILE_JSON)
def test_hostile_json_bodies_are_422(app, client, world, raw, chunked):
    send_chunked_too(app)
    csrf = _admin(app, client, world)
    answer = client.post("/api/smartmoving/jobs/sync", data=raw, content_type="application/json",
                         headers={"X-CSRFToken": csrf, **(CHUNKED if chunked else {})})
    assert answer.status_code == 422 and answer.get_json()["error"] == "invalid"
    assert "Traceback" not in answer.get_data(as_text=True)


def _bearer(app, world):
    return bearer(app, world.users["ADMIN"])


def _patch(client, job_id, raw, headers, chunked=True):
    return client.patch(f"/api/smartmoving/jobs/{job_id}", data=raw, content_type="application/json",
                        headers={**headers, "If-Match": "*", **(CHUNKED if chunked else {})})


@pytest.mark.parametrize("raw", ['{"notes": "a\\u0000b"}', '{"notes": "\\ud800"}',
                                 '{"notes": ' + "[" * 50000 + "]" * 50000 + "}", '{"crew": ["a\\u0000b"]}',
                                 '{"crew": ["Ann", NaN]}', '{"notes": Infinity}'])
def test_a_chunked_patch_is_checked_like_any_other(app, client, world, raw):
    send_chunked_too(app)
    headers = _bearer(app, world)
    answer = _patch(client, world.job_a, raw, headers)
    assert answer.status_code == 422 and set(answer.get_json()) == {"error", "message"}
    # Nothing was stored, and the job's pages still open.
    job = client.get(f"/api/smartmoving/jobs/{world.job_a}", headers=headers).get_json()
    assert job["crew"] == ["Dan Driver", "Mo Mover"] and job["notes"] is None
    login_as(client, world.users["ADMIN"])
    assert client.get(f"/jobs/{world.job_a}/edit").status_code == 200


@pytest.mark.parametrize("body", [{"dispatchStatus": []}, {"dispatchStatus": {}}, {"dispatchStatus": 3},
                                  {"crew": ["a\x00b"]}, {"crew": "Ann"}, {"crew": [["Ann"]]}, {"truck": 101},
                                  {"notes": ["x"]}, [], "notes", 7])
@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_patch_type_errors_are_422(app, client, world, body, chunked):
    send_chunked_too(app)
    answer = _patch(client, world.job_a, json.dumps(body), _bearer(app, world), chunked=chunked)
    assert answer.status_code == 422 and answer.get_json()["error"] == "invalid"


@pytest.mark.parametrize("value", [str(2**31), str(2**63), "²", "٣", "-1", "1.0", " 1", "1_0", "x"])
def test_ids_out_of_range_or_not_ascii_in_dispatch_forms_are_422(app, client, world, value):
    csrf = _admin(app, client, world)
    job = world.job_a
    assert client.get(f"/jobs/{job}/assign/preview", query_string={"truck_id": value}).status_code == 422
    for path in (f"/jobs/{job}/assign", f"/jobs/{job}/edit"):
        answer = client.post(path, data={"csrf_token": csrf, "truck_id": value, "dispatch_status": "ASSIGNED"})
        assert answer.status_code == 422, path
    accept = client.post("/board/accept-crew", data={"csrf_token": csrf, "job": [str(job), value]})
    assert accept.status_code == 422 and "Select jobs from the board" in accept.get_data(as_text=True)
    fragment = client.post("/board/accept-crew", data={"csrf_token": csrf, "job": value},
                           headers={"HX-Request": "true"})
    assert fragment.status_code == 422 and "<html" not in fragment.get_data(as_text=True)
    new = client.post("/jobs/new", data={"csrf_token": csrf, "location_id": value, "customer_name": "Wanda",
                                         "scheduled_date": world.today.isoformat()})
    assert new.status_code == 422


def test_no_truck_and_real_ids_still_work_in_dispatch_forms(app, client, world):
    csrf = _admin(app, client, world)
    assert client.get(f"/jobs/{world.job_a}/assign/preview", query_string={"truck_id": "0"}).status_code == 200
    assert client.get(f"/jobs/{world.job_a}/assign/preview").status_code == 200
    accepted = client.post("/board/accept-crew", data={"csrf_token": csrf, "job": [str(world.job_a)]})
    assert accepted.status_code == 302


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
@pytest.mark.parametrize("raw", ['{"event-type": "job-changed", "job-id": NaN}',
                                 '{"x": ' + "[" * 30000 + "]" * 30000 + "}",
                                 '{"event-type": "job-changed", "job-id": 1e999}', '{"a": ' * 40 + "1" + "}" * 40])
def test_hostile_webhook_bodies_are_422(app, client, monkeypatch, raw, chunked):
    from dashboard.webhooks import worker
    monkeypatch.setattr(worker, "kick", lambda app, company_id: None)
    send_chunked_too(app)
    app.config["SMARTMOVING_WEBHOOK_SECRET"] = "whsec-edges"
    headers = {app.config["SMARTMOVING_WEBHOOK_HEADER"]: "whsec-edges", **(CHUNKED if chunked else {})}
    answer = client.post("/api/smartmoving/webhooks", data=raw, content_type="application/json", headers=headers)
    assert answer.status_code == 422 and answer.get_json()["error"] == "invalid"


def test_a_chunked_body_past_the_limits_is_413(app, client, world, monkeypatch):
    from dashboard.webhooks import worker
    monkeypatch.setattr(worker, "kick", lambda app, company_id: None)
    send_chunked_too(app)
    big = json.dumps({"notes": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)})
    assert _patch(client, world.job_a, big, _bearer(app, world)).status_code == 413
    app.config["SMARTMOVING_WEBHOOK_SECRET"] = "whsec-edges"
    headers = {app.config["SMARTMOVING_WEBHOOK_HEADER"]: "whsec-edges", **CHUNKED}
    webhook = client.post("/api/smartmoving/webhooks", data=json.dumps({"x": "y" * 70000}), headers=headers)
    assert webhook.status_code == 413


def test_a_chunked_body_is_read_not_ignored(app, client, world):
    send_chunked_too(app)
    answer = _patch(client, world.job_a, json.dumps({"notes": "Piano, 3rd floor"}), _bearer(app, world))
    assert answer.status_code == 200 and answer.get_json()["notes"] == "Piano, 3rd floor"


def test_broken_next_and_current_url_are_ignored(app, client, world):
    assert client.get("/auth/login?next=//[").status_code == 200
    answer = client.get("/", headers={"HX-Request": "true", "HX-Current-URL": "http://["})
    assert answer.status_code == 401 and answer.headers["HX-Redirect"].startswith("/auth/login")


def test_a_chunked_form_is_checked_and_capped(app, client, world):
    send_chunked_too(app)
    csrf = _admin(app, client, world)
    form = {"csrf_token": csrf, "truck_id": "0", "dispatch_status": "ASSIGNED", "notes": "a\x00b"}
    assert client.post(f"/jobs/{world.job_a}/edit", data=form, headers=CHUNKED).status_code == 400
    huge = dict(form, notes="x" * app.config["MAX_CONTENT_LENGTH"])
    assert client.post(f"/jobs/{world.job_a}/edit", data=huge, headers=CHUNKED).status_code == 413
    saved = client.post(f"/jobs/{world.job_a}/edit", data=dict(form, notes="Ramps"), headers=CHUNKED)
    assert saved.status_code == 302


def test_real_chunked_uploads_to_a_real_server(app, world):
    """The same answers over a socket, the body in chunks of Transfer-Encoding: chunked (werkzeug's server)."""
    import http.client
    import threading

    from werkzeug.serving import make_server

    headers = {**_bearer(app, world), "Content-Type": "application/json", "If-Match": "*"}
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        answers = []
        for raw in ('{"notes": "a\\u0000b"}', '{"notes": ' + "[" * 50000 + "]" * 50000 + "}",
                    '{"dispatchStatus": []}', '{"crew": ["a\\u0000b"]}', '{"notes": NaN}', '{"notes": "Ramps"}'):
            body = raw.encode()
            connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
            try:
                # An iterable body without a length goes out chunked.
                connection.request("PATCH", f"/api/smartmoving/jobs/{world.job_a}",
                                   body=iter([body[:9], body[9:]]), headers=headers)
                answer = connection.getresponse()
                answer.read()
                answers.append(answer.status)
            finally:
                connection.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert answers == [422, 422, 422, 422, 422, 200]


@pytest.mark.parametrize("code", [400, 404, 409, 422])
def test_our_error_messages_are_shown_even_when_they_start_with_the(app, code):
    """Only werkzeug's stock descriptions give way to the friendly text; a message of ours is kept."""
    from flask import abort

    from dashboard.errors import FRIENDLY
    from dashboard.permissions import public

    @public
    def ours():
        abort(code, description="The truck is booked on another job.")

    @public
    def stock():
        abort(code)

    app.add_url_rule("/test-errors/ours", "test_errors_ours", ours)
    app.add_url_rule("/test-errors/stock", "test_errors_stock", stock)
    client = app.test_client()
    for headers in ({}, {"HX-Request": "true"}):
        page = client.get("/test-errors/ours", headers=headers)
        assert page.status_code == code and "The truck is booked on another job." in page.get_data(as_text=True)
        stock_page = client.get("/test-errors/stock", headers=headers).get_data(as_text=True)
        assert FRIENDLY[code] in stock_page and "The server" not in stock_page and "The requested" not in stock_page
    answer = client.get("/test-errors/ours", headers={"Accept": "application/json"})
    assert answer.get_json()["message"] == "The truck is booked on another job."
    assert client.get("/no/such/page").get_data(as_text=True).count(FRIENDLY[404]) >= 1


@pytest.mark.parametrize("digit_one", ["١", "𝟏"])
def test_admin_forms_take_ids_in_ascii_digits_only(app, client, world, digit_one):
    """int() reads "١" (Arabic-Indic one) as 1: a form must not, or a look-alike picks location 1."""
    assert world.loc_a.id == 1
    csrf = _admin(app, client, world)
    truck = client.post("/admin/trucks", data={"csrf_token": csrf, "name": "Truck Look-alike",
                                               "location_id": digit_one})
    assert truck.status_code == 422
    user = client.post("/admin/users/new", data={
        "csrf_token": csrf, "email": "look.alike@example.test", "full_name": "Look Alike", "role": "DISPATCHER",
        "company_id": str(world.company.id), "locations": digit_one, "password": "a-long-password-1"})
    assert user.status_code == 422
    assert client.post("/admin/trucks", data={"csrf_token": csrf, "name": "Truck One",
                                              "location_id": "1"}).status_code == 302
