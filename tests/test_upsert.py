"""Upserts: idempotent, per company, never touching local dispatch fields."""
from contextlib import contextmanager
from datetime import date

import pytest
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import TruckJourney
from dashboard.models import utcnow
from dashboard.sync import upsert

DAY = date(2026, 7, 20)


def record(job_id="j1", **changes):
    base = {"external_id": job_id, "opportunity_external_id": "o1", "job_number": f"{job_id}-n",
            "quote_number": "1042", "customer_name": "Ada", "scheduled_date": DAY, "estimated_value_cents": 113046,
            "origin_address": "1 A St", "destination_address": "2 B St", "smartmoving_crew": ["Sam"],
            "status": "BOOKED", "sync_status": "SYNCED", "external_data": {"raw": [1, 2]}}
    base.update(changes)
    return base


@contextmanager
def captured_writes():
    statements = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            statements.append(statement)

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)


def test_second_upsert_of_same_data_writes_nothing(app_ctx, default_company):
    records = [record("j1"), record("j2")]
    with db.write_transaction():
        assert upsert.upsert_journeys(default_company.id, records, utcnow()) == (2, 0, 0)
    with captured_writes() as writes:
        with db.write_transaction():
            assert upsert.upsert_journeys(default_company.id, [record("j1"), record("j2")], utcnow()) == (0, 0, 2)
    assert writes == []


def test_changed_record_is_updated_and_local_fields_survive(app_ctx, default_company):
    with db.write_transaction():
        upsert.upsert_journeys(default_company.id, [record()], utcnow())
    with db.write_transaction() as session:
        job = session.scalar(sa.select(TruckJourney))
        job.crew, job.notes, job.dispatch_status = ["Local Crew"], "Call on arrival", "ASSIGNED"
    with db.write_transaction():
        assert upsert.upsert_journeys(default_company.id, [record(customer_name="Ada King")], utcnow()) == (0, 1, 0)
    db.session.expire_all()
    job = db.session.scalar(sa.select(TruckJourney))
    assert job.customer_name == "Ada King"
    assert (job.crew, job.notes, job.dispatch_status) == (["Local Crew"], "Call on arrival", "ASSIGNED")
    assert job.data_source == "SMARTMOVING"


def test_same_external_id_in_two_companies_is_two_rows(app_ctx, default_company, make_company):
    other = make_company("Other Movers")
    with db.write_transaction():
        upsert.upsert_journeys(default_company.id, [record()], utcnow())
        upsert.upsert_journeys(other.id, [record()], utcnow())
    assert db.session.scalar(sa.select(sa.func.count(TruckJourney.id))) == 2


def test_sync_may_not_write_local_fields(app_ctx, default_company):
    with pytest.raises(ValueError):
        upsert.upsert_journeys(default_company.id, [record(notes="overwrite")], utcnow())
    with pytest.raises(ValueError):
        upsert.upsert_journeys(default_company.id, [record(crew=["x"])], utcnow())


def test_mark_removed_only_touches_unseen_smartmoving_jobs_in_window(app_ctx, default_company):
    with db.write_transaction() as session:
        upsert.upsert_journeys(default_company.id, [record("j1"), record("j2"), record("j3", scheduled_date=date(2026, 7, 25))],
                               utcnow())
        session.add(TruckJourney(company_id=default_company.id, data_source="MANUAL", customer_name="Walk-in",
                                 scheduled_date=DAY))
    with db.write_transaction():
        removed = upsert.mark_removed(default_company.id, DAY, date(2026, 7, 21), {"j1"}, utcnow())
    assert removed == 1
    statuses = dict(db.session.execute(sa.select(TruckJourney.customer_name, TruckJourney.sync_status)
                                       .where(TruckJourney.external_id.is_(None))).all())
    assert statuses == {"Walk-in": "SYNCED"}
    by_id = dict(db.session.execute(sa.select(TruckJourney.external_id, TruckJourney.sync_status)
                                    .where(TruckJourney.external_id.is_not(None))).all())
    assert by_id == {"j1": "SYNCED", "j2": "REMOVED", "j3": "SYNCED"}
