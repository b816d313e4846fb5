"""Demo mode's SmartMoving: one sandbox per process on a free loopback port, so demo syncs use real HTTP."""
import threading

from dashboard.sandbox.server import start_sandbox
from dashboard.sandbox.world import SandboxWorld

# Demo start-up back-fills this much history once (DEMO_HISTORY_DAYS), so the world reaches back as far.
DEMO_DAYS_BEFORE = 56
_lock = threading.Lock()
_server = None


def ensure_embedded_sandbox(timezone):
    """The process's sandbox (seed 42, today in timezone), started on first use; later calls return it."""
    global _server
    with _lock:
        if _server is None or not _server.running:
            _server = start_sandbox(world=SandboxWorld(seed=42, timezone=timezone, days_before=DEMO_DAYS_BEFORE),
                                    port=0)
        return _server
