"""Demo mode: the sandbox's SmartMoving edits a few of tomorrow's dispatched jobs during the demo day (issue 19 §5).

A few minutes after the demo starts, four edits arrive (an arrival window, an address, a
cancellation, a deletion), then one more every DEMO_CHANGE_EVERY, so a fresh `make run`
shows Changed badges within minutes. The edits are SandboxWorld.apply_demo_change steps,
announced by webhook like any sandbox change.

Deterministic and idempotent on restart: the day's start is kept in the instance folder,
and a restarted process (whose sandbox is rebuilt from its seed) replays the steps already
due at once, which leaves SmartMoving as the database already knows it: nothing new is seen.
"""
import logging
import threading
from datetime import datetime
from datetime import timedelta
from pathlib import Path

log = logging.getLogger(__name__)

DEMO_CHANGE_AFTER = timedelta(minutes=3)     # the first four edits, after the demo day starts
DEMO_CHANGE_EVERY = timedelta(minutes=20)    # then one more edit each time
FIRST_BATCH = 4
TICK_SECONDS = 20


def steps_due(anchor, now):
    """How many demo edits are due at now for a demo day that started at anchor."""
    if now < anchor + DEMO_CHANGE_AFTER:
        return 0
    return FIRST_BATCH + int((now - anchor - DEMO_CHANGE_AFTER) / DEMO_CHANGE_EVERY)


def day_anchor(path, now):
    """When this demo day started: the time kept in path when it is of now's date, else now (then kept)."""
    path = Path(path)
    try:
        kept = datetime.fromisoformat(path.read_text().strip())
        if kept.date() == now.date() and kept <= now:
            return kept
    except (OSError, ValueError):
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(now.isoformat(timespec="seconds"))
    except OSError as error:   # a read-only instance folder: the day starts with this process
        log.warning("demo: could not keep the demo day's start in %s (%s)", path, error)
    return now


class DemoChanges:
    """A daemon thread applying the due demo edits to a sandbox world (one per process)."""

    def __init__(self, world, anchor_path, clock=datetime.now):
        self.world = world
        self.clock = clock
        self.anchor = day_anchor(anchor_path, clock())
        # Chosen before any edit (a cancelled job is no longer a candidate): the same ids every run.
        self.job_ids = world.demo_change_jobs()
        self.done = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-changes", daemon=True)

    def start(self):
        """Start ticking; returns self."""
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()

    def tick(self):
        """Apply every edit due by now that is not applied yet; returns the sentences of those applied."""
        said = []
        while self.done < steps_due(self.anchor, self.clock()):
            sentence = self.world.apply_demo_change(self.done, self.job_ids)
            self.done += 1
            if sentence is None:
                break
            said.append(sentence)
            log.info("demo: SmartMoving edit %d: %s", self.done, sentence)
        return said

    def _run(self):
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:   # a demo nicety must never take the process down
                log.exception("demo: a SmartMoving edit failed")
            self._stop.wait(TICK_SECONDS)
