"""Upserts: idempotent, per company, never touching local dispatch fields."""
from datetime import date

import pytest
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import TruckJourney
from dashboard.models import utcnow
from dashboard.sync import upsert
from tests.support import is_write
from tests.support import statements_sent

DAY = date(2026, 7, 20)


def record(job_id="j1", **changes):
    base = {"external_id": job_id, "opportunity_external_id": "o1", "job_number": f"{job_id}-n",
            "quote_number": "1042", "customer_name": "Ada", "scheduled_date": DAY, "estimated_value_cents": 113046,
            "origin_address": "1 A St", "destination_address": "2 B St", "smartmoving_crew": ["Sam"],
            "status": "BOOKED", "sync_status": "SYNCED", "external_data": {"raw": [1, 2]}}
    base.update(changes)
    return base


def test_second_upsert_of_same_data_writes_nothing(app_ctx, default_company):
    records = [record("j1"), record("j2")]
    with db.write_transaction():
        assert upsert.upsert_journeys(default_company.id, records, utcnow()) == (2, 0, 0)
    with statements_sent(db.engine, is_write) as writes:
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


def test_remove_journeys_is_soft_and_keeps_local_fields(app_ctx, default_company):
    with db.write_transaction() as session:
        upsert.upsert_journeys(default_company.id, [record("j1"), record("j2")], utcnow())
        session.execute(sa.update(TruckJourney).where(TruckJourney.external_id == "j1").values(notes="Keep me"))
    with db.write_transaction() as session:
        ids = list(session.scalars(sa.select(TruckJourney.id).where(TruckJourney.external_id == "j1")))
        assert upsert.remove_journeys(ids, utcnow(), "gone") == 1
    rows = {row.external_id: row for row in db.session.scalars(sa.select(TruckJourney))}
    assert rows["j1"].sync_status == "REMOVED" and rows["j1"].removed_at is not None and rows["j1"].notes == "Keep me"
    assert rows["j2"].sync_status == "SYNCED"
