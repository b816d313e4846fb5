"""The SmartMoving sandbox over real HTTP: auth, envelopes, type drift, determinism, faults, mutations, control."""
import time
from datetime import date
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests

from dashboard.sandbox.embedded import ensure_embedded_sandbox
from dashboard.sandbox.server import Faults
from dashboard.sandbox.server import start_sandbox
from dashboard.sandbox.world import SandboxWorld

TODAY = date(2026, 7, 20)
TOMORROW = date(2026, 7, 21)
KEY = "test-key"


@pytest.fixture
def sandbox():
    """A sandbox on a free port with a fixed-today world; stopped at teardown."""
    server = start_sandbox(SandboxWorld(seed=7, today=TODAY), api_key=KEY)
    yield server
    server.stop()


@pytest.fixture
def get(sandbox):
    """GET an API path (relative to /v1) with the key; returns the response."""
    def _get(path, key=KEY, timeout=5, **params):
        headers = {"x-api-key": key} if key else {}
        return requests.get(sandbox.base_url + path, params=params, headers=headers, timeout=timeout)
    return _get


@pytest.fixture
def control(sandbox):
    """Call a /_sandbox control endpoint with the key; returns the response."""
    root = sandbox.base_url[:-len("/v1")]

    def _control(method, path, json=None, key=KEY, **params):
        return requests.request(method, root + path, json=json, params=params,
                                headers={"x-api-key": key}, timeout=5)
    return _control


def sweep(get, start=TODAY, end=TOMORROW, page_size=200):
    """Every sweep customer in [start, end], walking pages to lastPage."""
    customers, page = [], 1
    while True:
        body = get("/api/customers", FromServiceDate=start.strftime("%Y%m%d"), ToServiceDate=end.strftime("%Y%m%d"),
                   IncludeOpportunityInfo="true", Page=page, PageSize=page_size).json()
        customers.extend(body["pageResults"])
        if body["lastPage"]:
            return customers
        page += 1


def sweep_opportunity(customers, opp_id):
    return next(o for c in customers for o in c["opportunities"] if o["id"] == opp_id)


# ----- auth, paths, envelopes ----------------------------------------------------------------------------------


def test_auth_is_required_by_header_or_query(sandbox, get):
    missing = get("/api/branches", key=None)
    assert missing.status_code == 401
    assert missing.json() == {"statusCode": 401, "message": "Access denied due to missing subscription key. "
                              "Make sure to include subscription key when making requests to an API."}
    assert get("/api/branches", key="wrong").status_code == 401
    assert get("/api/branches").status_code == 200
    assert requests.get(sandbox.base_url + "/api/branches", params={"api-key": KEY}, timeout=5).status_code == 200
    assert requests.get(sandbox.base_url + "/api/branches", headers={"Authorization": f"Bearer {KEY}"},
                        timeout=5).status_code == 401


def test_ping_answers_a_build_string(get):
    response = get("/api/ping")
    assert response.status_code == 200
    assert response.text == "Build Number: 20260707.30"


@pytest.mark.parametrize("path", ["/api/jobs", "/api/health", "/api/opportunities", "/api/nothing/here"])
def test_unknown_paths_answer_the_gateway_404(get, path):
    for key in (KEY, None):
        response = get(path, key=key)
        assert response.status_code == 404
        assert response.json() == {"statusCode": 404, "message": "Resource not found"}


def test_branches_and_crew_are_paged_and_page_size_is_capped(sandbox, get):
    first = get("/api/branches", Page=1, PageSize=3).json()
    assert first == {**first, "pageNumber": 1, "pageSize": 3, "lastPage": False, "totalPages": 3,
                     "totalResults": 8, "totalThisPage": 3}
    last = get("/api/branches", Page=3, PageSize=3).json()
    assert last["lastPage"] is True and last["totalThisPage"] == 2
    capped = get("/api/crew-members", Page=1, PageSize=500).json()
    assert capped["pageSize"] == 200
    assert capped["totalResults"] == len(sandbox.world.crew_members()) == capped["totalThisPage"]
    member = capped["pageResults"][0]
    assert set(member) == {"id", "name", "status", "mobile", "email", "role", "branch"}
    assert member["status"] == "Active" and set(member["branch"]) == {"id", "name"}
    branch = first["pageResults"][0]
    assert branch["name"] == "Toronto Downtown" and branch["isPrimary"] is True
    assert {"fullAddress", "city", "lat", "lng"} <= set(branch["dispatchLocation"])
    beyond = get("/api/branches", Page=9, PageSize=3).json()
    assert beyond["pageResults"] == [] and beyond["lastPage"] is True


def test_customers_pages_cover_the_window_exactly(sandbox, get):
    expected = [c["id"] for c in sandbox.world.customers_in_window(TODAY, TOMORROW)]
    paged = sweep(get, page_size=25)
    assert [c["id"] for c in paged] == expected == sorted(expected)
    body = get("/api/customers", FromServiceDate="20260720", ToServiceDate="20260721",
               IncludeOpportunityInfo="true", Page=1, PageSize=1000).json()
    assert body["pageSize"] == 200 and body["totalResults"] == len(expected) and body["lastPage"] is True


@pytest.mark.parametrize("value", ["2026-07-20", "20261340", "tomorrow", "2026072"])
def test_a_malformed_service_date_is_a_400(get, value):
    response = get("/api/customers", FromServiceDate=value, ToServiceDate="20260721")
    assert response.status_code == 400
    assert value in response.json()["message"]


def test_sweep_and_detail_keep_the_real_type_drift(sandbox, get):
    customer = sweep(get)[0]
    assert set(customer) == {"id", "name", "phoneNumber", "phoneType", "emailAddress", "address",
                             "secondaryPhoneNumbers", "opportunities"}
    opp = customer["opportunities"][0]
    assert isinstance(opp["quoteNumber"], str) and isinstance(opp["status"], int)
    job = opp["jobs"][0]
    assert set(job) == {"id", "jobNumber", "serviceDate", "type"}
    assert date.fromisoformat(job["serviceDate"])

    detail = get(f"/api/opportunities/{opp['id']}", IncludeJobAddresses="true", IncludeCharges="true").json()
    assert detail["quoteNumber"] == int(opp["quoteNumber"])
    assert set(detail["branch"]) == {"name", "phoneNumber"}
    assert isinstance(detail["serviceDate"], int)
    assert detail["leadStatus"] in ("Booked ", "Completed", "Cancelled")
    assert set(detail["estimatedTotal"]) == {"subtotal", "taxableAmount", "tax", "finalTotal"}
    detail_job = next(j for j in detail["jobs"] if j["id"] == job["id"])
    assert detail_job["jobDate"] == int(job["serviceDate"].replace("-", ""))
    assert detail_job["jobAddresses"] and all(isinstance(a, str) for a in detail_job["jobAddresses"])
    assert {"startTime", "endTime", "description", "isDefault", "id"} <= set(detail_job["arrivalWindow"])
    crew_ids = {m["id"] for m in sandbox.world.crew_members()}
    assert set(detail_job["crewMembers"]) <= crew_ids
    assert detail["payments"] == []
    # Completed jobs carry what they really cost; others have no actual charges yet.
    assert bool(detail_job["actualCharges"]) == (detail["status"] == 10)

    without = get(f"/api/opportunities/{opp['id']}").json()
    assert all(j["jobAddresses"] == [] for j in without["jobs"])


def test_unknown_opportunity_is_an_app_404(get):
    response = get("/api/opportunities/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert response.json() == {"message": "Opportunity not found."}


def test_window_includes_customers_whose_opportunities_carry_other_dates(sandbox, get):
    customers = sweep(get)
    dates = {j["serviceDate"] for c in customers for o in c["opportunities"] for j in o["jobs"]}
    assert dates - {"2026-07-20", "2026-07-21"}, "some matching opportunity should carry a job on another day"
    for customer in customers:
        assert any(j["serviceDate"] in ("2026-07-20", "2026-07-21")
                   for o in customer["opportunities"] for j in o["jobs"])
    in_window = {j["id"] for c in customers for o in c["opportunities"] for j in o["jobs"]
                 if j["serviceDate"] in ("2026-07-20", "2026-07-21")}
    assert in_window == set(sandbox.world.expected_jobs(TODAY, TOMORROW))


def test_without_opportunity_info_the_sweep_has_no_opportunities(get):
    body = get("/api/customers", FromServiceDate="20260720", ToServiceDate="20260720", PageSize=5).json()
    assert body["pageResults"] and all("opportunities" not in c for c in body["pageResults"])


def test_query_parameter_names_are_case_insensitive(get):
    body = get("/api/branches", page=2, pagesize=5).json()
    assert body["pageNumber"] == 2 and body["pageSize"] == 5


# ----- the world: realism, truth, determinism, scale ----------------------------------------------------------


def test_world_shape_is_realistic():
    world = SandboxWorld(seed=3, today=TODAY)
    counts = {}
    for job_id in world.job_ids(world.first_day, world.last_day):
        day = world.jobs[job_id].service_date
        counts[day] = counts.get(day, 0) + 1
    assert set(counts) == {date(2026, 7, d) for d in range(19, 26)} and set(counts.values()) == {40}
    truth = world.expected_jobs(world.first_day, world.last_day)
    statuses = [t["opportunityStatus"] for t in truth.values()]
    assert statuses.count(4) > len(statuses) / 2 and {10, 20} <= set(statuses)
    assert any(t["crewNames"] == [] for t in truth.values()) and any(len(t["crewNames"]) >= 3 for t in truth.values())
    assert any(t["destinationAddress"] is None for t in truth.values())
    assert all(500 <= t["estimatedValue"] <= 9500 for t in truth.values())
    addresses = [c["address"] for c in world.customers_in_window(world.first_day, world.last_day)]
    assert any(isinstance(a, str) for a in addresses) and any(isinstance(a, dict) for a in addresses)
    per_customer = [len(c.opportunity_ids) for c in world.customers.values()]
    assert max(per_customer) >= 2
    assert any(len(o.job_ids) >= 2 for o in world.opportunities.values())


def test_truth_agrees_with_what_the_api_serves(sandbox, get):
    crew = {m["id"]: m["name"] for m in get("/api/crew-members", PageSize=200).json()["pageResults"]}
    truth = sandbox.world.expected_jobs(TODAY, TOMORROW)
    for job_id, expected in list(truth.items())[:15]:
        detail = get(f"/api/opportunities/{expected['opportunityId']}", IncludeJobAddresses="true").json()
        job = next(j for j in detail["jobs"] if j["id"] == job_id)
        assert expected["jobNumber"] == job["jobNumber"]
        assert expected["quoteNumber"] == str(detail["quoteNumber"])
        assert expected["customerName"] == detail["customer"]["name"]
        assert expected["customerPhone"] == detail["customer"]["phoneNumber"]
        assert expected["customerEmail"] == detail["customer"]["emailAddress"]
        assert expected["scheduledDate"] == date(job["jobDate"] // 10000, job["jobDate"] // 100 % 100,
                                                 job["jobDate"] % 100)
        assert expected["branchName"] == detail["branch"]["name"]
        assert expected["estimatedValue"] == detail["estimatedTotal"]["finalTotal"]
        assert expected["originAddress"] == job["jobAddresses"][0]
        assert expected["destinationAddress"] == (job["jobAddresses"][-1] if len(job["jobAddresses"]) > 1 else None)
        assert expected["arrivalStart"] == job["arrivalWindow"]["startTime"]
        assert expected["crewNames"] == [crew[c] for c in job["crewMembers"]]
        assert expected["opportunityStatus"] == detail["status"]
        assert expected["confirmed"] == job["confirmed"]
    assert sandbox.world.opportunity_ids_in_window(TODAY, TOMORROW) == sorted({t["opportunityId"]
                                                                               for t in truth.values()})


def test_same_seed_and_day_give_the_same_world_and_other_seeds_differ():
    first, second = SandboxWorld(seed=11, today=TODAY), SandboxWorld(seed=11, today=TODAY)
    assert first.branches() == second.branches() and first.crew_members() == second.crew_members()
    assert first.customers_in_window(TODAY, TOMORROW) == second.customers_in_window(TODAY, TOMORROW)
    assert first.expected_jobs(TODAY, TOMORROW) == second.expected_jobs(TODAY, TOMORROW)
    opp_id = first.opportunity_ids_in_window(TODAY, TODAY)[0]
    assert first.opportunity_detail(opp_id) == second.opportunity_detail(opp_id)
    assert first.add_opportunity(TODAY) == second.add_opportunity(TODAY)
    other = SandboxWorld(seed=12, today=TODAY)
    assert other.customers_in_window(TODAY, TOMORROW) != first.customers_in_window(TODAY, TOMORROW)


def test_today_defaults_to_the_date_in_the_world_timezone():
    for zone in ("America/Toronto", "Pacific/Kiritimati", "Pacific/Pago_Pago"):
        before = datetime.now(ZoneInfo(zone)).date()
        today = SandboxWorld(timezone=zone, jobs_per_day=1).today
        assert today in {before, datetime.now(ZoneInfo(zone)).date()}


def test_regenerate_throws_away_mutations():
    world = SandboxWorld(seed=5, today=TODAY, jobs_per_day=10)
    pristine = world.expected_jobs(world.first_day, world.last_day)
    world.delete_opportunity(world.opportunity_ids_in_window(TODAY, TODAY)[0])
    world.add_opportunity(TODAY)
    world.regenerate()
    assert world.expected_jobs(world.first_day, world.last_day) == pristine and world.version == 3


def test_a_benchmark_sized_world_builds_fast_and_spans_pages():
    started = time.monotonic()
    world = SandboxWorld(seed=1, today=TODAY, branches=66, jobs_per_day=500)
    assert time.monotonic() - started < 5
    assert len({b["name"] for b in world.branches()}) == 66
    total, page = world.customers_page(TODAY, TOMORROW, 1, 200)
    assert total > 600 and len(page) == 200
    assert len(world.expected_jobs(TODAY, TOMORROW)) == 1000


# ----- faults --------------------------------------------------------------------------------------------------


def test_rate_limit_per_minute_answers_429_with_the_wait_and_no_header(sandbox, get):
    sandbox.faults.rate_limit_per_minute = 3
    assert [get("/api/ping").status_code for _ in range(3)] == [200, 200, 200]
    limited = get("/api/ping")
    assert limited.status_code == 429 and "Retry-After" not in limited.headers
    assert limited.json()["statusCode"] == 429
    message = limited.json()["message"]
    assert message.startswith("Rate limit is exceeded. Try again in ") and message.endswith(" seconds.")
    assert 55 <= int(message.split()[-2]) <= 60
    sandbox.faults.retry_after_header = True
    with_header = get("/api/ping")
    assert with_header.status_code == 429 and with_header.headers["Retry-After"] == with_header.json()[
        "message"].split()[-2]
    assert sandbox.stats.rate_limited == 2
    sandbox.faults.reset()
    assert get("/api/ping").status_code == 200


def test_rate_limit_window_slides():
    faults = Faults()
    faults.rate_limit_per_minute = 2
    assert faults.take_request_fault("/api/ping", now=0.0) is None
    assert faults.take_request_fault("/api/ping", now=10.0) is None
    assert faults.take_request_fault("/api/ping", now=30.0) == (429, 30)
    assert faults.take_request_fault("/api/ping", now=60.5) is None
    assert faults.take_request_fault("/api/ping", now=61.0) == (429, 9)


def test_rate_limit_next_and_fail_next_are_one_shot(sandbox, get):
    sandbox.faults.rate_limit_next(1, seconds=2)
    sandbox.faults.fail_next(2, status=502)
    first = get("/api/branches")
    assert first.status_code == 429 and first.json()["message"] == "Rate limit is exceeded. Try again in 2 seconds."
    assert [get("/api/branches").status_code for _ in range(3)] == [502, 502, 200]


def test_latency_is_added_to_every_call_and_by_path_prefix(sandbox, get):
    sandbox.faults.latency = 0.2
    started = time.monotonic()
    get("/api/ping")
    assert time.monotonic() - started >= 0.2
    sandbox.faults.latency = 0
    sandbox.faults.latency_by_path_prefix = {"/api/branches": 0.25}
    started = time.monotonic()
    get("/api/ping")
    assert time.monotonic() - started < 0.2
    started = time.monotonic()
    get("/api/branches")
    assert time.monotonic() - started >= 0.25


def test_malformed_and_truncated_bodies(sandbox, get):
    sandbox.faults.malformed_next(1)
    bad = get("/api/branches")
    assert bad.status_code == 200
    with pytest.raises(ValueError):
        bad.json()
    sandbox.faults.truncate_next(1)
    half = get("/api/branches")
    assert half.status_code == 200 and half.text.startswith('{"pageNumber"')
    with pytest.raises(ValueError):
        half.json()
    sandbox.faults.truncate_next(1, mode="missing")
    missing = get("/api/customers", FromServiceDate="20260720", ToServiceDate="20260720",
                  IncludeOpportunityInfo="true").json()
    assert "pageResults" not in missing and missing["totalResults"] > 0
    assert "pageResults" in get("/api/branches").json()


def test_timeout_next_stalls_past_the_client_timeout(sandbox, get):
    sandbox.faults.timeout_next(1, seconds=3)
    with pytest.raises(requests.exceptions.ReadTimeout):
        get("/api/branches", timeout=0.3)
    # On a loaded machine the client can give up before the server has read the request: the stall is
    # taken when the server gets to it, so wait for that, or the next call would be the one stalled.
    deadline = time.monotonic() + 10
    while sandbox.faults.describe()["timeout_next"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox.faults.describe()["timeout_next"] == 0
    assert get("/api/branches", timeout=2).status_code == 200


def test_fail_paths_answer_500_until_cleared(sandbox, get):
    sandbox.faults.fail_paths = {"/api/opportunities"}
    opp_id = sandbox.world.opportunity_ids_in_window(TODAY, TODAY)[0]
    assert get(f"/api/opportunities/{opp_id}").status_code == 500
    assert get("/api/branches").status_code == 200
    sandbox.faults.fail_paths = set()
    assert get(f"/api/opportunities/{opp_id}").status_code == 200


def test_stats_count_calls_by_kind(sandbox, get):
    sandbox.reset_stats()
    opp_id = sandbox.world.opportunity_ids_in_window(TODAY, TODAY)[0]
    get("/api/ping")
    get("/api/branches")
    get("/api/crew-members")
    get("/api/customers", FromServiceDate="20260720", ToServiceDate="20260720")
    get(f"/api/opportunities/{opp_id}")
    get("/api/jobs")
    snapshot = sandbox.stats.snapshot()
    assert snapshot["total"] == 6
    assert snapshot["by_kind"] == {"branches": 1, "crew": 1, "customers": 1, "opportunity": 1, "ping": 1, "other": 1}
    assert snapshot["by_status"] == {"200": 5, "404": 1}


# ----- mutations -----------------------------------------------------------------------------------------------


def test_change_opportunity_shows_in_sweep_detail_and_truth(sandbox, get):
    world = sandbox.world
    opp_id = world.opportunity_ids_in_window(TODAY, TOMORROW)[0]
    before_sweep = sweep_opportunity(sweep(get), opp_id)
    before_total = get(f"/api/opportunities/{opp_id}").json()["estimatedTotal"]["finalTotal"]
    version = world.version
    new_total = world.change_opportunity(opp_id)
    assert world.version == version + 1
    assert sweep_opportunity(sweep(get), opp_id) != before_sweep
    assert get(f"/api/opportunities/{opp_id}").json()["estimatedTotal"]["finalTotal"] == new_total != before_total
    assert {t["estimatedValue"] for t in world.expected_jobs(TODAY, TOMORROW).values()
            if t["opportunityId"] == opp_id} == {new_total}


def test_change_detail_only_leaves_the_sweep_alone(sandbox, get):
    world = sandbox.world
    opp_id = world.opportunity_ids_in_window(TODAY, TOMORROW)[1]
    before_sweep = sweep_opportunity(sweep(get), opp_id)
    before_detail = get(f"/api/opportunities/{opp_id}").json()
    before_truth = {k: v for k, v in world.expected_jobs(TODAY, TOMORROW).items() if v["opportunityId"] == opp_id}
    world.change_detail_only(opp_id)
    assert sweep_opportunity(sweep(get), opp_id) == before_sweep
    after_detail = get(f"/api/opportunities/{opp_id}").json()
    assert after_detail["estimatedTotal"] != before_detail["estimatedTotal"]
    assert [j["crewMembers"] for j in after_detail["jobs"]] != [j["crewMembers"] for j in before_detail["jobs"]]
    after_truth = world.expected_jobs(TODAY, TOMORROW)
    assert all(after_truth[k]["crewNames"] != v["crewNames"] for k, v in before_truth.items())


def test_delete_opportunity_and_job(sandbox, get):
    world = sandbox.world
    opp_id, other_id = world.opportunity_ids_in_window(TODAY, TOMORROW)[:2]
    world.delete_opportunity(opp_id)
    customers = sweep(get)
    assert all(o["id"] != opp_id for c in customers for o in c["opportunities"])
    assert get(f"/api/opportunities/{opp_id}").status_code == 404
    assert all(t["opportunityId"] != opp_id for t in world.expected_jobs(TODAY, TOMORROW).values())
    assert opp_id not in world.opportunity_ids_in_window(TODAY, TOMORROW)

    job_id = world.opportunities[other_id].job_ids[0]
    world.delete_job(job_id)
    assert job_id not in world.expected_jobs(world.first_day, world.last_day)
    assert all(j["id"] != job_id for j in get(f"/api/opportunities/{other_id}").json()["jobs"])


def test_move_add_and_rename(sandbox, get):
    world = sandbox.world
    job_id = world.job_ids(TODAY, TODAY)[0]
    world.move_job(job_id, "2026-07-24")
    assert job_id not in world.expected_jobs(TODAY, TOMORROW)
    assert world.expected_jobs(date(2026, 7, 24), date(2026, 7, 24))[job_id]["scheduledDate"] == date(2026, 7, 24)

    new_id = world.add_opportunity(TOMORROW, branch_index=2)
    assert new_id in world.opportunity_ids_in_window(TOMORROW, TOMORROW)
    detail = get(f"/api/opportunities/{new_id}").json()
    assert detail["branch"]["name"] == world.branches()[2]["name"]
    assert sweep_opportunity(sweep(get), new_id)["jobs"][0]["serviceDate"] == "2026-07-21"

    customer_id = world.customer_of(new_id)["id"]
    world.rename_customer(customer_id, "<script>alert(1)</script>")
    assert get(f"/api/opportunities/{new_id}").json()["customer"]["name"] == "<script>alert(1)</script>"
    assert any(c["name"] == "<script>alert(1)</script>" for c in sweep(get))
    new_job = world.opportunities[new_id].job_ids[0]
    assert world.expected_jobs(TOMORROW, TOMORROW)[new_job]["customerName"] == "<script>alert(1)</script>"


# ----- control endpoints, embedded ----------------------------------------------------------------------------


def test_control_endpoints_need_the_key(control):
    assert control("GET", "/_sandbox/stats", key="nope").status_code == 401
    assert control("POST", "/_sandbox/reset", key="nope").status_code == 401


def test_control_faults_stats_and_reset(control, get):
    response = control("POST", "/_sandbox/faults", json={"fail_next": {"n": 1, "status": 500},
                                                          "rate_limit_per_minute": 100})
    assert response.status_code == 200 and response.json()["fail_next"] == 1
    assert get("/api/ping").status_code == 500
    assert control("POST", "/_sandbox/faults", json={"no_such_switch": 1}).status_code == 400
    stats = control("GET", "/_sandbox/stats").json()
    assert stats["total"] == 1 and stats["by_kind"]["ping"] == 1
    control("POST", "/_sandbox/faults", json={"rate_limit_next": 1})
    assert control("POST", "/_sandbox/reset").json()["ok"] is True
    assert get("/api/ping").status_code == 200
    assert control("GET", "/_sandbox/stats").json()["total"] == 1


def test_control_mutate_and_truth(sandbox, control, get):
    truth = control("GET", "/_sandbox/truth", **{"from": "2026-07-20", "to": "2026-07-21"}).json()
    assert len(truth["jobs"]) == 80
    row = next(iter(truth["jobs"].values()))
    assert row["scheduledDate"] in ("2026-07-20", "2026-07-21") and isinstance(row["quoteNumber"], str)
    opp_id = row["opportunityId"]
    response = control("POST", "/_sandbox/mutate", json={"action": "delete_opportunity", "id": opp_id})
    assert response.status_code == 200 and response.json()["version"] == sandbox.world.version
    assert get(f"/api/opportunities/{opp_id}").status_code == 404
    added = control("POST", "/_sandbox/mutate", json={"action": "add_opportunity", "day": "2026-07-21"}).json()
    after = control("GET", "/_sandbox/truth", **{"from": "2026-07-20", "to": "2026-07-21"}).json()
    assert added["result"] in {r["opportunityId"] for r in after["jobs"].values()}
    assert control("POST", "/_sandbox/mutate", json={"action": "explode"}).status_code == 400
    assert control("POST", "/_sandbox/mutate", json={"action": "delete_job", "id": "missing"}).status_code == 400
    assert control("POST", "/_sandbox/reset", json={"world": True}).status_code == 200
    assert get(f"/api/opportunities/{opp_id}").status_code == 200


def test_embedded_sandbox_is_a_process_singleton():
    server = ensure_embedded_sandbox("America/Toronto")
    assert ensure_embedded_sandbox("America/Toronto") is server
    assert server.base_url.startswith("http://127.0.0.1:") and server.world.seed == 42
    response = requests.get(server.base_url + "/api/ping", headers={"x-api-key": server.api_key}, timeout=5)
    assert response.status_code == 200
