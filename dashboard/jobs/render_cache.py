"""Small in-process caches for the boards, whose keys carry the data version, bounded by bytes.

Every open board polls; after a change, each viewer's next poll asks for the same new
data. Building it once per process instead of once per viewer is what keeps a
2,000-job board affordable. Keys already contain the data version, so entries never
go stale: they just stop being asked for and fall out (least recently used first).

Each cache holds at most its share of CACHE_MAX_MB (a worker's budget for all of them,
default 64 MiB): a few 8,000-job "show all" partials must not take a worker to 700 MiB.
Sizes are estimates (sys.getsizeof, walked a few levels deep, big containers sampled),
counted when an entry is stored.
"""
import sys
import threading
from collections import OrderedDict

from flask import current_app
from flask import has_app_context

# A worker's budget for every cache together when the app does not say (CACHE_MAX_MB).
DEFAULT_MAX_MB = 64
_ATOMS = (str, bytes, int, float, bool, type(None))
_SAMPLE = 48   # a container's items looked at (the rest counted as their average)


def approx_size(value, depth=5, seen=None):
    """Bytes value holds, estimated: sys.getsizeof of it and of what it holds, depth levels down.

    An object met twice in value counts once (a day's jobs share their locations, trucks and
    times); a long container is estimated from a sample of its items, scaled up.
    """
    if seen is None:
        seen = set()
    if id(value) in seen:
        return 0
    seen.add(id(value))
    size = sys.getsizeof(value)
    if depth == 0 or isinstance(value, _ATOMS):
        return size
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
    elif hasattr(value, "__dict__"):
        items = list(vars(value).values())
    else:
        return size
    if len(items) > _SAMPLE:
        step = len(items) / _SAMPLE
        sample = [items[int(n * step)] for n in range(_SAMPLE)]
        return size + int(sum(approx_size(item, depth - 1, seen) for item in sample) * len(items) / _SAMPLE)
    return size + sum(approx_size(item, depth - 1, seen) for item in items)


class Budget:
    """share of the worker's cache budget, counted by the caches that draw on it (one or several)."""

    def __init__(self, share):
        self.share = share
        self.bytes = 0
        self.caches = []   # the OnceCaches drawing on it

    def trim(self, keep):
        """Drop least recently used entries while over the limit, cheapest to rebuild first (lowest rank):
        keep gives up its older entries in its turn, the one just put only when nothing else is left.

        (keep's rank counts too: a day's snapshot put must not push out the newest read of the day,
        which every next read starts from, while the snapshot's own older entries can go.)
        """
        for cache in sorted(self.caches, key=lambda cache: cache.rank):
            if self.bytes <= self.limit:
                return
            cache.shrink(self, spare=1 if cache is keep else 0)
        if self.bytes > self.limit:
            keep.shrink(self)

    @property
    def limit(self):
        return budget_bytes(self.share)


def budget_bytes(share):
    """share of the worker's cache budget (CACHE_MAX_MB of the app in context, else the default), in bytes."""
    megabytes = DEFAULT_MAX_MB
    if has_app_context():
        megabytes = current_app.config.get("CACHE_MAX_MB", DEFAULT_MAX_MB)
    return int(megabytes * share * 1024 * 1024)


# Every cache of the worker together: CACHE_MAX_MB in all, whatever each cache's own cap (share).
WORKER = Budget(1.0)


class OnceCache:
    """A bounded LRU map whose misses are built once: concurrent askers of a key wait for that one build.

    Bounded by max_entries and by bytes: at most share of the worker's budget (its cap), and all
    caches together at most the whole budget (WORKER), the lowest ranks giving up entries first.
    Each entry's size is sizer(key, value) (default: approx_size of both).
    """

    def __init__(self, max_entries, share=0.05, sizer=None, budget=None, rank=50):
        self.max_entries = max_entries
        self.budget = budget or Budget(share)   # its cap: a Budget shared with other caches, or its own
        self.budget.caches.append(self)
        WORKER.caches.append(self)
        self.rank = rank   # when the worker's whole budget is full, lower ranks give up entries first
        self.sizer = sizer or (lambda key, value: approx_size(key, 2) + approx_size(value))
        self.bytes = 0                          # what this cache's entries hold (budget.bytes: all its caches)
        self._entries = OrderedDict()   # key -> (value, its size)
        self._lock = threading.Lock()
        self._builds = {}   # key -> the lock of the one thread building it

    @property
    def share(self):
        return self.budget.share

    def __len__(self):
        return len(self._entries)

    def get(self, key):
        """The cached value for key, or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def _count(self, size):
        self.bytes += size
        self.budget.bytes += size
        WORKER.bytes += size

    def put(self, key, value):
        """Remember value under key, dropping this cache's least recently used entries beyond the bounds.

        A value bigger than the whole budget is not kept (it would push out everything else).
        """
        size = self.sizer(key, value)
        limit = self.budget.limit
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._count(-old[1])
            if size > limit:
                return
            self._entries[key] = (value, size)
            self._count(size)
            while len(self._entries) > self.max_entries:
                self._drop_oldest()
            # This cache's older entries go first; the new one only when the others' cannot make room.
            while len(self._entries) > 1 and self.budget.bytes > limit:
                self._drop_oldest()
        if self.budget.bytes > limit:
            self.budget.trim(keep=self)
        if WORKER.bytes > WORKER.limit:
            WORKER.trim(keep=self)

    def _drop_oldest(self):
        _, (_, dropped) = self._entries.popitem(last=False)
        self._count(-dropped)

    def shrink(self, budget, spare=0):
        """Drop least recently used entries while budget is over its limit (another cache of it needs room),
        keeping the spare most recent ones."""
        limit = budget.limit
        with self._lock:
            while len(self._entries) > spare and budget.bytes > limit:
                self._drop_oldest()

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
            self._count(-self.bytes)
            self._entries.clear()


def text_size(key, value):
    """A rendered string's bytes (its key is a short hash or a small tuple)."""
    return sys.getsizeof(value) + 200


# Rendered board partials, keyed by data version, viewer scope and view parameters (a 2,000-row
# partial is ~2.7 MB; a poll's 200-row one ~0.3 MB).
partials = OnceCache(32, share=0.25, sizer=text_size, rank=10)
