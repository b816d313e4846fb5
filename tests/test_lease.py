"""The sync lease row and the scheduler's slot claims, on SQLite and PostgreSQL."""
import threading
from datetime import datetime
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import SyncLease
from dashboard.models import utcnow
from dashboard.sync.lease import acquire_lease
from dashboard.sync.lease import claim_slot
from dashboard.sync.lease import lease_holder
from dashboard.sync.lease import lease_name_for
from dashboard.sync.lease import new_owner_id
from dashboard.sync.lease import release_lease
from dashboard.sync.lease import renew_lease

NAME = lease_name_for(1)


def _row(name=NAME):
    with db.engine.connect() as connection:
        return connection.execute(sa.select(SyncLease).where(SyncLease.name == name)).first()


def _expire(name=NAME, seconds_ago=5):
    """Make the lease look as if its holder stopped renewing long ago (no sleeping)."""
    with db.engine.begin() as connection:
        connection.execute(sa.update(SyncLease).where(SyncLease.name == name)
                           .values(expires_at=utcnow() - timedelta(seconds=seconds_ago)))


def test_owner_ids_are_unique():
    assert len({new_owner_id() for _ in range(100)}) == 100


def test_first_acquire_creates_the_row_and_wins(app_ctx):
    assert _row() is None
    assert acquire_lease(NAME, "a", 60)
    row = _row()
    assert row.owner == "a" and row.epoch == 1
    assert row.expires_at > utcnow() + timedelta(seconds=50)
    assert lease_holder(NAME)[0] == "a"


def test_a_held_lease_refuses_others(app_ctx):
    assert acquire_lease(NAME, "a", 60)
    assert not acquire_lease(NAME, "b", 60)
    assert lease_holder(NAME)[0] == "a"
    assert _row().epoch == 1


def test_the_holder_may_take_it_again(app_ctx):
    assert acquire_lease(NAME, "a", 60)
    assert acquire_lease(NAME, "a", 60)
    assert _row().epoch == 2


def test_release_frees_it_for_the_next_runner(app_ctx):
    assert acquire_lease(NAME, "a", 60)
    assert release_lease(NAME, "a")
    assert lease_holder(NAME) is None
    assert acquire_lease(NAME, "b", 60)
    assert lease_holder(NAME)[0] == "b"
    assert _row().epoch == 2


def test_only_the_holder_can_release(app_ctx):
    assert acquire_lease(NAME, "a", 60)
    assert not release_lease(NAME, "b")
    assert lease_holder(NAME)[0] == "a"


def test_an_expired_lease_can_be_taken_and_the_old_holder_is_fenced_off(app_ctx):
    assert acquire_lease(NAME, "dead", 60)
    _expire()
    assert lease_holder(NAME) is None
    assert acquire_lease(NAME, "b", 60)
    # The old holder wakes up: it can neither renew nor release the new holder's lease.
    assert not renew_lease(NAME, "dead", 60)
    assert not release_lease(NAME, "dead")
    assert lease_holder(NAME)[0] == "b"
    assert _row().epoch == 2


def test_renew_extends_an_unexpired_lease(app_ctx):
    assert acquire_lease(NAME, "a", 5)
    before = _row().expires_at
    assert renew_lease(NAME, "a", 600)
    assert _row().expires_at > before + timedelta(seconds=500)


def test_renew_refuses_an_expired_lease_even_if_nobody_took_it(app_ctx):
    # Once expired, another runner may already have judged the run dead; the holder must stop.
    assert acquire_lease(NAME, "a", 60)
    _expire()
    assert not renew_lease(NAME, "a", 60)


def test_renew_and_release_of_an_unknown_lease_are_harmless(app_ctx):
    assert not renew_lease("sync:unknown", "a", 60)
    assert not release_lease("sync:unknown", "a")
    assert lease_holder("sync:unknown") is None


def test_leases_of_different_companies_are_independent(app_ctx):
    assert acquire_lease(lease_name_for(1), "a", 60)
    assert acquire_lease(lease_name_for(2), "b", 60)
    assert lease_holder(lease_name_for(1))[0] == "a"
    assert lease_holder(lease_name_for(2))[0] == "b"


def test_the_lease_is_committed_at_once_not_inside_the_callers_transaction(app_ctx):
    db.session.execute(sa.text("SELECT 1"))  # the caller has a transaction open
    assert acquire_lease(NAME, "a", 60)
    db.session.rollback()  # and rolls it back: the lease stays taken
    assert lease_holder(NAME)[0] == "a"


def _race(count, attempt):
    """Run attempt(i) in count threads released together; their results in order."""
    barrier = threading.Barrier(count)
    results = [None] * count
    errors = []

    def contender(i):
        try:
            barrier.wait(timeout=10)
            results[i] = attempt(i)
        except Exception as error:  # surfaced below, so a failure names its cause
            errors.append(error)

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


@pytest.mark.parametrize("existing_row", [False, True], ids=["first-use", "existing-row"])
def test_exactly_one_of_many_concurrent_contenders_wins(app, existing_row):
    with app.app_context():
        if existing_row:
            assert acquire_lease(NAME, "previous", 60)
            assert release_lease(NAME, "previous")

    def attempt(i):
        with app.app_context():
            return acquire_lease(NAME, f"owner-{i}", 60)

    results = _race(8, attempt)
    assert results.count(True) == 1
    with app.app_context():
        assert lease_holder(NAME)[0] == f"owner-{results.index(True)}"


def test_an_expired_lease_is_taken_over_by_exactly_one_contender(app):
    with app.app_context():
        assert acquire_lease(NAME, "dead", 60)
        _expire()

    def attempt(i):
        with app.app_context():
            return acquire_lease(NAME, f"owner-{i}", 60)

    assert _race(6, attempt).count(True) == 1


SLOT = datetime(2030, 1, 1, 10, 0)
SLOT_NAME = "schedule:1"


def test_a_slot_is_claimed_once(app_ctx):
    assert claim_slot(SLOT_NAME, SLOT, "a")
    assert not claim_slot(SLOT_NAME, SLOT, "b")
    assert not claim_slot(SLOT_NAME, SLOT, "a")


def test_a_later_slot_can_be_claimed_an_earlier_one_cannot(app_ctx):
    assert claim_slot(SLOT_NAME, SLOT, "a")
    assert not claim_slot(SLOT_NAME, SLOT - timedelta(minutes=10), "b")
    assert claim_slot(SLOT_NAME, SLOT + timedelta(minutes=10), "b")
    assert claim_slot(SLOT_NAME, SLOT + timedelta(minutes=15), "c")  # the interval setting changed


def test_slot_claims_do_not_touch_the_sync_lease(app_ctx):
    assert acquire_lease(NAME, "runner", 60)
    assert claim_slot("schedule:1", SLOT, "a")
    assert lease_holder(NAME)[0] == "runner"
    assert lease_holder("schedule:1") is None


def test_slot_claims_require_a_datetime(app_ctx):
    with pytest.raises(TypeError):
        claim_slot(SLOT_NAME, "2030-01-01", "a")


def test_exactly_one_concurrent_slot_claim_wins(app):
    def attempt(i):
        with app.app_context():
            return claim_slot(SLOT_NAME, SLOT, f"scheduler-{i}")

    assert _race(8, attempt).count(True) == 1
