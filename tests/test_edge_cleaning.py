"""Everything from SmartMoving is cleaned at the edge, and one bad record never stops a company's syncs."""
from datetime import date
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import CrewMember
from dashboard.models import Location
from dashboard.models import OpportunitySyncState
from dashboard.models import TruckJourney
from dashboard.smartmoving import normalize
from dashboard.timeutil import company_today
from tests.support.syncing import sync

TZ = "America/Toronto"
START, END = date(2026, 7, 20), date(2026, 7, 21)


@pytest.fixture
def sandbox_world():
    """A smaller world than the shared sandbox's (the `sandbox` and `sync_app` fixtures are tests/conftest.py's)."""
    return {"seed": 5, "branches": 2, "jobs_per_day": 6}


def stored(app):
    with app.app_context():
        return {job.external_id: job for job in db.session.scalars(sa.select(TruckJourney))}


def window_customers(world):
    """The world's customers with a job in today's window (what a sync reads), in a stable order."""
    today = company_today(TZ)
    return [world.customers[c["id"]] for c in world.customers_in_window(today, today + timedelta(days=1))]


# ---------------------------------------------------------------- pure cleaning

def test_control_characters_and_lone_surrogates_are_removed_tabs_and_newlines_only_where_multiline():
    assert normalize.clean_text("Ann\x00 Smith\x07\x1b\x7f\x85") == "Ann Smith"
    assert normalize.clean_text("Ann\tB\r\nSmith") == "Ann B Smith"
    assert normalize.clean_text("bad \ud800 half") == "bad \ufffd half"
    assert normalize.clean_text("line one\r\nline\ttwo\x00", multiline=True) == "line one\nline\ttwo"


def test_every_string_is_capped_at_its_column_length_from_the_model():
    limit = TruckJourney.__table__.c.customer_name.type.length
    customer = {"id": "c1", "name": "N" * 5000, "phoneNumber": "5" * 500, "emailAddress": "e" * 900 + "@x.test",
                "opportunities": [{"id": "o1", "quoteNumber": "Q" * 300, "status": 4,
                                   "jobs": [{"id": "j1", "jobNumber": "J" * 300, "serviceDate": "2026-07-20"}]}]}
    opportunity = normalize.sweep_opportunities([customer], START, END)["o1"]
    record = normalize.job_record(opportunity, opportunity.jobs[0])
    for name in ("customer_name", "customer_phone", "customer_email", "quote_number", "job_number"):
        assert len(record[name]) == TruckJourney.__table__.c[name].type.length, name
    assert len(record["customer_name"]) == limit
    detail = {"id": "o1", "jobs": [{"id": "j1", "jobAddresses": [{"fullAddress": "A" * 9000}],
                                    "arrivalWindow": {"description": "W\x00" * 400, "startTime": float("nan")}}],
              "branch": {"name": "B" * 999}, "estimatedTotal": {"finalTotal": 1e30}, "notes": "x\x00y"}
    record = normalize.job_record(opportunity, opportunity.jobs[0], detail)
    assert len(record["origin_address"]) == TruckJourney.__table__.c.origin_address.type.length
    assert record["arrival_window"] == "W" * TruckJourney.__table__.c.arrival_window.type.length
    assert record["arrival_start_hour"] is None and record["span_start"] is None
    assert record["estimated_value_cents"] is None          # more than a BIGINT of cents
    assert len(record["branch_name"]) == Location.__table__.c.name.type.length
    branch = normalize.branch_record({"id": "b1", "name": "Main\x00 St", "extra": {"k\x00": [float("inf"), "v\x01"]}})
    assert branch["name"] == "Main St" and branch["external_data"]["extra"] == {"k": [None, "v"]}
    crew = normalize.crew_record({"id": "m1", "name": "C" * 500, "status": "S" * 99})
    assert len(crew["name"]) == CrewMember.__table__.c.name.type.length
    assert len(crew["status"]) == CrewMember.__table__.c.status.type.length


def test_fit_record_cleans_json_columns_and_never_cuts_ids():
    record = normalize.fit_record(TruckJourney, {"external_id": "i" * 80, "customer_name": "a\x00b",
                                                 "external_data": {"note": "one\x00\ntwo", "n": float("nan")},
                                                 "smartmoving_crew": ["Ann\x00"]})
    assert record["external_id"] == "i" * 80
    assert record["customer_name"] == "ab"
    assert record["external_data"] == {"note": "one\ntwo", "n": None}
    assert record["smartmoving_crew"] == ["Ann"]


# ---------------------------------------------------------------- end to end, both databases

def test_a_customer_name_with_nul_and_junk_never_fails_a_sync(sync_app, sandbox):
    first, second, third = window_customers(sandbox.world)[:3]
    first.name = "Nul\x00 Name"
    second.name = "Half \ud83d surrogate\x1b[31m and a very long tail " + "x" * 400
    third.email = "bell\x07@example.test"
    for run_number in (1, 2):   # before: FAILED on PostgreSQL every time, for the whole company
        run = sync(sync_app)
        assert run.status == "SUCCESS", (run_number, run.error)
    names = {job.customer_name for job in stored(sync_app).values()}
    assert "Nul Name" in names
    long_name = next(name for name in names if name.startswith("Half"))
    assert long_name.startswith("Half \ufffd surrogate[31m and a very long tail")
    assert len(long_name) <= TruckJourney.__table__.c.customer_name.type.length
    assert "bell@example.test" in {job.customer_email for job in stored(sync_app).values()}
    with sync_app.app_context():   # the raw copy kept with each job is clean too
        raw = [job.external_data for job in db.session.scalars(sa.select(TruckJourney))]
        assert "\\u0000" not in str(raw) and "\x00" not in str(raw)


def test_a_record_the_database_still_refuses_is_skipped_and_named_and_the_rest_is_stored(sync_app, sandbox,
                                                                                        monkeypatch):
    victim = window_customers(sandbox.world)[0]
    victim_opportunities = set(victim.opportunity_ids)
    real_job_record = normalize.job_record

    def job_record(opportunity, *args, **kwargs):
        record = real_job_record(opportunity, *args, **kwargs)
        if opportunity.opportunity_id in victim_opportunities:
            record["scheduled_date"] = None   # NOT NULL without a default: refused by both databases
        return record

    monkeypatch.setattr(normalize, "job_record", job_record)
    run = sync(sync_app)

    assert run.status == "PARTIAL", run.error
    skipped_id = next(iter(victim_opportunities & {o for o in victim_opportunities if o in run.error}))
    assert f"opportunity {skipped_id}: IntegrityError" in run.error or "NotNullViolation" in run.error
    assert "could not be stored" in run.error and "[SQL" not in run.error
    jobs = stored(sync_app)
    assert jobs and all(job.opportunity_external_id not in victim_opportunities for job in jobs.values())
    assert run.created == len(jobs)
    with sync_app.app_context():   # the skipped one is read again next run
        state = db.session.scalar(sa.select(OpportunitySyncState).where(
            OpportunitySyncState.external_id == skipped_id))
        assert state.failures == 1 and state.last_error

    monkeypatch.setattr(normalize, "job_record", real_job_record)
    run = sync(sync_app)
    assert run.status == "SUCCESS", run.error
    assert any(job.opportunity_external_id in victim_opportunities for job in stored(sync_app).values())
