"""Board search over customer, numbers, addresses, phone, crew, truck and notes; which days were synced."""
from datetime import timedelta

from dashboard.db import db
from dashboard.jobs.queries import day_is_synced
from dashboard.models import SyncRun
from tests.support.api import bearer
from tests.support.ui import add_job
from tests.support.ui import add_truck
from tests.support.ui import today_of


def test_search_finds_jobs_by_every_field_within_scope(app, client, default_company, make_location, make_user):
    north, south = make_location("North"), make_location("South")
    truck = add_truck(app, default_company, "Big Blue")
    add_job(app, north, job_number="J-1", customer_name="Amélie Côté", customer_phone="(555) 010-1",
            origin_address="12 Bay St W, Toronto", destination_address="4 Elm St, Oakville",
            smartmoving_crew=["Dan Driver"], quote_number="Q-77")
    add_job(app, north, job_number="J-2", customer_name="Bob Brown", customer_phone="416-555-0199",
            crew=["Zoe Zhang"], smartmoving_crew=["Dan Driver"], truck_id=truck, notes="Piano on the 3rd floor")
    add_job(app, south, job_number="J-3", customer_name="Carl South", customer_phone="555 0101",
            smartmoving_crew=["Kim Mover"])
    admin = bearer(app, make_user("ADMIN"))
    dispatcher = bearer(app, make_user("DISPATCHER", locations=[north]))

    def found(query, headers=admin):
        answer = client.get("/api/smartmoving/jobs/today", query_string={"q": query}, headers=headers)
        return sorted(job["jobNumber"] for job in answer.get_json()["jobs"])

    cases = {
        "amelie": ["J-1"], "CÔTÉ": ["J-1"], "j-2": ["J-2"], "q-77": ["J-1"], "bay st": ["J-1"],
        "oakville": ["J-1"], "555 0101": ["J-1", "J-3"], "(555) 010-1": ["J-1", "J-3"], "5550199": ["J-2"],
        "zoe": ["J-2"], "dan driver": ["J-1", "J-2"], "big blue": ["J-2"], "piano": ["J-2"],
        "bob piano": ["J-2"], "bob oakville": [], "kim": ["J-3"], "nobody": [], "  ": ["J-1", "J-2", "J-3"],
    }
    for query, expected in cases.items():
        assert found(query) == expected, query
    assert found("555 0101", dispatcher) == ["J-1"]  # South stays out of scope
    assert found("kim", dispatcher) == []


def test_day_is_synced_only_inside_a_successful_run_window(app, default_company, make_company):
    other = make_company("Other Movers")
    today = today_of(app)
    with app.app_context():
        for company, status, start, end in ((default_company, "SUCCESS", 0, 1), (default_company, "PARTIAL", 3, 3),
                                            (default_company, "FAILED", 5, 6), (default_company, "RUNNING", 7, 7),
                                            (other, "SUCCESS", 9, 9)):
            db.session.add(SyncRun(company_id=company.id, trigger="test", status=status,
                                   window_start=today + timedelta(days=start), window_end=today + timedelta(days=end)))
        db.session.commit()
        synced = [offset for offset in range(-1, 11)
                  if day_is_synced(default_company.id, today + timedelta(days=offset))]
    assert synced == [0, 1, 3]
