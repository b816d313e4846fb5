"""A job SmartMoving moves outside the sync window is a move, not a removal (issue 19 §2), sandbox-driven."""
from collections import Counter
from datetime import timedelta

from dashboard.changes.describe import day_text
from dashboard.changes.service import acknowledge
from dashboard.changes.service import changes_for_jobs
from dashboard.db import db
from dashboard.models import User
from tests.support import login_as
from tests.support.api import bearer
from tests.support.upstream import changes
from tests.support.upstream import deliver_webhooks
from tests.support.upstream import dispatch
from tests.support.upstream import job_row


def _single_job_opportunity(rig, day, skip=()):
    """(job id, opportunity id) of a job on day whose opportunity and customer have no other job in the window."""
    truth = rig.truth()
    per_opportunity = Counter(entry["opportunityId"] for entry in truth.values())
    per_customer = Counter(rig.world.opportunities[o].customer_id for o in per_opportunity)
    for job_id, entry in sorted(truth.items()):
        opportunity_id = entry["opportunityId"]
        if (entry["scheduledDate"] == day and per_opportunity[opportunity_id] == 1 and job_id not in skip
                and per_customer[rig.world.opportunities[opportunity_id].customer_id] == 1):
            return job_id, opportunity_id
    raise AssertionError(f"the sandbox has no lone job on {day}")


def _job_of_a_multi_job_opportunity(rig):
    """(job id, opportunity id): a job whose opportunity keeps another job in the window."""
    truth = rig.truth()
    per_opportunity = Counter(entry["opportunityId"] for entry in truth.values())
    opportunity_id = sorted(o for o, count in per_opportunity.items() if count > 1)[0]
    return sorted(j for j, e in truth.items() if e["opportunityId"] == opportunity_id)[-1], opportunity_id


def _detail_calls(rig):
    return rig.sandbox.faults.stats.by_kind["opportunity"]


def _board(client, day):
    answer = client.get("/board", query_string={"date": day.isoformat()})
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def test_a_dispatched_job_moved_to_next_week_is_a_date_change_shown_on_both_days(rig, client, make_user):
    tomorrow, next_week = rig.end, rig.end + timedelta(days=7)
    job_id, _ = _single_job_opportunity(rig, tomorrow)
    dispatch(rig.app, job_id)
    rig.world.move_job(job_id, next_week)
    run = rig.sync()
    assert (run.status, run.removed, run.removals_held) == ("SUCCESS", 0, 0)
    # One detail call: the opportunity left the sweep, and its detail (read to confirm) dates the job anew.
    assert _detail_calls(rig) == 1 and run.api_calls <= rig.app.config["SMARTMOVING_CALL_BUDGET"]
    job = job_row(rig.app, job_id)
    assert (job.scheduled_date, job.sync_status, job.notes) == (next_week, "SYNCED", "Planned: bring the dolly")
    assert job.span_start.date() == next_week
    [change] = changes(rig.app, journey_id=job.id)
    assert (change.kind, change.before, change.after) == ("date", day_text(tomorrow), day_text(next_week))
    assert (change.day_before, change.day_after, change.dispatched) == (tomorrow, next_week, True)

    admin = make_user("ADMIN")
    login_as(client, admin)
    old_day = _board(client, tomorrow)
    assert job.customer_name in old_day and f"Moved to {day_text(next_week)}" in old_day and "r-gone" in old_day
    assert "Removed in SmartMoving" not in old_day
    listed = client.get(f"/api/smartmoving/jobs?date={next_week.isoformat()}", headers=bearer(rig.app, admin))
    [api_job] = [j for j in listed.get_json()["jobs"] if j["id"] == job.id]
    assert api_job["scheduledDate"] == next_week.isoformat() and api_job["syncStatus"] == "SYNCED"

    with rig.app.app_context():
        acknowledge([c.id for c in changes_for_jobs([job.id])[job.id]], db.session.get(User, admin.id))
        db.session.commit()
    assert job.customer_name not in _board(client, tomorrow)     # acknowledged: it left its old day
    assert rig.sync().removed == 0 and len(changes(rig.app)) == 1  # an unchanged re-sync adds nothing


def test_a_job_moved_out_while_its_opportunity_stays_costs_no_extra_call(rig):
    job_id, _ = _job_of_a_multi_job_opportunity(rig)
    dispatch(rig.app, job_id)
    new_day = rig.end + timedelta(days=3)
    rig.world.move_job(job_id, new_day)
    run = rig.sync()
    assert (run.removed, run.removals_held) == (0, 0)
    assert _detail_calls(rig) == 1          # the changed opportunity's own re-read serves the move too
    job = job_row(rig.app, job_id)
    assert (job.scheduled_date, job.sync_status) == (new_day, "SYNCED")
    assert [c.kind for c in changes(rig.app, journey_id=job.id)] == ["date"]


def test_a_truly_deleted_job_is_still_removed_and_a_mass_deletion_still_held(rig):
    deleted, deleted_opportunity = _single_job_opportunity(rig, rig.start)
    dispatch(rig.app, deleted)
    rig.world.delete_opportunity(deleted_opportunity)
    run = rig.sync()
    assert run.removed == 1 and job_row(rig.app, deleted).sync_status == "REMOVED"
    assert [c.kind for c in changes(rig.app, journey_id=job_row(rig.app, deleted).id)] == ["removed"]

    # Hold rules unchanged: many of one day vanishing at once are held; moves are no part of that count.
    rig.app.config.update(REMOVAL_HOLD_MIN_JOBS=1, REMOVAL_HOLD_PERCENT=1)
    lone = []
    for _ in range(4):
        lone.append(_single_job_opportunity(rig, rig.end, skip=[j for j, _ in lone]))
    for _, opportunity_id in lone[:2]:
        rig.world.delete_opportunity(opportunity_id)
    for job_id, _ in lone[2:]:
        rig.world.move_job(job_id, rig.end + timedelta(days=5))
    run = rig.sync()
    assert (run.removed, run.removals_held) == (0, 2)
    assert {job_row(rig.app, j).removal_pending_at is not None for j, _ in lone[:2]} == {True}
    assert {(job_row(rig.app, j).scheduled_date, job_row(rig.app, j).removal_pending_at) for j, _ in lone[2:]} == {
        (rig.end + timedelta(days=5), None)}


def test_without_the_detail_a_dispatched_job_is_held_an_undispatched_one_removed_as_before(rig):
    truth = rig.truth()
    per_opportunity = Counter(entry["opportunityId"] for entry in truth.values())
    first, second = sorted(o for o, count in per_opportunity.items() if count > 1)[:2]
    planned, unplanned = (sorted(j for j, e in truth.items() if e["opportunityId"] == o)[-1] for o in (first, second))
    dispatch(rig.app, planned)
    new_day = rig.end + timedelta(days=4)
    for job_id in (planned, unplanned):
        rig.world.move_job(job_id, new_day)
    rig.sandbox.faults.fail_paths = {f"/api/opportunities/{first}", f"/api/opportunities/{second}"}
    run = rig.sync()
    rig.sandbox.faults.fail_paths = set()
    held, removed = job_row(rig.app, planned), job_row(rig.app, unplanned)
    assert (held.sync_status, held.scheduled_date) != ("REMOVED", new_day) and held.removal_pending_at is not None
    assert removed.sync_status == "REMOVED"                  # undispatched: today's rule, removed
    assert run.status == "PARTIAL" and run.removals_held == 1 and "held, not removed" in " ".join(run.warnings)
    # The next run reads the detail: the held job is moved and released, with no removal recorded for it.
    rig.sync()
    held = job_row(rig.app, planned)
    assert (held.scheduled_date, held.removal_pending_at, held.sync_status) == (new_day, None, "SYNCED")
    assert [c.kind for c in changes(rig.app, journey_id=held.id)] == ["date"]


def test_a_webhook_for_a_job_moved_out_of_the_window_records_a_move(rig):
    job_id, opportunity_id = _single_job_opportunity(rig, rig.start)
    dispatch(rig.app, job_id)
    new_day = rig.end + timedelta(days=6)
    rig.world.move_job(job_id, new_day)
    deliver_webhooks(rig.app, rig.company_id, [{"event-type": "opportunity-changed", "opportunity-id": opportunity_id}])
    job = job_row(rig.app, job_id)
    assert (job.scheduled_date, job.sync_status, job.removal_pending_at) == (new_day, "SYNCED", None)
    [change] = changes(rig.app, journey_id=job.id)
    assert (change.kind, change.day_before, change.day_after) == ("date", rig.start, new_day)
    assert change.source.startswith("webhook")
