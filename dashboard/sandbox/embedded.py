"""Demo mode's SmartMoving: one sandbox per process on a free loopback port, so demo syncs use real HTTP.

In demo mode the sandbox also announces its world's changes to this process's own
webhook route (`announce_to`), so an edit reaches the board without a sweep.
"""
import logging
import threading

from dashboard.sandbox.demo_changes import DEMO_CHANGE_AFTER
from dashboard.sandbox.demo_changes import DemoChanges
from dashboard.sandbox.server import start_sandbox
from dashboard.sandbox.world import DEMO_DAYS_BEFORE
from dashboard.sandbox.world import SandboxWorld

log = logging.getLogger(__name__)
_lock = threading.Lock()
_server = None
_webhook_target = None


def ensure_embedded_sandbox(timezone):
    """The process's sandbox (seed 42, today in timezone), started on first use; later calls return it."""
    global _server
    with _lock:
        if _server is None or not _server.running:
            _server = start_sandbox(world=SandboxWorld(seed=42, timezone=timezone,
                                                              days_before=DEMO_DAYS_BEFORE), port=0)
            log.info("demo: SmartMoving sandbox at %s (x-api-key %s; POST /_sandbox/mutate changes its world)",
                     _server.base_url, _server.api_key)
            if _webhook_target is not None:
                _server.send_webhooks_to(*_webhook_target)
        return _server


# The demo's second company (issue 21 §4): its own world, reached with its own key on the same sandbox.
SECOND_WORLD_KEY = "demo-key-2"
SECOND_WORLD_SEED = 4242


def ensure_second_world(server, timezone):
    """Add the second demo company's world (seed 4242, fewer branches) to server once; its API key."""
    with _lock:
        if server.world_for(SECOND_WORLD_KEY) is None:
            server.add_world(SECOND_WORLD_KEY, SandboxWorld(seed=SECOND_WORLD_SEED, timezone=timezone, branches=3,
                                                            jobs_per_day=18, days_before=DEMO_DAYS_BEFORE))
    return SECOND_WORLD_KEY


def announce_to(url, secret, header):
    """Send the sandbox world's changes to url by webhook (now, or once the sandbox starts)."""
    global _webhook_target
    with _lock:
        if _webhook_target == (url, secret, header):
            return
        _webhook_target = (url, secret, header)
        if _server is not None and _server.running:
            _server.send_webhooks_to(url, secret, header)
    log.info("demo: sandbox changes are announced by webhook to %s", url)


# ---------------------------------------------------------------- demo: SmartMoving edits dispatched work (issue 19)

_demo_changes = None


def start_demo_changes(timezone, anchor_path):
    """Start (once per process) the sandbox's timed edits of tomorrow's dispatched jobs; returns the DemoChanges."""
    global _demo_changes
    server = ensure_embedded_sandbox(timezone)
    with _lock:
        if _demo_changes is None or _demo_changes.world is not server.world:
            _demo_changes = DemoChanges(server.world, anchor_path).start()
            log.info("demo: SmartMoving edits of tomorrow's dispatched jobs start at %s",
                     (_demo_changes.anchor + DEMO_CHANGE_AFTER).strftime("%H:%M"))
        return _demo_changes
