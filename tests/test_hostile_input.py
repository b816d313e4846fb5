"""No input makes a 500: hostile paths, query strings and form fields on every HTML route, for every role,
and hostile JSON bodies on every JSON write; each body sent with a Content-Length or chunked.

Property-based (hypothesis, the settings profile of conftest.py: derandomized, no
deadline, few examples), on each backend the `app` fixture runs. A case fails on a
5xx answer or on any error logged with a traceback. Every form field of every form
route is swept: the fields are read from the forms the pages render (form_fields.py),
so a field added to a form is swept without editing this file.
"""
import json
import logging
from urllib.parse import quote

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from tests.support import csrf_token_from
from tests.support import login_as
from tests.support.chunked import CHUNKED
from tests.support.chunked import send_chunked_too
from tests.support.form_fields import form_fields
from tests.support.routes import ROUTES
from tests.support.routes import allowed
from tests.support.routes import install_recorded_sync
from tests.support.routes import own_token_id
from tests.support.ui import ROLES
from tests.support.ui import add_job
from tests.support.ui import add_truck
from tests.support.ui import build_world

# Values that have broken web apps before: NUL and control characters, numbers past
# 32/64 bits, dates at the calendar's ends, odd digits, huge and empty strings.
NASTY_TEXT = ["\x00", "a\x00b", "\x1b[31m", "\r\n", "²", "٣", "0001-01-01", "9999-12-31", "2025-02-30",
              "-1", "0", str(2**31), str(2**63), str(2**64), "1e9", " 1", "NaN", "%00", "%", "_", "'", "\\",
              "<script>x</script>", "//evil.example", "http://[", "x" * 5000, "", "null", "[]", "{}", "😀"]
hostile_text = st.one_of(st.sampled_from(NASTY_TEXT), st.text(st.characters(exclude_categories=("Cs",)), max_size=40))
hostile_id = st.one_of(st.sampled_from([0, 1, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, -1]),
                       st.integers(min_value=-(2**70), max_value=2**70), hostile_text)

QUERY_NAMES = ("date", "location", "status", "q", "next", "day", "user", "job")
DATE_NAMES = {"date", "day", "scheduled_date"}
ID_NAMES = {"location", "user", "job", "location_id", "truck_id", "company_id", "locations"}
# Hypothesis favours the ends of a range: st.dates() often gives 0001-01-01 and 9999-12-31.
hostile_date = st.one_of(st.sampled_from(["0001-01-01", "9999-12-31", "2025-02-30", "2025-1-1", "20250101"]),
                         st.dates().map(str), hostile_text)


def value_for(name):
    """The strategy for a query or form field: dates and ids get their own edge values."""
    if name in DATE_NAMES:
        return hostile_date
    if name in ID_NAMES:
        return hostile_id.map(str)
    return hostile_text

# The form fields each POST route reads (csrf_token is added valid, so the view itself is reached):
# the fields a route's forms render are added to these when the sweep starts.
FORM_FIELDS = {
    "jobs.new_job": ("location_id", "scheduled_date", "customer_name", "customer_phone", "customer_email",
                     "origin_address", "destination_address", "arrival_window", "notes"),
    "jobs.edit": ("truck_id", "crew", "crew_other", "dispatch_status", "notes", "version"),
    "admin.new_user": ("email", "full_name", "crew_member_id", "company_id", "role", "locations", "password"),
    "admin.edit_user": ("email", "full_name", "crew_member_id", "company_id", "role", "locations"),
    "admin.trucks": ("name", "location_id"),
    "auth.login": ("email", "password", "next"),
    "auth.password": ("current_password", "new_password", "confirm"),
    "auth.api_tokens": ("name",),
    "jobs.assign": ("truck_id", "crew", "crew_other", "dispatch_status", "notes", "version", "back"),
    "jobs.accept_crew": ("job", "back"),
    "sync.run_now": ("date",),
}
PATH_NAMES = ("job_a", "mover_id", "truck_id", "token_id", "manual_job")
# A submission each form accepts; the sweep spoils one field at a time.
VALID_FORMS = {
    "jobs.new_job": {"location_id": "{loc_a}", "scheduled_date": "{today}", "customer_name": "Walk-in Wanda",
                     "customer_email": "w@example.test", "notes": "Ring twice"},
    "jobs.edit": {"truck_id": "0", "crew_other": "Helper Hal", "dispatch_status": "ASSIGNED", "notes": "Ramps"},
    "jobs.edit_manual": {"location_id": "{loc_a}", "scheduled_date": "{today}", "customer_name": "Walk-in Wanda",
                         "arrival_window": "9:00 AM - 11:00 AM"},
    "jobs.assign": {"truck_id": "0", "crew_other": "Helper Hal", "dispatch_status": "ASSIGNED", "notes": "Ramps"},
    "jobs.accept_crew": {"job": "{job_a}", "back": "/"},
    "admin.new_user": {"email": "new.person@example.test", "full_name": "New Person", "role": "DISPATCHER",
                       "company_id": "{company_id}", "locations": "{loc_a}", "password": "a-long-password-1"},
    "admin.edit_user": {"email": "x@example.test", "full_name": "Mo", "crew_member_id": "0", "role": "MOVER",
                        "company_id": "{company_id}"},
    "admin.trucks": {"name": "Truck 9", "location_id": "0"},
    "auth.login": {"email": "nobody@example.test", "password": "wrong-password", "next": "/"},
    "auth.password": {"current_password": "wrong-password", "new_password": "b-long-password-2",
                      "confirm": "b-long-password-2"},
    "auth.api_tokens": {"name": "sweep"},
}
# GET routes whose page is also a form: POSTed too.
POST_TOO = {"jobs.new_job", "jobs.edit", "jobs.edit_manual", "admin.new_user", "admin.edit_user", "admin.trucks",
            "auth.login", "auth.password", "auth.api_tokens"}
SKIP = {"auth.logout"}  # would end the session the sweep runs in; covered in test_sessions_tokens


# Examples per hostile spot: every form field gets several, each path and query value a couple.
EXAMPLES = {"path": 3, "query": 2, "form": 6}


def _targets():
    """(method, path template, needed permission, endpoint) of every HTML route the sweep throws values at."""
    targets = []
    for method, template, perm, endpoint in ROUTES:
        if endpoint in SKIP:
            continue
        targets.append((method, template.split("?")[0], perm, endpoint))
        if method == "GET" and endpoint in POST_TOO:
            targets.append(("POST", template.split("?")[0], perm, endpoint))
    return sorted(set(targets), key=str)


TARGETS = _targets()


def rendered_form_fields(app, clients, values):
    """{endpoint: field names} of every POST form the GET pages render to the roles that see the most."""
    found = {}
    for role in ("anonymous", "SUPER_ADMIN", "ADMIN"):
        client = clients[role][0]
        for method, template, _perm, _endpoint in ROUTES:
            if method == "GET":
                path = template.format(**values)
                html = client.get(path).get_data(as_text=True)
                for endpoint, names in form_fields(app, html, path).items():
                    found.setdefault(endpoint, set()).update(names)
    return found


def roles_reaching(perm, clients, kind):
    """The sessions a spot is tried with: for a form field, only those whose form reaches the view."""
    if kind != "form":
        return sorted(clients)
    if perm == "public":
        return ["anonymous"]   # a signed-in user is sent away from the sign-in form
    return sorted(role for role in clients if role != "anonymous" and allowed(role, perm))


def test_no_input_makes_a_500(app, default_company, make_company, make_location, make_user, fake_sync,
                              cheap_passwords, caplog):
    send_chunked_too(app)
    world = build_world(app, default_company, make_company, make_location, make_user)
    values = {"today": world.today.isoformat(), "job_a": world.job_a, "mover_id": world.users["MOVER"].id,
              "truck_id": add_truck(app, default_company, "Sweep Truck"), "loc_a": world.loc_a.id,
              "company_id": default_company.id,
              "manual_job": add_job(app, world.loc_a, external_id=None, data_source="MANUAL")}
    clients = {}
    for role in (None,) + ROLES:
        client = app.test_client()
        if role is not None:
            login_as(client, world.users[role])
        page = client.get("/auth/login" if role is None else "/auth/password").get_data(as_text=True)
        token_id = own_token_id(app, world.users[role or "MOVER"])
        clients[role or "anonymous"] = (client, csrf_token_from(page), dict(values, token_id=token_id))
    rendered = rendered_form_fields(app, clients, clients["ADMIN"][2])
    assert set(FORM_FIELDS) <= set(rendered) | {"sync.run_now"}, "the form scan missed a form"  # run_now: date
    caplog.set_level(logging.WARNING)

    for method, template, perm, endpoint in TARGETS:
        fields = sorted(set(FORM_FIELDS.get(endpoint, ())) | rendered.get(endpoint, set())) if method == "POST" else []
        # One hostile spot per request, the rest a valid submission, so the value gets
        # past the other fields' checks to wherever it could do harm.
        spots = ([("path", name) for name in PATH_NAMES if "{" + name + "}" in template]
                 + [("query", name) for name in QUERY_NAMES] + [("form", name) for name in fields])
        for kind, name in spots:
            _sweep_spot(clients, caplog, method, template, endpoint, kind, name, roles_reaching(perm, clients, kind))


def _sweep_spot(clients, caplog, method, template, endpoint, kind, name, roles):
    """Throw hostile values at one spot of one route: each role, htmx or not, the body chunked or not."""

    @settings(max_examples=EXAMPLES[kind])
    @given(role=st.sampled_from(roles), data=st.data(), htmx=st.booleans(), chunked=st.booleans())
    def sweep(role, data, htmx, chunked):
        caplog.clear()
        client, csrf, path_values = clients[role]
        value = data.draw(hostile_id if kind == "path" else value_for(name), label=name)
        path_values = dict(path_values, **({name: quote(str(value), safe="")} if kind == "path" else {}))
        path = template.format(**path_values)
        query = {name: value} if kind == "query" else {}
        headers = {"HX-Request": "true"} if htmx else {}
        if method == "POST":
            form = {key: text.format(**path_values) for key, text in VALID_FORMS.get(endpoint, {}).items()}
            if kind == "form":
                form[name] = value
            answer = client.post(path, query_string=query, data=dict(form, csrf_token=csrf),
                                 headers=dict(headers, **(CHUNKED if chunked else {})))
        else:
            answer = client.get(path, query_string=query, headers=headers)
        where = f"{role}: {method} {path} {query} {kind}:{name}={value!r:.80} chunked={chunked}"
        assert answer.status_code < 500, f"{where} -> {answer.status_code}"
        broken = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
        assert not broken, f"{where}: {broken[0].getMessage()}"

    sweep()


# JSON bodies: any value (NaN, huge numbers, lone surrogates, control characters, nesting), in
# the shape each route expects or not, and raw bytes that are not JSON at all.
json_text = st.one_of(hostile_text, st.sampled_from(["\ud800", "a\udfffb", "Truck 101", "ASSIGNED", "2025-01-31"]))
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                        st.floats(allow_nan=True, allow_infinity=True), json_text)
json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(json_text, inner, max_size=4), max_leaves=12)
RAW_BODIES = ["", "{", '{"notes": "x"', "[" * 50000 + "]" * 50000, '{"a": ' * 40 + "1" + "}" * 40,
              b"\xff\xfe{}", "NaN", "1" * 5000, "null", '{"notes": "a\\u0000b"}', '{"\\ud800": 1}', "\ufeff{}"]


def json_bodies(keys):
    """Request bodies for a route reading keys: mostly its own shape with hostile values."""
    shaped = st.dictionaries(st.sampled_from(keys), json_value, max_size=len(keys))
    encoded = st.one_of(shaped, json_value).map(lambda value: json.dumps(value))
    return st.one_of(encoded, encoded, st.sampled_from(RAW_BODIES))


def test_no_json_body_makes_a_500(app, default_company, make_company, make_location, make_user, cheap_passwords,
                                  monkeypatch, caplog):
    from dashboard.auth.tokens import issue_token
    from dashboard.db import db
    from dashboard.models import User
    from dashboard.webhooks import worker

    install_recorded_sync(monkeypatch)   # a finished run instead of a sync (the sweep is about the body)
    monkeypatch.setattr(worker, "kick", lambda flask_app, company_id: None)
    send_chunked_too(app)
    app.config["SMARTMOVING_WEBHOOK_SECRET"] = "whsec-sweep"
    world = build_world(app, default_company, make_company, make_location, make_user)
    add_truck(app, default_company, "Truck 101")
    with app.app_context():
        _, token = issue_token(db.session.get(User, world.users["ADMIN"].id))
        db.session.commit()
    api = {"Authorization": f"Bearer {token}"}
    routes = [
        ("PATCH", f"/api/smartmoving/jobs/{world.job_a}", dict(api, **{"If-Match": "*"}),
         ["truck", "crew", "dispatchStatus", "notes", "allowConflicts"]),
        ("POST", "/api/smartmoving/jobs/sync", api, ["date"]),
        ("POST", "/api/smartmoving/webhooks", {app.config["SMARTMOVING_WEBHOOK_HEADER"]: "whsec-sweep"},
         ["event-type", "opportunity-id", "job-id", "customer-id"]),
    ]
    client = app.test_client()
    caplog.set_level(logging.WARNING)
    for method, path, headers, keys in routes:
        _sweep_json_route(client, caplog, method, path, headers, keys)


def _sweep_json_route(client, caplog, method, path, headers, keys):
    """Hostile JSON bodies (plain or chunked, typed or not) to one route: never a 5xx, never an error logged."""

    @settings(max_examples=40)
    @given(body=json_bodies(keys), chunked=st.booleans(), typed=st.sampled_from(["application/json", None]))
    def sweep(body, chunked, typed):
        caplog.clear()
        sent = dict(headers, **(CHUNKED if chunked else {}))
        answer = client.open(path, method=method, data=body, content_type=typed, headers=sent)
        where = f"{method} {path} chunked={chunked} {typed} body={body!r:.120}"
        assert answer.status_code < 500, f"{where} -> {answer.status_code}"
        broken = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
        assert not broken, f"{where}: {broken[0].getMessage()}"

    sweep()
