"""Demo mode's timed SmartMoving edits of tomorrow's dispatched jobs (issue 19 §5): when, what, and replay."""
from datetime import datetime
from datetime import timedelta

from dashboard.sandbox.demo_changes import DemoChanges
from dashboard.sandbox.demo_changes import day_anchor
from dashboard.sandbox.demo_changes import steps_due
from dashboard.sandbox.world import SandboxWorld

START = datetime(2026, 12, 5, 9, 0)


def _world():
    return SandboxWorld(seed=7, timezone="America/Toronto", today="2026-12-05", branches=3, jobs_per_day=30)


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def test_four_edits_come_a_few_minutes_after_start_then_one_every_20_minutes():
    assert steps_due(START, START + timedelta(minutes=2, seconds=59)) == 0
    assert steps_due(START, START + timedelta(minutes=3)) == 4
    assert steps_due(START, START + timedelta(minutes=22)) == 4
    assert steps_due(START, START + timedelta(minutes=23)) == 5


def test_the_day_start_is_kept_for_the_day_and_renewed_the_next(tmp_path):
    path = tmp_path / "instance" / "demo-day.txt"
    assert day_anchor(path, START) == START
    assert day_anchor(path, START + timedelta(hours=2)) == START             # a restart the same day
    tomorrow = START + timedelta(days=1)
    assert day_anchor(path, tomorrow) == tomorrow and path.read_text() == tomorrow.isoformat()


def test_the_edits_touch_tomorrows_jobs_and_a_restart_replays_them_to_the_same_world(tmp_path):
    path = tmp_path / "demo-day.txt"
    clock = Clock(START)
    world = _world()
    edits = DemoChanges(world, path, clock=clock)
    ids = list(edits.job_ids)
    assert ids and all(world.jobs[job_id].service_date == world.today + timedelta(days=1) for job_id in ids)
    before = {job_id: world.opportunity_detail(world.jobs[job_id].opportunity_id) for job_id in ids[:4]}
    assert edits.tick() == []
    clock.now = START + timedelta(minutes=3)
    said = edits.tick()
    assert len(said) == 4 and said[2].endswith("cancelled") and said[3].endswith("deleted")
    window, address, cancelled, deleted = (world.opportunity_detail(world.jobs[job_id].opportunity_id)
                                           if job_id in world.jobs else None for job_id in ids[:4])
    assert window["jobs"][0]["arrivalWindow"] != before[ids[0]]["jobs"][0]["arrivalWindow"]
    assert address["jobs"][0]["jobAddresses"][-1] != before[ids[1]]["jobs"][0]["jobAddresses"][-1]
    assert cancelled["status"] == 20 and deleted is None
    assert edits.tick() == []                                                  # nothing twice

    # A restart: a new world from the seed, the day's start read back, the due edits replayed at once.
    clock.now = START + timedelta(minutes=10)
    again = _world()
    replay = DemoChanges(again, path, clock=clock)
    assert replay.anchor == START and replay.job_ids == ids
    assert replay.tick() == said
    for job_id in ids[:3]:
        opportunity_id = world.jobs[job_id].opportunity_id
        assert again.opportunity_detail(opportunity_id) == world.opportunity_detail(opportunity_id)
    assert again.opportunity_detail(again.jobs[ids[3]].opportunity_id) is None
