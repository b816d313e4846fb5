"""Normalization: both date forms, odd payloads, money, crew, status; pure functions, no database."""
from datetime import date

import pytest

from dashboard.smartmoving import normalize

START, END = date(2026, 7, 20), date(2026, 7, 21)


def customer(jobs, **extra):
    base = {"id": "c1", "name": " Ada Lovelace ", "phoneNumber": "555-0100", "emailAddress": "ada@example.test",
            "opportunities": [{"id": "o1", "quoteNumber": "1042", "status": 4, "jobs": jobs}]}
    base.update(extra)
    return base


@pytest.mark.parametrize("value, expected", [
    ("2026-07-20", date(2026, 7, 20)),
    ("2026-07-20T00:00:00", date(2026, 7, 20)),
    (20260720, date(2026, 7, 20)),
    ("20260720", date(2026, 7, 20)),
    ("2026-13-01", None),
    ("next tuesday", None),
    (None, None),
    (True, None),
    (2026, None),
])
def test_parse_service_date_accepts_both_wire_forms(value, expected):
    assert normalize.parse_service_date(value) == expected


def test_sweep_keeps_only_jobs_inside_the_window():
    jobs = [{"id": "j1", "jobNumber": "1042-1", "serviceDate": "2026-07-19", "type": 3},
            {"id": "j2", "jobNumber": "1042-2", "serviceDate": "2026-07-20", "type": 1},
            {"id": "j3", "jobNumber": "1042-3", "serviceDate": 20260721, "type": 1},
            {"id": "j4", "jobNumber": "1042-4", "serviceDate": "2026-07-22", "type": 1}]
    found = normalize.sweep_opportunities([customer(jobs)], START, END)
    assert list(found) == ["o1"]
    assert [job.job_id for job in found["o1"].jobs] == ["j2", "j3"]
    assert found["o1"].customer_name == "Ada Lovelace"
    assert found["o1"].quote_number == "1042"


def test_sweep_skips_broken_entries_with_warnings_instead_of_failing():
    warnings = []
    bad = [{"id": None, "serviceDate": "2026-07-20"}, {"id": "j9", "serviceDate": None}, "junk",
           {"id": "j2", "jobNumber": 7, "serviceDate": "2026-07-20"}]
    found = normalize.sweep_opportunities(
        [customer(bad), "not a customer", {"id": "c2", "opportunities": [{"jobs": []}, None]}], START, END, warnings)
    assert [job.job_id for job in found["o1"].jobs] == ["j2"]
    assert found["o1"].jobs[0].job_number == "7"
    assert len(warnings) >= 4


def test_opportunity_with_no_job_in_window_is_not_returned():
    found = normalize.sweep_opportunities([customer([{"id": "j1", "serviceDate": "2026-08-01"}])], START, END)
    assert found == {}


def test_fingerprint_changes_with_the_sweep_payload_only():
    one = normalize.sweep_opportunities([customer([{"id": "j1", "serviceDate": "2026-07-20"}])], START, END)["o1"]
    same = normalize.sweep_opportunities([customer([{"id": "j1", "serviceDate": "2026-07-20"}])], START, END)["o1"]
    other = normalize.sweep_opportunities([customer([{"id": "j1", "serviceDate": "2026-07-20", "type": 4}])],
                                          START, END)["o1"]
    assert one.fingerprint == same.fingerprint != other.fingerprint


DETAIL = {
    "id": "o1", "quoteNumber": 1042, "status": 4,
    "customer": {"name": "Ada King", "phoneNumber": "555-0199", "emailAddress": "ada.king@example.test"},
    "branch": {"name": "Toronto Downtown", "phoneNumber": "555-0000"},
    "estimatedTotal": {"subtotal": 1000, "tax": 130, "finalTotal": 1130.456},
    "jobs": [{"id": "j2", "jobNumber": "1042-2", "jobDate": 20260720, "confirmed": True,
              "jobAddresses": ["1 Origin St, Toronto", "5 Middle Rd", "9 Destination Ave, Toronto"],
              "arrivalWindow": {"description": "", "startTime": 8.5, "endTime": 10.0},
              "crewMembers": ["uuid-1", "uuid-2", "Walk-in Helper", "uuid-1"]}],
}


def sweep_opportunity():
    return normalize.sweep_opportunities(
        [customer([{"id": "j2", "jobNumber": "1042-2", "serviceDate": "2026-07-20", "type": 1}])], START, END)["o1"]


def test_job_record_takes_money_addresses_window_and_crew_from_detail():
    opportunity = sweep_opportunity()
    record = normalize.job_record(opportunity, opportunity.jobs[0], DETAIL, {"uuid-1": "Sam", "uuid-2": "Kim"})
    assert record["estimated_value_cents"] == 113046
    assert record["origin_address"] == "1 Origin St, Toronto"
    assert record["destination_address"] == "9 Destination Ave, Toronto"
    assert record["arrival_window"] == "8:30 AM – 10:00 AM"
    assert record["arrival_start_hour"] == 8.5
    assert record["smartmoving_crew"] == ["Sam", "Kim", "Walk-in Helper"]
    assert record["status"] == "CONFIRMED"
    assert record["branch_name"] == "Toronto Downtown"
    assert record["customer_name"] == "Ada King"
    assert record["quote_number"] == "1042"
    assert record["scheduled_date"] == date(2026, 7, 20)


def test_job_record_without_detail_has_only_sweep_columns():
    opportunity = sweep_opportunity()
    record = normalize.job_record(opportunity, opportunity.jobs[0], None)
    assert "estimated_value_cents" not in record and "origin_address" not in record
    assert record["status"] == "BOOKED"
    assert record["job_type"] == "Moving"


@pytest.mark.parametrize("total", [None, "n/a", "NaN", {"x": 1}, True])
def test_odd_money_becomes_none(total):
    detail = dict(DETAIL, estimatedTotal={"finalTotal": total})
    opportunity = sweep_opportunity()
    assert normalize.job_record(opportunity, opportunity.jobs[0], detail)["estimated_value_cents"] is None


def test_detail_with_odd_shapes_does_not_raise():
    detail = {"customer": "nope", "estimatedTotal": [], "branch": None, "jobs": [
        {"id": "j2", "jobAddresses": "not a list", "arrivalWindow": "8-10", "crewMembers": None}]}
    opportunity = sweep_opportunity()
    warnings = []
    record = normalize.job_record(opportunity, opportunity.jobs[0], detail, {}, warnings)
    assert record["origin_address"] is None and record["arrival_window"] is None
    assert record["smartmoving_crew"] == [] and record["customer_name"] == "Ada Lovelace"


def test_detail_job_is_matched_by_number_when_ids_differ():
    detail = dict(DETAIL, jobs=[dict(DETAIL["jobs"][0], id="other-id")])
    opportunity = sweep_opportunity()
    record = normalize.job_record(opportunity, opportunity.jobs[0], detail, {})
    assert record["origin_address"] == "1 Origin St, Toronto"


@pytest.mark.parametrize("code, expected", [(20, "CANCELLED"), (10, "COMPLETED"), (30, "LOST"), (4, "BOOKED"),
                                            (None, "BOOKED"), (99, "BOOKED")])
def test_status_from_opportunity_code(code, expected):
    assert normalize.job_status(code) == expected


def test_address_objects_and_hours_format():
    assert normalize._addresses({"jobAddresses": [{"fullAddress": "A"}, {"fullAddress": "B"}]}) == ("A", "B")
    assert normalize.format_hour(13.25) == "1:15 PM"
    assert normalize.format_hour(0) == "12:00 AM"
    assert normalize.format_hour(25) is None


def test_branch_and_crew_records_need_an_id():
    assert normalize.branch_record({"name": "x"}) is None
    assert normalize.branch_record({"id": "b1", "name": "North", "dispatchLocation": {"fullAddress": "1 A St"}})[
        "address"] == "1 A St"
    assert normalize.crew_record({"id": "m1", "name": "Sam", "branch": {"id": "b1"}, "role": {"name": "Driver"}}) == {
        "external_id": "m1", "name": "Sam", "status": None, "branch_external_id": "b1", "role_name": "Driver"}
