"""No input makes a 500: hostile paths, query strings and form fields on every HTML route, for every role.

Property-based (hypothesis, the settings profile of conftest.py: derandomized, no
deadline, few examples), on each backend the `app` fixture runs. A case fails on a
5xx answer or on any error logged with a traceback.
"""
import logging
from urllib.parse import quote

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from conftest import csrf_token_from
from conftest import login_as
from test_route_access import ROUTES
from test_route_access import fake_sync  # noqa: F401  (fixture)
from test_route_access import own_token_id
from ui_helpers import ROLES
from ui_helpers import add_truck
from ui_helpers import build_world

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

# The form fields each POST route reads (csrf_token is added valid, so the view itself is reached).
FORM_FIELDS = {
    "jobs.new_job": ("location_id", "scheduled_date", "customer_name", "customer_phone", "customer_email",
                     "origin_address", "destination_address", "arrival_window", "notes"),
    "jobs.edit": ("truck_id", "crew", "crew_other", "dispatch_status", "notes", "version"),
    "admin.new_user": ("email", "full_name", "crew_name", "company_id", "role", "locations", "password"),
    "admin.edit_user": ("email", "full_name", "crew_name", "company_id", "role", "locations"),
    "admin.trucks": ("name", "location_id"),
    "auth.login": ("email", "password", "next"),
    "auth.password": ("current_password", "new_password", "confirm"),
    "auth.api_tokens": ("name",),
}
PATH_NAMES = ("job_a", "mover_id", "truck_id", "token_id")
# A submission each form accepts; the sweep spoils one field at a time.
VALID_FORMS = {
    "jobs.new_job": {"location_id": "{loc_a}", "scheduled_date": "{today}", "customer_name": "Walk-in Wanda",
                     "customer_email": "w@example.test", "notes": "Ring twice"},
    "jobs.edit": {"truck_id": "0", "crew_other": "Helper Hal", "dispatch_status": "ASSIGNED", "notes": "Ramps"},
    "admin.new_user": {"email": "new.person@example.test", "full_name": "New Person", "role": "DISPATCHER",
                       "company_id": "{company_id}", "locations": "{loc_a}", "password": "a-long-password-1"},
    "admin.edit_user": {"email": "x@example.test", "full_name": "Mo", "crew_name": "Mo Mover", "role": "MOVER",
                        "company_id": "{company_id}"},
    "admin.trucks": {"name": "Truck 9", "location_id": "0"},
    "auth.login": {"email": "nobody@example.test", "password": "wrong-password", "next": "/"},
    "auth.password": {"current_password": "wrong-password", "new_password": "b-long-password-2",
                      "confirm": "b-long-password-2"},
    "auth.api_tokens": {"name": "sweep"},
}
# GET routes whose page is also a form: POSTed too.
POST_TOO = {"jobs.new_job", "jobs.edit", "admin.new_user", "admin.edit_user", "admin.trucks", "auth.login",
            "auth.password", "auth.api_tokens"}
SKIP = {"auth.logout"}  # would end the session the sweep runs in; covered in test_sessions_tokens


def _targets():
    """(method, path template, endpoint) of every HTML route the sweep throws values at."""
    targets = []
    for method, template, _perm, endpoint in ROUTES:
        if endpoint in SKIP:
            continue
        targets.append((method, template.split("?")[0], endpoint))
        if method == "GET" and endpoint in POST_TOO:
            targets.append(("POST", template.split("?")[0], endpoint))
    return sorted(set(targets))


TARGETS = _targets()


def test_no_input_makes_a_500(app, default_company, make_company, make_location, make_user, fake_sync,
                              cheap_passwords, caplog):
    world = build_world(app, default_company, make_company, make_location, make_user)
    values = {"today": world.today.isoformat(), "job_a": world.job_a, "mover_id": world.users["MOVER"].id,
              "truck_id": add_truck(app, default_company, "Sweep Truck"), "loc_a": world.loc_a.id,
              "company_id": default_company.id}
    clients = {}
    for role in (None,) + ROLES:
        client = app.test_client()
        if role is not None:
            login_as(client, world.users[role])
        page = client.get("/auth/login" if role is None else "/auth/password").get_data(as_text=True)
        token_id = own_token_id(app, world.users[role or "MOVER"])
        clients[role or "anonymous"] = (client, csrf_token_from(page), dict(values, token_id=token_id))
    caplog.set_level(logging.WARNING)

    for method, template, endpoint in TARGETS:
        # One hostile spot per request, the rest a valid submission, so the value gets
        # past the other fields' checks to wherever it could do harm.
        spots = ([("path", name) for name in PATH_NAMES if "{" + name + "}" in template]
                 + [("query", name) for name in QUERY_NAMES]
                 + [("form", name) for name in FORM_FIELDS.get(endpoint, ()) if method == "POST"])

        @settings(max_examples=16)
        @given(role=st.sampled_from(sorted(clients)), spot=st.sampled_from(spots), data=st.data(), htmx=st.booleans())
        def sweep(role, spot, data, htmx):
            caplog.clear()
            client, csrf, path_values = clients[role]
            kind, name = spot
            value = data.draw(hostile_id if kind == "path" else value_for(name), label=name)
            path_values = dict(path_values, **({name: quote(str(value), safe="")} if kind == "path" else {}))
            path = template.format(**path_values)
            query = {name: value} if kind == "query" else {}
            headers = {"HX-Request": "true"} if htmx else {}
            if method == "POST":
                form = {key: text.format(**path_values) for key, text in VALID_FORMS.get(endpoint, {}).items()}
                if kind == "form":
                    form[name] = value
                answer = client.post(path, query_string=query, data=dict(form, csrf_token=csrf), headers=headers)
            else:
                answer = client.get(path, query_string=query, headers=headers)
            where = f"{role}: {method} {path} {query} {spot}={value!r:.80}"
            assert answer.status_code < 500, f"{where} -> {answer.status_code}"
            broken = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
            assert not broken, f"{where}: {broken[0].getMessage()}"

        sweep()
