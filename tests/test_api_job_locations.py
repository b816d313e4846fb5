"""The jobs API's ?location= (QA walkthrough): another location's or an unknown id is a 422, as the README says,
not an empty 200 list; a location the caller sees still filters."""
import pytest

from tests.support.api import bearer
from tests.support.api import user_for

PATHS = ("/api/smartmoving/jobs/today", "/api/smartmoving/jobs/tomorrow", "/api/smartmoving/jobs?date={today}")


def _get(client, app, user, path, world, location):
    url = path.format(today=world["today"].isoformat())
    url += ("&" if "?" in url else "?") + f"location={location}"
    return client.get(url, headers=bearer(app, user))


@pytest.mark.parametrize("path", PATHS)
def test_a_location_outside_the_callers_scope_or_unknown_is_422(app, client, world, make_user, path):
    dispatcher = user_for(make_user, "DISPATCHER", world)      # sees North only
    for location in (world["south"].id, world["rival"].id, 99999):
        answer = _get(client, app, dispatcher, path, world, location)
        assert answer.status_code == 422, (path, location)
        assert answer.get_json() == {"error": "invalid",
                                     "message": "location must be the id of a location you can see."}
    mine = _get(client, app, dispatcher, path, world, world["north"].id)
    assert mine.status_code == 200


def test_the_error_body_is_the_documented_shape_and_the_filter_still_works(app, client, world, make_user):
    dispatcher = user_for(make_user, "DISPATCHER", world)
    refused = _get(client, app, dispatcher, PATHS[0], world, world["rival"].id).get_json()
    assert set(refused) == {"error", "message"} and "location" in refused["message"]
    shown = _get(client, app, dispatcher, PATHS[0], world, world["north"].id).get_json()
    assert [job["jobNumber"] for job in shown["jobs"]] == ["J-north"]
    admin = make_user("ADMIN")                                   # the whole company: South too, not the rival's
    assert _get(client, app, admin, PATHS[0], world, world["south"].id).status_code == 200
    assert _get(client, app, admin, PATHS[0], world, world["rival"].id).status_code == 422


def test_crew_may_filter_by_their_companys_locations_only(app, client, world, make_user):
    driver = user_for(make_user, "DRIVER", world)
    assert _get(client, app, driver, PATHS[0], world, world["north"].id).status_code == 200
    assert _get(client, app, driver, PATHS[0], world, world["rival"].id).status_code == 422
    assert _get(client, app, driver, PATHS[0], world, 99999).status_code == 422
