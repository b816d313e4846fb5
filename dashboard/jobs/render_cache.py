"""Small in-process caches for the boards, whose keys carry the data version.

Every open board polls; after a change, each viewer's next poll asks for the same new
data. Building it once per process instead of once per viewer is what keeps a
2,000-job board affordable. Keys already contain the data version, so entries never
go stale: they just stop being asked for and fall out (least recently used first).
"""
import threading
from collections import OrderedDict


class OnceCache:
    """A bounded LRU map whose misses are built once: concurrent askers of a key wait for that one build."""

    def __init__(self, max_entries):
        self.max_entries = max_entries
        self._entries = OrderedDict()
        self._lock = threading.Lock()
        self._builds = {}   # key -> the lock of the one thread building it

    def get(self, key):
        """The cached value for key, or None."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key, value):
        """Remember value under key, dropping the least recently used entries beyond max_entries."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def get_or_build(self, key, build):
        """The cached value for key, else build() once.

        After a change every open board asks for the same new value at about the same
        time; building it once per process instead of once per asker keeps the CPUs free.
        """
        value = self.get(key)
        if value is not None:
            return value
        with self._lock:
            build_lock = self._builds.setdefault(key, threading.Lock())
        try:
            with build_lock:
                value = self.get(key)
                if value is None:
                    value = build()
                    self.put(key, value)
        finally:
            with self._lock:
                self._builds.pop(key, None)
        return value

    def clear(self):
        """Forget everything (a new app, tests and benchmarks)."""
        with self._lock:
            self._entries.clear()


# Rendered board partials, keyed by data version, viewer scope and view parameters.
partials = OnceCache(32)
