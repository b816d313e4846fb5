"""Unit tests for the SmartMoving client against a `responses` mock; time is faked, nothing really sleeps."""
from datetime import date

import pytest
import requests
import responses
from responses import matchers

from dashboard.smartmoving.client import SmartMovingClient
from dashboard.smartmoving.errors import AuthError
from dashboard.smartmoving.errors import BudgetExhausted
from dashboard.smartmoving.errors import ClientError
from dashboard.smartmoving.errors import DeadlineExceeded
from dashboard.smartmoving.errors import MalformedResponse
from dashboard.smartmoving.errors import NotFound
from dashboard.smartmoving.errors import RateLimitExhausted
from dashboard.smartmoving.errors import ServerError
from dashboard.smartmoving.errors import SmartMovingError
from dashboard.smartmoving.errors import TransportError

BASE = "https://api-public.smartmoving.com/v1"
KEY = "sk-secret-key-123"
BRANCHES = BASE + "/api/branches"


class FakeTime:
    """A clock that only moves when the client sleeps, recording every sleep."""

    def __init__(self, now=1000.0, advance=True):
        self.now = now
        self.advance = advance
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        if self.advance:
            self.now += seconds


@pytest.fixture
def fake_time():
    return FakeTime()


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


@pytest.fixture
def make_client(fake_time):
    clients = []

    def make(**kwargs):
        kwargs.setdefault("sleep", fake_time.sleep)
        kwargs.setdefault("clock", fake_time.clock)
        kwargs.setdefault("random", lambda: 0.0)
        client = SmartMovingClient(BASE, kwargs.pop("api_key", KEY), kwargs.pop("client_id", None), **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def envelope(items, page, last, total_pages=None, **extra):
    body = {"pageNumber": page, "pageSize": 200, "lastPage": last, "totalPages": total_pages or page,
            "totalResults": len(items), "totalThisPage": len(items), "pageResults": items}
    body.update(extra)
    return body


def page_matcher(page, size=200, **params):
    return matchers.query_param_matcher({"Page": str(page), "PageSize": str(size), **params}, strict_match=False)


# --- requests as sent ---------------------------------------------------------------------------


def test_headers_and_timeouts_without_client_id(mocked, make_client):
    mocked.get(BASE + "/api/ping", body="Build Number: 20260707.30")
    client = make_client(connect_timeout=3.0, read_timeout=45.0)
    assert client.ping() == "Build Number: 20260707.30"
    request = mocked.calls[0].request
    assert request.headers["x-api-key"] == KEY
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("smartmoving-operator-dashboard/")
    assert "x-client-id" not in request.headers
    assert request.req_kwargs["timeout"] == (3.0, 45.0)


def test_client_id_header_sent_when_set(mocked, make_client):
    mocked.get(BASE + "/api/ping", json="Build Number: 1")
    assert make_client(client_id="cid-42").ping() == "Build Number: 1"
    assert mocked.calls[0].request.headers["x-client-id"] == "cid-42"


# --- paging --------------------------------------------------------------------------------------


def test_pages_until_last_page(mocked, make_client):
    mocked.get(BRANCHES, json=envelope([{"id": 1}, {"id": 2}], 1, False, 2), match=[page_matcher(1)])
    mocked.get(BRANCHES, json=envelope([{"id": 3}], 2, True, 2), match=[page_matcher(2)])
    assert make_client().branches() == [{"id": 1}, {"id": 2}, {"id": 3}]
    assert len(mocked.calls) == 2


def test_page_size_capped_at_200(mocked, make_client):
    mocked.get(BASE + "/api/users", json=envelope([], 1, True), match=[page_matcher(1, 200)])
    pages = list(make_client().iter_pages("/api/users", page_size=500))
    assert [(number, items) for number, items, _ in pages] == [(1, [])]
    assert pages[0][2]["lastPage"] is True


def test_bare_list_is_a_single_last_page(mocked, make_client):
    mocked.get(BASE + "/api/customers/7/opportunities", json=[{"id": "a"}, {"id": "b"}])
    pages = list(make_client().iter_pages("/api/customers/7/opportunities"))
    assert pages == [(1, [{"id": "a"}, {"id": "b"}], {})]
    assert len(mocked.calls) == 1


def test_missing_last_page_stops_at_total_pages(mocked, make_client):
    full = [{"id": i} for i in range(200)]
    mocked.get(BRANCHES, json={"totalPages": 2, "pageResults": full}, match=[page_matcher(1)])
    mocked.get(BRANCHES, json={"totalPages": 2, "pageResults": full}, match=[page_matcher(2)])
    assert len(make_client().branches()) == 400
    assert len(mocked.calls) == 2


def test_missing_last_page_stops_on_short_page(mocked, make_client):
    mocked.get(BRANCHES, json={"pageResults": [{"id": i} for i in range(200)]}, match=[page_matcher(1)])
    mocked.get(BRANCHES, json={"pageResults": [{"id": "last"}]}, match=[page_matcher(2)])
    assert len(make_client().branches()) == 201
    assert len(mocked.calls) == 2


def test_page_without_page_results_is_malformed(mocked, make_client):
    mocked.get(BRANCHES, json={"lastPage": True, "results": []})
    with pytest.raises(MalformedResponse, match="pageResults"):
        make_client().branches()


def test_never_ending_paging_stops_past_total_pages(mocked, make_client):
    mocked.get(BRANCHES, json=envelope([{"id": 1}], 1, False, total_pages=1))
    with pytest.raises(MalformedResponse, match="totalPages"):
        make_client(call_budget=10).branches()
    # Pages 1..3 (totalPages + 2) are fetched, page 4 never is.
    assert len(mocked.calls) == 3


def test_never_ending_paging_stops_at_max_pages(mocked, make_client):
    mocked.get(BRANCHES, json={"lastPage": False, "pageResults": [{"id": 1}]})
    with pytest.raises(MalformedResponse, match="5 pages"):
        list(make_client(call_budget=10).iter_pages("/api/branches", max_pages=5))
    assert len(mocked.calls) == 5


def test_customers_sweep_sends_yyyymmdd_integers(mocked, make_client):
    params = {"FromServiceDate": "20240831", "ToServiceDate": "20240902", "IncludeOpportunityInfo": "true"}
    mocked.get(BASE + "/api/customers", json=envelope([{"id": "c1"}], 1, True), match=[page_matcher(1, **params)])
    pages = list(make_client().customers_sweep(date(2024, 8, 31), date(2024, 9, 2)))
    assert [items for _, items, _ in pages] == [[{"id": "c1"}]]


def test_opportunity_sends_flags_and_requires_an_object(mocked, make_client):
    flags = {"IncludeJobAddresses": "true", "IncludeTripInfo": "true", "IncludeCharges": "true",
             "IncludeDispatchInfo": "true"}
    mocked.get(BASE + "/api/opportunities/opp-1", json={"id": "opp-1"}, match=[matchers.query_param_matcher(flags)])
    mocked.get(BASE + "/api/opportunities/opp-2", json=[{"id": "opp-2"}])
    client = make_client()
    assert client.opportunity("opp-1") == {"id": "opp-1"}
    with pytest.raises(MalformedResponse):
        client.opportunity("opp-2")


# --- 429 -------------------------------------------------------------------------------------------


def test_429_honours_retry_after_header(mocked, make_client, fake_time):
    mocked.get(BRANCHES, status=429, headers={"Retry-After": "7"}, json={"statusCode": 429, "message": "slow"})
    mocked.get(BRANCHES, json=envelope([{"id": 1}], 1, True))
    client = make_client(min_interval=0)
    assert client.branches() == [{"id": 1}]
    assert fake_time.sleeps == [7.0]
    assert (client.calls_made, client.rate_limited) == (2, 1)


def test_429_reads_wait_from_body(mocked, make_client, fake_time):
    body = {"statusCode": 429, "message": "Rate limit is exceeded. Try again in 33 seconds."}
    mocked.get(BRANCHES, status=429, json=body)
    mocked.get(BRANCHES, json=envelope([], 1, True))
    client = make_client(min_interval=0, random=lambda: 0.5)
    client.branches()
    assert fake_time.sleeps == [pytest.approx(33.5)]
    assert client.rate_limited == 1


def test_429_wait_is_capped(mocked, make_client, fake_time):
    mocked.get(BRANCHES, status=429, body="Rate limit is exceeded. Try again in 3600 seconds.")
    mocked.get(BRANCHES, json=envelope([], 1, True))
    make_client(min_interval=0, max_retry_wait=60.0).branches()
    assert fake_time.sleeps == [60.0]


def test_429_exhausted_after_max_retries(mocked, make_client, fake_time):
    mocked.get(BRANCHES, status=429, body="Rate limit is exceeded.")
    client = make_client(min_interval=0, max_retries=3)
    with pytest.raises(RateLimitExhausted) as caught:
        client.branches()
    assert caught.value.status == 429
    # Three waits of the default length, then a fourth 429 ends it.
    assert fake_time.sleeps == [10.0, 10.0, 10.0]
    assert (client.calls_made, client.rate_limited) == (4, 4)


# --- 5xx and transport ---------------------------------------------------------------------------------


def test_503_then_200_is_retried(mocked, make_client, fake_time):
    mocked.get(BRANCHES, status=503)
    mocked.get(BRANCHES, json=envelope([{"id": 1}], 1, True))
    client = make_client(min_interval=0)
    assert client.branches() == [{"id": 1}]
    assert fake_time.sleeps == [1.0]
    assert client.calls_made == 2


def test_500_every_time_raises_server_error_with_backoff(mocked, make_client, fake_time):
    mocked.get(BRANCHES, status=500, json={"message": "boom"})
    client = make_client(min_interval=0, max_retries=4, max_retry_wait=5.0)
    with pytest.raises(ServerError) as caught:
        client.branches()
    assert caught.value.status == 500
    assert fake_time.sleeps == [1.0, 2.0, 4.0, 5.0]
    assert client.calls_made == 5


def test_timeouts_are_retried_then_transport_error(mocked, make_client, fake_time):
    mocked.get(BRANCHES, body=requests.exceptions.ReadTimeout("read timed out"))
    client = make_client(min_interval=0, max_retries=2)
    with pytest.raises(TransportError, match="ReadTimeout"):
        client.branches()
    assert fake_time.sleeps == [1.0, 2.0]
    assert client.calls_made == 3


def test_timeout_then_success(mocked, make_client):
    mocked.get(BRANCHES, body=requests.exceptions.ConnectionError("reset"))
    mocked.get(BRANCHES, json=envelope([{"id": 9}], 1, True))
    assert make_client(min_interval=0).branches() == [{"id": 9}]


# --- fatal answers ---------------------------------------------------------------------------------


def test_404_is_not_found_without_retry(mocked, make_client, fake_time):
    mocked.get(BASE + "/api/opportunities/nope", status=404, json={"message": "Opportunity not found"})
    client = make_client(min_interval=0)
    with pytest.raises(NotFound) as caught:
        client.opportunity("nope")
    assert caught.value.status == 404
    assert "/api/opportunities/nope" in str(caught.value)
    assert client.calls_made == 1
    assert fake_time.sleeps == []


def test_401_is_auth_error_without_the_key(mocked, make_client):
    message = f"Access denied due to invalid subscription key {KEY}."
    mocked.get(BRANCHES, status=401, json={"statusCode": 401, "message": message})
    client = make_client()
    with pytest.raises(AuthError) as caught:
        client.branches()
    text = str(caught.value)
    assert text.startswith("SmartMoving rejected the API key (401) on /api/branches")
    assert KEY not in text
    assert client.calls_made == 1


def test_403_is_auth_error(mocked, make_client):
    mocked.get(BASE + "/api/premium/inventory", status=403, json={"message": "Premium only"})
    with pytest.raises(AuthError, match=r"\(403\)"):
        make_client().get_json("/api/premium/inventory")


def test_400_is_client_error_with_smartmoving_message(mocked, make_client):
    mocked.get(BASE + "/api/leads", status=400, json={"message": "From must be a date", "errors": {"From": ["bad"]}})
    client = make_client()
    with pytest.raises(ClientError) as caught:
        client.get_json("/api/leads", {"From": "x"})
    assert "From must be a date" in str(caught.value)
    assert "From: bad" in str(caught.value)
    assert caught.value.status == 400
    assert client.calls_made == 1


def test_malformed_json_on_200(mocked, make_client):
    mocked.get(BRANCHES, body="<html>gateway says hi</html>", content_type="text/html")
    client = make_client()
    with pytest.raises(MalformedResponse, match="not JSON"):
        client.get_json("/api/branches")
    assert client.calls_made == 1


def test_every_error_is_a_smartmoving_error():
    for cls in (AuthError, NotFound, RateLimitExhausted, ServerError, TransportError, MalformedResponse,
                BudgetExhausted, DeadlineExceeded, ClientError):
        assert issubclass(cls, SmartMovingError)
    assert str(SmartMovingError("Boom", path="/api/x")) == "Boom (on /api/x)"


# --- budget and deadline -------------------------------------------------------------------------------


def test_budget_is_checked_before_the_call(mocked, make_client):
    mocked.get(BASE + "/api/ping", body="ok")
    client = make_client(call_budget=2)
    client.ping()
    client.ping()
    with pytest.raises(BudgetExhausted):
        client.ping()
    assert len(mocked.calls) == 2
    assert client.calls_made == 2


def test_budget_counts_retries(mocked, make_client, fake_time):
    mocked.get(BRANCHES, status=503)
    client = make_client(call_budget=2, min_interval=0)
    with pytest.raises(BudgetExhausted):
        client.branches()
    assert len(mocked.calls) == 2
    # It gives up without waiting for a retry it could not make.
    assert fake_time.sleeps == [1.0]


def test_deadline_passed_means_no_call(mocked, make_client, fake_time):
    client = make_client(deadline=fake_time.now - 1)
    with pytest.raises(DeadlineExceeded):
        client.ping()
    assert client.calls_made == 0


def test_deadline_stops_a_wait_that_would_cross_it(mocked, make_client, fake_time):
    mocked.get(BRANCHES, status=429, headers={"Retry-After": "30"})
    client = make_client(deadline=fake_time.now + 20, min_interval=0)
    with pytest.raises(DeadlineExceeded, match="deadline"):
        client.branches()
    assert fake_time.sleeps == []
    assert client.calls_made == 1


# --- on_call and pacing ---------------------------------------------------------------------------------


def test_on_call_gets_one_clean_record_per_attempt(mocked, make_client):
    records = []
    mocked.get(BASE + "/api/customers", status=503)
    mocked.get(BASE + "/api/customers", body=requests.exceptions.ReadTimeout(f"{BASE}/api/customers?Page=1"))
    mocked.get(BASE + "/api/customers", json=envelope([], 1, True))
    client = make_client(on_call=records.append, min_interval=0)
    list(client.customers_sweep(date(2024, 1, 1), date(2024, 1, 2)))
    assert [(r["status_code"], r["error"]) for r in records] == [(503, "HTTP 503"), (None, "ReadTimeout"),
                                                                 (200, None)]
    for record in records:
        assert set(record) == {"method", "path", "status_code", "duration_ms", "error"}
        assert record["method"] == "GET"
        assert record["path"] == "/api/customers"
        assert isinstance(record["duration_ms"], int)
        assert KEY not in repr(record) and "?" not in repr(record) and "2024" not in repr(record)
    assert client.calls_made == 3


def test_query_string_in_a_path_is_dropped_and_never_reported(mocked, make_client):
    records = []
    mocked.get(BASE + "/api/ping", json="pong", match=[matchers.query_string_matcher("")])
    client = make_client(on_call=records.append)
    assert client.get_json("/api/ping?api-key=" + KEY) == "pong"
    assert records[0]["path"] == "/api/ping"


def test_pacing_sleeps_when_the_clock_does_not_advance(mocked, make_client):
    still = FakeTime(advance=False)
    mocked.get(BASE + "/api/ping", body="ok")
    client = make_client(sleep=still.sleep, clock=still.clock, min_interval=0.5)
    for _ in range(3):
        client.ping()
    assert still.sleeps == [0.5, 0.5]


def test_pacing_skips_the_sleep_when_enough_time_passed(mocked, make_client, fake_time):
    mocked.get(BASE + "/api/ping", body="ok")
    client = make_client(min_interval=0.5)
    client.ping()
    fake_time.now += 0.2
    client.ping()
    fake_time.now += 5
    client.ping()
    assert fake_time.sleeps == [pytest.approx(0.3)]


def test_proxy_settings_are_read_once_when_the_client_is_made(monkeypatch):
    """requests would re-read (and scan) the proxy variables on every call; the client reads them once."""
    from dashboard.smartmoving.client import _session_for

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    session = _session_for("https://api-public.smartmoving.com")
    assert session.proxies.get("https") == "http://proxy.example:3128" and session.trust_env is False
    monkeypatch.setenv("HTTPS_PROXY", "http://other.example:8080")
    assert session.proxies.get("https") == "http://proxy.example:3128"
    monkeypatch.setenv("NO_PROXY", "smartmoving.com")
    assert "https" not in _session_for("https://api-public.smartmoving.com").proxies
