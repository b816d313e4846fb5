"""The sandbox's webhook sender: announces world changes to an app over real HTTP, as SmartMoving Premium does.

One daemon thread posts queued events in order (JSON, the shared secret in a custom
header, docs/smartmoving-api.md §7). A failed delivery is counted and dropped: the
receiver's regular sync reconciles, as it must with the real SmartMoving too.
"""
import json
import logging
import queue
import threading
import urllib.error
import urllib.request

log = logging.getLogger(__name__)


class WebhookSender:
    """Posts {"event-type": …, "<resource>-id": …} bodies to url with secret in header."""

    def __init__(self, url, secret, header="X-Webhook-Secret", timeout=5.0):
        self.url = url
        self.secret = secret
        self.header = header
        self.timeout = timeout
        self.sent = 0
        self.failed = 0
        self.statuses = []
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()

    def __call__(self, payload):
        """Queue one event for delivery (returns at once)."""
        self._queue.put(dict(payload))

    def flush(self, timeout=10.0):
        """Wait until every queued event was delivered or failed; True when the queue drained."""
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def post(self, payload):
        """Deliver one event now; the HTTP status (None when the app could not be reached)."""
        request = urllib.request.Request(self.url, data=json.dumps(payload).encode("utf-8"), method="POST",
                                         headers={"Content-Type": "application/json", self.header: self.secret})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except (OSError, ValueError):
            return None

    def _run(self):
        while True:
            item = self._queue.get()
            if isinstance(item, threading.Event):
                item.set()
                continue
            status = self.post(item)
            self.statuses.append(status)
            if status is not None and 200 <= status < 300:
                self.sent += 1
            else:
                self.failed += 1
                log.warning("sandbox webhook %s not delivered (status %s)", item.get("event-type"), status)
