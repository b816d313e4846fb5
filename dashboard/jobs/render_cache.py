"""An in-process cache of rendered board partials, keyed by data version, viewer scope and view parameters.

Every open board polls; after a change, each viewer's next poll asks for the same new
partial. Rendering it once per process instead of once per viewer is what keeps a
2,000-job board affordable. Keys already contain the data version, so entries never
go stale: they just stop being asked for and fall out (least recently used first).
"""
import threading
from collections import OrderedDict

MAX_ENTRIES = 32
_entries = OrderedDict()
_lock = threading.Lock()
_renders = {}   # key -> the lock of the one thread rendering it


def get(key):
    """The cached body for key, or None."""
    with _lock:
        body = _entries.get(key)
        if body is not None:
            _entries.move_to_end(key)
        return body


def put(key, body):
    """Remember body under key, dropping the least recently used entries beyond MAX_ENTRIES."""
    with _lock:
        _entries[key] = body
        _entries.move_to_end(key)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)


def get_or_render(key, render):
    """The cached body for key, else render() once: concurrent askers of the same key wait for that one render.

    After a change every open board asks for the same new partial at about the same
    time; rendering it once per process instead of once per asker keeps the CPUs free.
    """
    body = get(key)
    if body is not None:
        return body
    with _lock:
        render_lock = _renders.setdefault(key, threading.Lock())
    try:
        with render_lock:
            body = get(key)
            if body is None:
                body = render()
                put(key, body)
    finally:
        with _lock:
            _renders.pop(key, None)
    return body


def clear():
    """Forget everything (tests and benchmarks)."""
    with _lock:
        _entries.clear()
