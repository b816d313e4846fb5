"""Answers with customer or user data are never stored by a browser or proxy; static files are."""
import pytest

from tests.support import login_as
from tests.support.ui import build_world


@pytest.fixture
def world(app, default_company, make_company, make_location, make_user, cheap_passwords):
    return build_world(app, default_company, make_company, make_location, make_user)


def _assert_private(answer, what):
    assert answer.headers.get("Cache-Control") == "no-store", what
    vary = {v.strip() for v in answer.headers.get("Vary", "").split(",")}
    assert {"Cookie", "Authorization"} <= vary, what


def test_pages_fragments_csv_print_and_json_are_no_store(app, client, world):
    login_as(client, world.users["ADMIN"])
    day = world.today.isoformat()
    for path in ("/", f"/board?date={day}", f"/board/print?date={day}", f"/board/export.csv?date={day}",
                 f"/jobs/{world.job_a}", "/admin/users", "/auth/tokens", "/api/smartmoving/jobs/today",
                 "/api/smartmoving/nope", "/jobs/999999"):
        _assert_private(client.get(path), path)
    fragment = client.get("/", headers={"HX-Request": "true"})
    _assert_private(fragment, "board fragment")
    assert "HX-Request" in fragment.headers["Vary"]
    login_as(client, world.users["DRIVER"])
    _assert_private(client.get("/my-jobs"), "/my-jobs")


def test_anonymous_answers_and_errors_are_no_store(client):
    for path in ("/auth/login", "/", "/api/smartmoving/health"):
        _assert_private(client.get(path), path)


def test_static_files_stay_cacheable(client):
    answer = client.get("/static/app.css")
    assert answer.status_code == 200
    assert "no-store" not in answer.headers.get("Cache-Control", "")
    assert answer.headers.get("ETag")  # revalidated, not refetched
