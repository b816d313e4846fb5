"""HTTP client for the SmartMoving public API: paced, retrying, budgeted, and careful with the key.

Retries live here rather than in a urllib3 `Retry` so that every attempt is counted, reported
through `on_call` and checked against the call budget and the run deadline: 429s and failed
attempts count against the monthly quota too. A 200 whose body is not JSON is not retried
(MalformedResponse at once): it is rarely transient and a retry would spend quota.
"""
import io
import json
import os
import random as _random
import re
import time
from datetime import UTC
from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import requests
import urllib3

from .errors import AuthError
from .errors import BudgetExhausted
from .errors import ClientError
from .errors import DeadlineExceeded
from .errors import MalformedResponse
from .errors import NotFound
from .errors import RateLimitExhausted
from .errors import ServerError
from .errors import TransportError

USER_AGENT = "smartmoving-operator-dashboard/1.0"
MAX_PAGE_SIZE = 200
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
TRANSPORT_ERRORS = (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)
BODY_CHUNK = 64 * 1024
DEFAULT_RATE_LIMIT_WAIT = 10.0
BACKOFF_BASE = 1.0
OPPORTUNITY_FLAGS = {
    "IncludeJobAddresses": "true",
    "IncludeTripInfo": "true",
    "IncludeCharges": "true",
    "IncludeDispatchInfo": "true",
}
# APIM's 429 body: "Rate limit is exceeded. Try again in 33 seconds."
_TRY_AGAIN = re.compile(r"try\s+again\s+in\s+(\d+(?:\.\d+)?)", re.IGNORECASE)


class CallTimeout(requests.Timeout):
    """One HTTP attempt (connect, headers and the whole body) took longer than its total deadline."""


class SmartMovingClient:
    """A read-only SmartMoving API client; one instance per sync run (it owns the run's budget)."""

    def __init__(self, base_url, api_key, client_id=None, *, connect_timeout=5.0, read_timeout=30.0,
                 call_timeout=60.0, min_interval=0.5, call_budget=None, max_retries=4, max_retry_wait=120.0,
                 deadline=None, on_call=None, sleep=time.sleep, clock=time.monotonic, session=None,
                 random=_random.random):
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._client_id = client_id
        self.timeout = (connect_timeout, read_timeout)
        # requests' read timeout bounds each socket read, not the body: a server that
        # trickles a byte a second would hold a call for ever. This bounds the whole.
        self.call_timeout = call_timeout
        self.min_interval = min_interval
        self.call_budget = call_budget
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.deadline = deadline
        self.on_call = on_call
        self._sleep = sleep
        self._clock = clock
        self._random = random
        self._owns_session = session is None
        self.session = session if session is not None else _session_for(self.base_url)
        self.calls_made = 0
        self.rate_limited = 0
        self._last_attempt_at = None

    def __repr__(self):
        return f"<SmartMovingClient {self.base_url} calls_made={self.calls_made}>"

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        """Close the HTTP session, unless the caller passed in its own."""
        if self._owns_session:
            self.session.close()

    # --- endpoints -------------------------------------------------------------------------

    def ping(self):
        """GET /api/ping and return its text (a build string), whether or not it is JSON-encoded."""
        text = self._request("/api/ping").text.strip()
        try:
            decoded = json.loads(text)
        except ValueError:
            return text
        return decoded if isinstance(decoded, str) else text

    def branches(self):
        """Every branch, across all pages."""
        return self._collect("/api/branches")

    def crew_members(self):
        """Every crew member, across all pages."""
        return self._collect("/api/crew-members")

    def customers_sweep(self, from_day, to_day):
        """Pages of customers (with opportunities and jobs) whose jobs fall between the two service dates."""
        if from_day > to_day:
            raise ValueError(f"from_day {from_day} is after to_day {to_day}")
        params = {
            "FromServiceDate": yyyymmdd(from_day),
            "ToServiceDate": yyyymmdd(to_day),
            "IncludeOpportunityInfo": "true",
        }
        return self.iter_pages("/api/customers", params)

    def opportunity(self, opportunity_id):
        """One opportunity with its jobs' addresses, trip info, charges and dispatch info."""
        path = f"/api/opportunities/{quote(str(opportunity_id), safe='')}"
        body = self.get_json(path, OPPORTUNITY_FLAGS)
        if not isinstance(body, dict):
            raise MalformedResponse(f"SmartMoving sent a {type(body).__name__}, not an object, for {path}",
                                    status=200, path=path)
        return body

    # --- generic reads ---------------------------------------------------------------------

    def get_json(self, path, params=None):
        """GET path and return the decoded JSON body."""
        path = _clean_path(path)
        response = self._request(path, params)
        try:
            return response.json()
        except ValueError:
            raise MalformedResponse(f"SmartMoving sent a body that is not JSON for {path}",
                                    status=response.status_code, path=path) from None

    def iter_pages(self, path, params=None, page_size=200, max_pages=500):
        """Yield (page_number, items, envelope) for Page=1.. until SmartMoving says it was the last page."""
        path = _clean_path(path)
        size = min(page_size, MAX_PAGE_SIZE)
        page = 1
        while True:
            body = self.get_json(path, {**(params or {}), "Page": page, "PageSize": size})
            if isinstance(body, list):
                # Some endpoints are documented as returning a bare array: treat it as the only page.
                yield page, body, {}
                return
            items = _page_items(body, path)
            yield page, items, body
            if _is_last_page(body, page, len(items), size):
                return
            page += 1
            _guard_page_count(body, page, max_pages, path)

    def _collect(self, path):
        """All items of every page of path, as one list."""
        return [item for _, items, _ in self.iter_pages(path) for item in items]

    # --- one logical call: pacing, retries, limits -----------------------------------------

    def _request(self, path, params=None):
        """GET path until it succeeds or fails for good; return the 2xx Response."""
        path = _clean_path(path)
        retries = 0
        while True:
            self._before_attempt(path)
            response, error = self._attempt(path, params)
            failure, wait = self._judge(path, response, error, retries)
            if failure is None:
                return response
            if wait is None or retries >= self.max_retries:
                raise failure
            self._wait(wait, path)
            retries += 1

    def _before_attempt(self, path):
        """Enforce the budget, the deadline and the pacing before an HTTP attempt."""
        if self.call_budget is not None and self.calls_made >= self.call_budget:
            raise BudgetExhausted(f"The budget of {self.call_budget} SmartMoving calls for this run is spent "
                                  f"(next call was {path})", path=path)
        self._check_deadline(0.0, path)
        if self._last_attempt_at is not None:
            gap = self.min_interval - (self._clock() - self._last_attempt_at)
            if gap > 0:
                self._check_deadline(gap, path)
                self._sleep(gap)

    def _attempt(self, path, params):
        """Make one HTTP attempt and report it; return (response, None) or (None, transport exception)."""
        self.calls_made += 1
        started = self._last_attempt_at = self._clock()
        response = error = None
        try:
            # No redirects: requests would forward the custom x-api-key header to any host it is sent to.
            response = self.session.get(self.base_url + path, params=params, headers=self._headers(),
                                        timeout=self._attempt_timeout(), allow_redirects=False, stream=True)
            self._read_body(response, started + self.call_timeout if self.call_timeout else None)
        except TRANSPORT_ERRORS as exc:
            response, error = None, exc
        self._report(path, response, error, started)
        return response, error

    def _attempt_timeout(self):
        """(connect, read) for requests: the read timeout never exceeds the call's total deadline."""
        connect, read = self.timeout
        if self.call_timeout:
            read = min(read, self.call_timeout) if read else self.call_timeout
        return connect, read

    def _read_body(self, response, deadline):
        """Read the whole body into response.content, raising CallTimeout once the deadline passes.

        read1 returns whatever one socket read brings, so the clock is checked between
        reads however slowly the bytes come.
        """
        chunks = []
        try:
            while True:
                if deadline is not None and self._clock() > deadline:
                    raise CallTimeout(f"the answer took longer than {self.call_timeout:g} s in all")
                try:
                    chunk = response.raw.read1(BODY_CHUNK, decode_content=True)
                except urllib3.exceptions.ReadTimeoutError as exc:  # as requests' own body reading maps them
                    raise requests.exceptions.ReadTimeout(str(exc)) from None
                except urllib3.exceptions.HTTPError as exc:
                    raise requests.exceptions.ChunkedEncodingError(str(exc)) from None
                if not chunk:
                    break
                chunks.append(chunk)
        except BaseException:
            response.close()  # a half-read connection cannot be reused
            raise
        response.raw.release_conn()
        # requests reads response.content (and .json(), .text) from raw: now the body, read and decoded.
        response.raw = io.BytesIO(b"".join(chunks))

    def _headers(self):
        """Headers for every request; x-client-id only when one is configured."""
        headers = {"x-api-key": self._api_key, "Accept": "application/json", "User-Agent": USER_AGENT}
        if self._client_id:
            headers["x-client-id"] = self._client_id
        return headers

    def _report(self, path, response, error, started):
        """Tell on_call about one attempt, with nothing secret in it (no key, no query string)."""
        if self.on_call is None:
            return
        status = response.status_code if response is not None else None
        if error is not None:
            # The exception text can hold the full URL with its query string, so only its type goes out.
            summary = type(error).__name__
        elif status is not None and not 200 <= status < 300:
            summary = f"HTTP {status}"
        else:
            summary = None
        self.on_call({
            "method": "GET",
            "path": path,
            "status_code": status,
            "duration_ms": int(round((self._clock() - started) * 1000)),
            "error": summary,
        })

    def _judge(self, path, response, error, retries):
        """Classify an attempt: (None, None) on success, else (exception, seconds to wait or None if fatal)."""
        attempts = retries + 1
        if error is not None:
            failure = TransportError(f"Could not reach SmartMoving ({type(error).__name__}) on {path} "
                                     f"after {attempts} attempt(s)", path=path)
            return failure, self._backoff(retries)
        status = response.status_code
        if 200 <= status < 300:
            return None, None
        if status == 429:
            self.rate_limited += 1
            failure = RateLimitExhausted(f"SmartMoving is still rate-limiting (429) on {path} after "
                                         f"{attempts} attempt(s)", status=status, path=path)
            return failure, self._rate_limit_wait(response)
        detail = self._server_message(response)
        suffix = f": {detail}" if detail else ""
        if status in RETRYABLE_STATUSES:
            failure = ServerError(f"SmartMoving server error ({status}) on {path} after {attempts} attempt(s)"
                                  f"{suffix}", status=status, path=path)
            return failure, self._backoff(retries)
        if status == 404:
            return NotFound(f"SmartMoving found nothing (404) at {path}{suffix}", path=path,
                            from_application=_is_application_error(response)), None
        return _fatal_error(status, path, suffix), None

    # --- waiting ---------------------------------------------------------------------------

    def _rate_limit_wait(self, response):
        """Seconds to wait after a 429: Retry-After, else the body's "try again in N", else a default."""
        base = _retry_after_seconds(response.headers.get("Retry-After"))
        if base is None:
            base = _try_again_seconds(response.text)
        if base is None:
            base = DEFAULT_RATE_LIMIT_WAIT
        return min(base + self._random(), self.max_retry_wait)

    def _backoff(self, retries):
        """Exponential backoff with up to a second of jitter, capped."""
        return min(BACKOFF_BASE * 2 ** retries + self._random(), self.max_retry_wait)

    def _wait(self, seconds, path):
        """Sleep before a retry, unless the budget is spent or the wait would cross the deadline."""
        if self.call_budget is not None and self.calls_made >= self.call_budget:
            # No point waiting for a retry the budget will not allow.
            raise BudgetExhausted(f"The budget of {self.call_budget} SmartMoving calls for this run is spent "
                                  f"(while retrying {path})", path=path)
        self._check_deadline(seconds, path)
        self._sleep(seconds)

    def _check_deadline(self, wait, path):
        """Raise DeadlineExceeded if the deadline has passed or would pass during a wait of `wait` seconds."""
        if self.deadline is None:
            return
        now = self._clock()
        if now >= self.deadline:
            raise DeadlineExceeded(f"The sync run deadline passed before calling {path}", path=path)
        if now + wait > self.deadline:
            raise DeadlineExceeded(f"Waiting {wait:.1f} s to call {path} would pass the sync run deadline",
                                   path=path)

    def _server_message(self, response):
        """SmartMoving's own explanation from an error body, short and with the key scrubbed."""
        message = _body_message(response)
        if message and self._api_key:
            message = message.replace(self._api_key, "[redacted]")
        return message


# --- module helpers ----------------------------------------------------------------------------


def _session_for(base_url):
    """A requests session with the environment's proxy and CA settings read once, here.

    With trust_env on, requests re-reads the proxy variables (and scans no_proxy) on
    every call: 13 % of a sync's CPU. They cannot change under a running process.
    """
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False
    return session


def yyyymmdd(day):
    """A date as SmartMoving's integer filter value, e.g. 20240831."""
    return day.year * 10000 + day.month * 100 + day.day


def _clean_path(path):
    """The path alone, with a leading slash and without any query string (which could hold secrets)."""
    path = str(path).split("?", 1)[0]
    return path if path.startswith("/") else "/" + path


def _fatal_error(status, path, suffix):
    """The exception for a non-retryable, non-2xx status."""
    if status in (401, 403):
        return AuthError(f"SmartMoving rejected the API key ({status}) on {path}{suffix}", status=status, path=path)
    if status >= 500:
        return ServerError(f"SmartMoving server error ({status}) on {path}{suffix}", status=status, path=path)
    return ClientError(f"SmartMoving refused the request ({status}) on {path}{suffix}", status=status, path=path)


def _is_application_error(response):
    """True for the application's error shape {"message": ...}; False for APIM's {"statusCode", "message"} or junk."""
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("message"), str) and "statusCode" not in body


def _body_message(response, limit=300):
    """The "message" (plus any "errors" detail) of a JSON error body, or a short plain-text body."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        # HTML error pages from a proxy are noise, not an explanation.
        return text[:limit] if text and not text.startswith("<") else None
    if not isinstance(body, dict):
        return None
    parts = [str(body["message"])] if body.get("message") else []
    if isinstance(body.get("errors"), dict):
        parts += [f"{field}: {', '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
                  for field, msgs in body["errors"].items()]
    return "; ".join(parts)[:limit] or None


def _retry_after_seconds(value):
    """A Retry-After header (seconds or an HTTP date) as seconds from now, or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _try_again_seconds(text):
    """The N of "Try again in N seconds" in a 429 body, or None."""
    match = _TRY_AGAIN.search(text or "")
    return float(match.group(1)) if match else None


def _page_items(body, path):
    """The pageResults list of a paging envelope, or MalformedResponse."""
    items = body.get("pageResults") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise MalformedResponse(f"SmartMoving sent a page without a pageResults list for {path}",
                                status=200, path=path)
    return items


def _is_last_page(envelope, page, count, requested_size):
    """Whether this page ends the listing: lastPage when present, else totalPages or a short page."""
    if "lastPage" in envelope:
        last = envelope["lastPage"]
        return last is True or str(last).lower() == "true"
    total = envelope.get("totalPages")
    if isinstance(total, int) and page >= total:
        return True
    size = envelope.get("pageSize")
    size = size if isinstance(size, int) and size > 0 else requested_size
    return count < size


def _guard_page_count(envelope, next_page, max_pages, path):
    """Stop a listing that never ends: past totalPages+2, or past max_pages."""
    total = envelope.get("totalPages")
    if isinstance(total, int) and next_page > total + 2:
        raise MalformedResponse(f"SmartMoving kept paging past totalPages={total} on {path}", status=200, path=path)
    if next_page > max_pages:
        raise MalformedResponse(f"SmartMoving paging on {path} went past {max_pages} pages", status=200, path=path)
