"""The SmartMoving sandbox over real HTTP: the public API's paths, envelopes and errors, with fault switches.

A small Flask app of its own (never the dashboard's), served by werkzeug in a
daemon thread. It answers like Azure API Management in front of SmartMoving:
`x-api-key` or `?api-key=`, the APIM 401/404/429 bodies, PageSize capped at 200,
and the sweep-versus-detail type drift that the world already produces.
"""
import json
import math
import threading
import time
from collections import deque
from datetime import date

from flask import Flask
from flask import Response
from flask import jsonify
from flask import request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server

from dashboard.sandbox.webhooks import WebhookSender
from dashboard.sandbox.world import DEMO_DAYS_BEFORE
from dashboard.sandbox.world import SandboxWorld
from dashboard.sandbox.world import as_date

BUILD_NUMBER = "Build Number: 20260707.30"
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 25
UNAUTHORIZED_MESSAGE = ("Access denied due to missing subscription key. Make sure to include subscription key "
                        "when making requests to an API.")
PATH_KINDS = ("branches", "crew", "customers", "opportunity", "ping", "other")
# Fault switches that take a count (a bare n, or a mapping of the method's keywords such as {"n": 2, "status": 503}).
COUNTED_SWITCHES = ("fail_next", "rate_limit_next", "malformed_next", "truncate_next", "timeout_next",
                    "trickle_next")


def path_kind(path):
    """The stats bucket of an API path: branches, crew, customers, opportunity, ping or other."""
    if path.startswith("/v1"):
        path = path[3:]
    if path.startswith("/api/branches"):
        return "branches"
    if path.startswith("/api/crew-members"):
        return "crew"
    if path.startswith("/api/customers"):
        return "customers"
    if path.startswith("/api/opportunities/"):
        return "opportunity"
    if path.startswith("/api/ping"):
        return "ping"
    return "other"


class SandboxStats:
    """Thread-safe call counters: total, by path kind, by status, and 429s."""

    def __init__(self):
        """Start at zero."""
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        """Zero every counter."""
        with self._lock:
            self.total = 0
            self.by_kind = dict.fromkeys(PATH_KINDS, 0)
            self.by_status = {}
            self.rate_limited = 0

    def record_call(self, kind):
        """Count one API call of kind."""
        with self._lock:
            self.total += 1
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1

    def record_status(self, status):
        """Count one answer with status."""
        with self._lock:
            self.by_status[status] = self.by_status.get(status, 0) + 1
            if status == 429:
                self.rate_limited += 1

    def snapshot(self):
        """A plain dict copy of the counters (JSON-safe)."""
        with self._lock:
            return {"total": self.total, "by_kind": dict(self.by_kind), "rate_limited": self.rate_limited,
                    "by_status": {str(k): v for k, v in sorted(self.by_status.items())}}


class Faults:
    """Thread-safe fault switches; the plain attributes may also be assigned directly."""

    def __init__(self):
        """Every switch off."""
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.stats = SandboxStats()
        self.reset()

    def reset(self):
        """Turn every fault off (stats are kept; see reset_stats)."""
        with self._lock:
            self.rate_limit_per_minute = None
            self.retry_after_header = False
            self.latency = 0.0
            self.latency_by_path_prefix = {}
            self.fail_paths = set()
            self.gateway_404_paths = set()
            self._fail = deque()
            self._rate_limited = deque()
            self._malformed = 0
            self._junk = 0
            self._truncated = deque()
            self._timeouts = deque()
            self._trickle = deque()
            self._admitted = deque()

    def reset_stats(self):
        """Zero the call counters."""
        self.stats.reset()

    def fail_next(self, n, status=503):
        """The next n API calls answer status."""
        with self._lock:
            self._fail.extend([int(status)] * int(n))

    def rate_limit_next(self, n, seconds=1):
        """The next n API calls answer 429 "Try again in seconds seconds."."""
        with self._lock:
            self._rate_limited.extend([int(seconds)] * int(n))

    def malformed_next(self, n):
        """The next n JSON answers are 200 with a body that is not JSON."""
        with self._lock:
            self._malformed += int(n)

    def junk_next(self, n):
        """The next n JSON answers are 200 with valid JSON of the wrong shape: a bare array of junk."""
        with self._lock:
            self._junk += int(n)

    def truncate_next(self, n, mode="half"):
        """The next n JSON answers are 200 but cut: "half" the bytes, or "missing" pageResults (jobs on detail)."""
        if mode not in ("half", "missing"):
            raise ValueError("mode must be 'half' or 'missing'")
        with self._lock:
            self._truncated.extend([mode] * int(n))

    def timeout_next(self, n, seconds):
        """The next n API calls stall for seconds before answering (longer than the client's read timeout)."""
        with self._lock:
            self._timeouts.extend([float(seconds)] * int(n))

    def trickle_next(self, n, bytes_per_second=1.0):
        """The next n JSON answers send their body a byte at a time (each read is quick, the whole never ends)."""
        with self._lock:
            self._trickle.extend([float(bytes_per_second)] * int(n))

    def take_trickle(self):
        """Bytes per second for this answer's body, or None; consumes one-shot switches."""
        with self._lock:
            return self._trickle.popleft() if self._trickle else None

    def configure(self, settings):
        """Apply a JSON-style mapping of switches (the body of POST /_sandbox/faults)."""
        def args(value, key):
            """{"n": 2, "status": 503} stays as is; a bare 2 means {"n": 2}."""
            if isinstance(value, dict):
                return value
            return {key: value}

        for name, value in settings.items():
            if name == "rate_limit_per_minute":
                self.rate_limit_per_minute = None if value is None else int(value)
            elif name == "retry_after_header":
                self.retry_after_header = bool(value)
            elif name == "latency":
                self.latency = float(value or 0)
            elif name == "latency_by_path_prefix":
                self.latency_by_path_prefix = {str(k): float(v) for k, v in (value or {}).items()}
            elif name == "fail_paths":
                self.fail_paths = {value} if isinstance(value, str) else set(value or ())
            elif name == "gateway_404_paths":
                self.gateway_404_paths = {value} if isinstance(value, str) else set(value or ())
            elif name == "junk_next":
                self.junk_next(int(value))
            elif name in COUNTED_SWITCHES:
                getattr(self, name)(**args(value, "n"))
            else:
                raise ValueError(f"unknown fault switch {name!r}")

    def describe(self):
        """The current switches as a JSON-safe dict."""
        with self._lock:
            return {"rate_limit_per_minute": self.rate_limit_per_minute,
                    "retry_after_header": self.retry_after_header, "latency": self.latency,
                    "latency_by_path_prefix": dict(self.latency_by_path_prefix),
                    "fail_paths": sorted(self.fail_paths), "gateway_404_paths": sorted(self.gateway_404_paths),
                    "junk_next": self._junk, "fail_next": len(self._fail),
                    "rate_limit_next": len(self._rate_limited), "malformed_next": self._malformed,
                    "truncate_next": len(self._truncated), "timeout_next": len(self._timeouts),
                    "trickle_next": len(self._trickle)}

    def delay_for(self, api_path):
        """Seconds of latency to add before answering api_path (a path after /v1)."""
        delay = float(self.latency or 0)
        for prefix, seconds in dict(self.latency_by_path_prefix).items():
            prefix = prefix[3:] if prefix.startswith("/v1/") else prefix
            if api_path.startswith(prefix):
                delay += float(seconds)
        return delay

    def sleep(self, seconds):
        """Sleep, but wake at once when the server stops, so a stalled handler never outlives it."""
        if seconds > 0:
            self._stopping.wait(seconds)

    def take_request_fault(self, api_path, now=None):
        """The fault this call gets, as (status, extra) or None; consumes one-shot switches."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if any(part and part in api_path for part in self.fail_paths):
                return 500, None
            if any(part and part in api_path for part in self.gateway_404_paths):
                return 404, None
            if self._rate_limited:
                return 429, self._rate_limited.popleft()
            if self.rate_limit_per_minute is not None:
                while self._admitted and now - self._admitted[0] >= 60.0:
                    self._admitted.popleft()
                if len(self._admitted) >= self.rate_limit_per_minute:
                    oldest = self._admitted[0] if self._admitted else now
                    return 429, max(1, math.ceil(oldest + 60.0 - now))
                self._admitted.append(now)
            if self._fail:
                return self._fail.popleft(), None
            if self._timeouts:
                return "stall", self._timeouts.popleft()
        return None

    def take_body_fault(self):
        """"malformed", "half", "missing" or None for this 200 JSON answer; consumes one-shot switches."""
        with self._lock:
            if self._malformed:
                self._malformed -= 1
                return "malformed"
            if self._junk:
                self._junk -= 1
                return "junk"
            if self._truncated:
                return self._truncated.popleft()
        return None


def _error(status, message, gateway=True):
    """An error answer: APIM gateway shape {statusCode, message}, or the app's {message}."""
    body = {"statusCode": status, "message": message} if gateway else {"message": message}
    response = jsonify(body)
    response.status_code = status
    return response


def _arg(name):
    """A query parameter by case-insensitive name (ASP.NET binds them that way), or None."""
    lowered = name.lower()
    for key, value in request.args.items(multi=True):
        if key.lower() == lowered:
            return value
    return None


class QueryError(Exception):
    """A query parameter the API would refuse with 400."""


def _int_arg(name, default, minimum=1):
    """An int query parameter (case-insensitive name), default when absent; QueryError when not an int."""
    text = _arg(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise QueryError(f"The value '{text}' is not valid for {name}.") from None
    if value < minimum:
        raise QueryError(f"The field {name} must be between {minimum} and 2147483647.")
    return value


def _date_arg(name):
    """An int yyyyMMdd filter as a date; None when absent."""
    text = _arg(name)
    if text is None or text == "":
        return None
    try:
        if len(text) != 8 or not text.isdigit():
            raise ValueError
        return as_date(int(text))
    except ValueError:
        raise QueryError(f"The value '{text}' is not valid for {name}.") from None


def _flag(name):
    """A boolean query flag such as IncludeJobAddresses=true."""
    return (_arg(name) or "").strip().lower() == "true"


def _page_params():
    """(Page, PageSize) of the current request; PageSize is silently capped at 200 like the real API."""
    return _int_arg("Page", 1), min(_int_arg("PageSize", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)


def _envelope(page, size, total, items):
    """The paging envelope around one page of items."""
    total_pages = math.ceil(total / size)
    return jsonify({"pageNumber": page, "pageSize": size, "lastPage": page >= total_pages,
                    "totalPages": total_pages, "totalResults": total, "totalThisPage": len(items),
                    "pageResults": items})


def _paged(items):
    """The current request's page of a complete list, in its envelope."""
    page, size = _page_params()
    return _envelope(page, size, len(items), items[(page - 1) * size:page * size])


def _cut_body(response, mode):
    """Damage a 200 JSON body the way a flaky gateway might."""
    data = response.get_data()
    if mode == "malformed":
        response.set_data(b'{"pageNumber": 1, "pageResults": [{"id": "oops"},, <html>Bad Gateway</html>')
    elif mode == "junk":
        response.set_data(b'[1, "two", {"three": 3}, null, [4]]')
    elif mode == "half":
        response.set_data(data[:len(data) // 2])
    elif mode == "missing":
        body = json.loads(data)
        if isinstance(body, dict):
            body.pop("pageResults" if "pageResults" in body else "jobs", None)
        response.set_data(json.dumps(body))
    return response


def _trickled(response, bytes_per_second, faults):
    """The same answer, its body sent one byte at a time at bytes_per_second (stops when the server does)."""
    data = response.get_data()

    def body():
        for index in range(len(data)):
            yield data[index:index + 1]
            faults.sleep(1.0 / bytes_per_second)
            if faults._stopping.is_set():
                return

    trickled = Response(body(), status=response.status_code, mimetype=response.mimetype)
    trickled.headers["Content-Length"] = str(len(data))
    return trickled


def create_sandbox_app(world, api_key="demo-key", faults=None):
    """A Flask app serving world as SmartMoving's public API under /v1, plus /_sandbox control endpoints."""
    faults = faults if faults is not None else Faults()
    app = Flask(__name__)
    app.json.sort_keys = False
    # "worlds": more API keys, each routed to a world of its own (a second company's SmartMoving).
    app.extensions["sandbox"] = {"world": world, "faults": faults, "stats": faults.stats, "api_key": api_key,
                                 "worlds": {}}

    def supplied_key():
        """The key the request carries in x-api-key or ?api-key=, or None."""
        return request.headers.get("x-api-key") or request.args.get("api-key")

    def holder():
        """The objects this app serves (tests may reach them through app.extensions), with the world of the
        request's key: another key added by SandboxServer.add_world answers from its own world."""
        sandbox = app.extensions["sandbox"]
        other = sandbox["worlds"].get(supplied_key()) if sandbox["worlds"] else None
        return sandbox if other is None else {**sandbox, "world": other}

    def key_ok():
        """True when the request carries the right key (or a key of an added world)."""
        supplied = supplied_key()
        return supplied is not None and (supplied == api_key or supplied in app.extensions["sandbox"]["worlds"])

    @app.before_request
    def gate():
        """Authenticate, count, delay and inject faults, as the gateway in front of SmartMoving would."""
        is_api = request.path.startswith("/v1/")
        if is_api:
            faults.stats.record_call(path_kind(request.path))
        if request.url_rule is None:
            return None  # Unknown paths get APIM's 404 whatever the key, like the real gateway.
        if not is_api:
            return None if key_ok() else _error(401, UNAUTHORIZED_MESSAGE)
        api_path = request.path[3:]
        faults.sleep(faults.delay_for(api_path))
        if not key_ok():
            return _error(401, UNAUTHORIZED_MESSAGE)
        fault = faults.take_request_fault(api_path)
        if fault is None:
            return None
        status, extra = fault
        if status == "stall":
            faults.sleep(extra)
            return None
        if status == 429:
            response = _error(429, f"Rate limit is exceeded. Try again in {extra} seconds.")
            if faults.retry_after_header:
                response.headers["Retry-After"] = str(extra)
            return response
        if status == 500:
            return _error(500, "An error has occurred.", gateway=False)
        if status == 404:
            return _error(404, "Resource not found")   # APIM's own 404: it never reached the API
        return _error(status, "The service is temporarily unavailable.")

    @app.after_request
    def finish(response):
        """Count the status and apply body faults to successful JSON API answers."""
        if request.path.startswith("/v1/"):
            if response.status_code == 200 and response.mimetype == "application/json":
                mode = faults.take_body_fault()
                if mode:
                    _cut_body(response, mode)
                rate = faults.take_trickle()
                if rate:
                    response = _trickled(response, rate, faults)
            faults.stats.record_status(response.status_code)
        return response

    @app.errorhandler(HTTPException)
    def http_error(error):
        """APIM answers an unknown path or method with its own 404."""
        if error.code in (404, 405):
            return _error(404, "Resource not found")
        return _error(error.code, error.description)

    @app.errorhandler(QueryError)
    def bad_request(error):
        """The API's own 400 shape for a query it cannot bind."""
        return _error(400, str(error), gateway=False)

    @app.get("/v1/api/ping")
    def ping():
        """The health check: a plain-text build string."""
        return Response(BUILD_NUMBER, mimetype="text/plain")

    @app.get("/v1/api/branches")
    def branches():
        """Every branch, paged."""
        return _paged(holder()["world"].branches())

    @app.get("/v1/api/crew-members")
    def crew_members():
        """Crew members, paged, optionally filtered by Status and BranchId."""
        members = holder()["world"].crew_members()
        status = _arg("Status")
        branch_id = _arg("BranchId")
        if status:
            members = [m for m in members if m["status"].lower() == status.lower()]
        if branch_id:
            members = [m for m in members if m["branch"]["id"] == branch_id]
        return _paged(members)

    @app.get("/v1/api/users")
    def users():
        """Office users, paged."""
        return _paged(holder()["world"].users())

    @app.get("/v1/api/service-types")
    def service_types():
        """Service types (job `type` names), paged."""
        return _paged(holder()["world"].service_types())

    @app.get("/v1/api/arrival-windows")
    def arrival_windows():
        """Arrival-window settings, paged."""
        return _paged(holder()["world"].arrival_windows())

    @app.get("/v1/api/customers")
    def customers():
        """The sweep: customers with a job in [FromServiceDate, ToServiceDate], paged by customer id."""
        from_day = _date_arg("FromServiceDate")
        to_day = _date_arg("ToServiceDate")
        page, size = _page_params()
        total, items = holder()["world"].customers_page(from_day, to_day, page, size,
                                                        include_opportunities=_flag("IncludeOpportunityInfo"))
        return _envelope(page, size, total, items)

    @app.get("/v1/api/opportunities/<opportunity_id>")
    def opportunity(opportunity_id):
        """Opportunity detail; jobAddresses only with IncludeJobAddresses=true, as documented."""
        detail = holder()["world"].opportunity_detail(
            opportunity_id, include_job_addresses=_flag("IncludeJobAddresses"))
        if detail is None:
            return _error(404, "Opportunity not found.", gateway=False)
        return jsonify(detail)

    @app.post("/_sandbox/faults")
    def set_faults():
        """Set fault switches from the JSON body; answers the switches now in force."""
        try:
            faults.configure(request.get_json(force=True, silent=True) or {})
        except (TypeError, ValueError) as error:
            return jsonify({"message": str(error)}), 400
        return jsonify(faults.describe())

    @app.get("/_sandbox/faults")
    def get_faults():
        """The fault switches now in force."""
        return jsonify(faults.describe())

    @app.post("/_sandbox/reset")
    def reset():
        """Clear faults and stats; with {"world": true} also rebuild the world from its seed."""
        body = request.get_json(force=True, silent=True) or {}
        faults.reset()
        faults.reset_stats()
        if body.get("world"):
            holder()["world"].regenerate()
        return jsonify({"ok": True, "version": holder()["world"].version})

    @app.get("/_sandbox/stats")
    def stats():
        """Call counters since the last reset."""
        return jsonify(faults.stats.snapshot())

    @app.post("/_sandbox/mutate")
    def mutate():
        """Apply one world mutation: {"action": name, ...its arguments}."""
        body = request.get_json(force=True, silent=True) or {}
        world = holder()["world"]
        actions = {
            "change_opportunity": lambda: world.change_opportunity(body["id"]),
            "change_detail_only": lambda: world.change_detail_only(body["id"]),
            "delete_opportunity": lambda: world.delete_opportunity(body["id"]),
            "delete_job": lambda: world.delete_job(body["id"]),
            "move_job": lambda: world.move_job(body["id"], body["date"]),
            "add_opportunity": lambda: world.add_opportunity(body["day"], int(body.get("branch_index", 0))),
            "rename_customer": lambda: world.rename_customer(body["id"], body["name"]),
            "set_opportunity_status": lambda: world.set_opportunity_status(body["id"], body["status"]),
        }
        action = actions.get(body.get("action"))
        if action is None:
            return jsonify({"message": f"unknown action {body.get('action')!r}; use one of {sorted(actions)}"}), 400
        try:
            result = action()
        except (KeyError, ValueError) as error:
            return jsonify({"message": f"cannot {body['action']}: {error}"}), 400
        return jsonify({"ok": True, "result": result, "version": world.version})

    @app.get("/_sandbox/truth")
    def truth():
        """expected_jobs for ?from=&to= (ISO dates; default: the world's today and tomorrow)."""
        world = holder()["world"]
        try:
            start = as_date(request.args.get("from") or world.today)
            end = as_date(request.args.get("to") or date.fromordinal(start.toordinal() + 1))
        except ValueError:
            return jsonify({"message": "from and to must be YYYY-MM-DD"}), 400
        jobs = world.expected_jobs(start, end)
        for row in jobs.values():
            row["scheduledDate"] = row["scheduledDate"].isoformat()
        return jsonify({"from": start.isoformat(), "to": end.isoformat(), "version": world.version, "jobs": jobs})

    return app


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without the per-request access log line."""

    def log_request(self, code="-", size="-"):
        """Say nothing: a sync makes hundreds of calls and the sandbox must not drown the app's log."""
        pass


class SandboxServer:
    """A running sandbox: werkzeug in a daemon thread, on a loopback port."""

    def __init__(self, world=None, host="127.0.0.1", port=0, api_key="demo-key", faults=None):
        """Bind the socket now (so .port is known); serving starts with start()."""
        self.world = world if world is not None else SandboxWorld()
        self.webhooks = None
        self.faults = faults if faults is not None else Faults()
        self.stats = self.faults.stats
        self.api_key = api_key
        self.app = create_sandbox_app(self.world, api_key=api_key, faults=self.faults)
        self._server = make_server(host, port, self.app, threaded=True, request_handler=_QuietHandler)
        self.host = host
        self.port = self._server.server_port
        self.base_url = f"http://{host}:{self.port}/v1"
        self._thread = None

    def start(self):
        """Serve in a daemon thread; returns self."""
        self.faults._stopping.clear()
        # A short poll interval makes stop() take ~50 ms instead of socketserver's default 0.5 s.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"sandbox-{self.port}", daemon=True)
        self._thread.start()
        return self

    def add_world(self, api_key, world):
        """Serve world to callers sending api_key (another company's SmartMoving on the same port); world."""
        self.app.extensions["sandbox"]["worlds"][api_key] = world
        return world

    def world_for(self, api_key):
        """The world api_key reaches, or None."""
        if api_key == self.api_key:
            return self.world
        return self.app.extensions["sandbox"]["worlds"].get(api_key)

    def send_webhooks_to(self, url, secret, header="X-Webhook-Secret"):
        """Announce every later world change to url by webhook (real HTTP, from a thread); the sender."""
        self.webhooks = WebhookSender(url, secret, header)
        self.world.notifier = self.webhooks
        return self.webhooks

    @property
    def running(self):
        """True while the serving thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def reset_stats(self):
        """Zero the call counters."""
        self.faults.reset_stats()

    def stop(self):
        """Stop serving, wake stalled handlers, and close the socket."""
        self.faults._stopping.set()
        if self.running:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self):
        """Use as `with start_sandbox() as server:`."""
        return self

    def __exit__(self, *exc):
        """Stop at the end of the with block."""
        self.stop()


def start_sandbox(world=None, host="127.0.0.1", port=0, api_key="demo-key", faults=None):
    """Start a sandbox server (port 0 picks a free port) and return it."""
    return SandboxServer(world=world, host=host, port=port, api_key=api_key, faults=faults).start()


def serve_forever(host="127.0.0.1", port=5001, timezone="America/Toronto", api_key="demo-key", webhook_url=None,
                  webhook_secret=None, webhook_header="X-Webhook-Secret"):
    """Serve a seed-42 world in the foreground until Ctrl-C (`flask --app dashboard sandbox`)."""
    world = SandboxWorld(seed=42, timezone=timezone, days_before=DEMO_DAYS_BEFORE)
    server = SandboxServer(world=world, host=host, port=port, api_key=api_key)
    if webhook_url:
        server.send_webhooks_to(webhook_url, webhook_secret or "", webhook_header)
        print(f"World changes are announced by webhook to {webhook_url}", flush=True)
    print(f"SmartMoving sandbox at {server.base_url}  (x-api-key: {api_key}; today is {world.today} in {timezone})",
          flush=True)
    print(f"Try: curl -H 'x-api-key: {api_key}' {server.base_url}/api/branches", flush=True)
    try:
        server._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._server.server_close()
