"""Spans and job money from opportunity detail: normalize, and the sync over real HTTP to the sandbox."""
from datetime import date
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import TruckJourney
from dashboard.smartmoving import normalize
from tests.support.syncing import sync
from tests.support.syncing import window

SWEEP_JOB = normalize.SweepJob(job_id="j1", job_number="100-1", service_date=date(2026, 11, 28), job_type=1)
OPPORTUNITY = normalize.SweepOpportunity(opportunity_id="o1", quote_number="100", status=4, customer_name="Ann",
                                         customer_phone=None, customer_email=None, jobs=[SWEEP_JOB])


def detail_with(**job):
    return {"status": 4, "jobs": [{"id": "j1", "arrivalWindow": {"startTime": 9.0, "endTime": 11.0}, **job}]}


def test_record_carries_span_and_job_money():
    record = normalize.job_record(OPPORTUNITY, SWEEP_JOB, detail_with(
        jobTime={"laborTime": {"estimated": 5.25}, "travelTime": {"estimated": 1}},
        actualCharges=[{"totalCost": 612.5}, {"totalCost": "87.55"}, {"totalCost": None}, "junk"], totalTips=40),
        default_hours=4)
    assert (record["span_start"], record["span_end"]) == (datetime(2026, 11, 28, 9), datetime(2026, 11, 28, 15, 15))
    assert (record["actual_charges_cents"], record["tips_cents"]) == (70005, 4000)


def test_record_without_estimates_uses_the_default_hours_and_no_money():
    record = normalize.job_record(OPPORTUNITY, SWEEP_JOB, detail_with(actualCharges=[]), default_hours=2.5)
    assert (record["span_start"], record["span_end"]) == (datetime(2026, 11, 28, 9), datetime(2026, 11, 28, 11, 30))
    assert record["actual_charges_cents"] is None and record["tips_cents"] is None
    no_window = normalize.job_record(OPPORTUNITY, SWEEP_JOB, {"jobs": [{"id": "j1"}]}, default_hours=4)
    assert no_window["span_start"] is None and no_window["span_end"] is None


def test_sync_stores_spans_and_job_money_from_detail(sync_app, sandbox):
    world = sandbox.world
    start, end = window(sync_app)
    truth = world.expected_jobs(start, start)
    completed = next(e["opportunityId"] for e in truth.values() if e["opportunityStatus"] == 4)
    world.set_opportunity_status(completed, 10)
    assert sync(sync_app).status == "SUCCESS"
    truth = world.expected_jobs(start, end)
    with sync_app.app_context():
        stored = {job.external_id: job for job in db.session.scalars(sa.select(TruckJourney))}
    assert set(stored) == set(truth)
    for job_id, expected in truth.items():
        job = stored[job_id]
        begin = datetime.combine(expected["scheduledDate"], datetime.min.time()) \
            + timedelta(hours=expected["arrivalStart"])
        hours = expected["laborHours"] + expected["travelHours"]
        assert (job.span_start, job.span_end) == (begin, begin + timedelta(hours=hours)), job_id
        money = expected["actualCharges"]
        assert job.actual_charges_cents == (round(money * 100) if money is not None else None)
        assert job.tips_cents == round(expected["tips"] * 100)
    paid = [stored[j] for j, e in truth.items() if e["opportunityId"] == completed]
    assert paid and all(job.actual_charges_cents > 0 and job.tips_cents > 0 for job in paid)
    # Travel differs between jobs: the span is not just labour plus a constant.
    assert len({e["travelHours"] for e in truth.values()}) > 1
