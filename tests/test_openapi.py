"""The OpenAPI 3.1 document: valid, complete, served, and true of the live app for every role (schemathesis)."""
import logging
import re

import pytest
import schemathesis
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from dashboard.db import db
from dashboard.models import User
from tests.support.ui import ROLES
from tests.support.ui import build_world

DOC_PATH = "/api/smartmoving/openapi.json"


def _document(client):
    answer = client.get(DOC_PATH)
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    return answer.get_json()


def test_document_is_valid_openapi_3_1(client):
    document = _document(client)
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_document_describes_every_json_route(app, client):
    described = {(path, method.upper()) for path, item in _document(client)["paths"].items() for method in item}
    routed = set()
    for rule in app.url_map.iter_rules():
        # The JSON API, and the one JSON route outside it: a program's way to a token.
        if rule.rule.startswith("/api/") or rule.rule == "/auth/token":
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            routed |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert described == routed


@pytest.mark.parametrize("role", ROLES)
def test_live_app_matches_the_document(app, default_company, make_company, make_location, make_user, cheap_passwords,
                                       quick_syncs, caplog, role):
    from dashboard.auth.tokens import issue_token
    world = build_world(app, default_company, make_company, make_location, make_user)
    with app.app_context():
        _, token = issue_token(db.session.get(User, world.users[role].id), "schemathesis")
        db.session.commit()
    schema = schemathesis.openapi.from_wsgi(DOC_PATH, app)
    headers = {"Authorization": f"Bearer {token}"}
    caplog.set_level(logging.ERROR)
    operations = [result.ok() for result in schema.get_all_operations()]
    # Every operation but the document itself (schemathesis leaves out the path it loaded the schema from).
    expected = {f"{method.upper()} {path}" for path, item in schema.raw_schema["paths"].items() for method in item}
    assert {op.label for op in operations} == expected - {f"GET {DOC_PATH}"}
    # Schema-valid input can still be refused for reasons no schema states (an unknown
    # truck, a stale version, a range over 366 days, control characters): the checks are
    # no 5xx and every answer as documented, not "valid data is always accepted".
    excluded = [positive_data_acceptance]
    for operation in operations:
        # Schema-valid requests and, where the operation takes input, requests that break it.
        strategies = [operation.as_strategy()]
        if operation.query or operation.body:
            strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))

        @settings(max_examples=8)
        @given(case=st.one_of(strategies))
        def check(case):
            case.call_and_validate(headers=headers, excluded_checks=excluded)
        check()
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
