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


def test_phrases_and_prefixes_find_a_truck_crew_or_job_not_every_number_that_starts_alike(
        app, client, default_company, make_location, make_user, login):
    """Issue 20 §6: "Truck 101" found every job number starting with 101; phrases and prefixes say what is meant."""
    north = make_location("North")
    t101, t202 = add_truck(app, default_company, "101"), add_truck(app, default_company, "Truck 202")
    blue = add_truck(app, default_company, "Big Blue")
    add_job(app, north, job_number="101058-1", customer_name="Ann Arbor", truck_id=t202, smartmoving_crew=["Sam Lee"])
    add_job(app, north, job_number="101058-2", customer_name="Ben Bay", truck_id=t101, crew=["Samantha Ray"])
    add_job(app, north, job_number="1010580", customer_name="Cy Côté", truck_id=blue, crew=["Lee Sam"],
            notes="Rent truck  303 for the piano")   # two spaces
    add_job(app, north, job_number="202-7", customer_name="Dee Dunn", quote_number="Q-101058",
            smartmoving_crew=["Émile Zola"])
    admin = bearer(app, make_user("ADMIN"))

    def found(query):
        answer = client.get("/api/smartmoving/jobs/today", query_string={"q": query}, headers=admin)
        assert answer.status_code == 200, query
        return sorted(job["jobNumber"] for job in answer.get_json()["jobs"])

    cases = {
        "Truck 101": ["101058-2"], "truck 202": ["101058-1"], '"Truck 101"': ["101058-2"],
        '"truck 20"': [], "truck:101": ["101058-2"], "TRUCK:truck 101": [], 'truck:"Truck 101"': ["101058-2"],
        'truck:"big blue"': ["1010580"], "truck:blue": [], "truck:nope": [], "truck 303": ["1010580"],
        "101": ["101058-1", "101058-2", "1010580", "202-7"], "big blue": ["1010580"],
        'crew:"Sam Lee"': ["101058-1"], "crew:sam": ["101058-1", "101058-2", "1010580"], "crew:lee": ["101058-1",
                                                                                                       "1010580"],
        "crew:emile": ["202-7"], "crew:ÉMILE crew:zola": ["202-7"], "crew:am": [],
        "job:101058": ["101058-1", "101058-2"], "job:101058-2": ["101058-2"], "job:10105": [],
        "job:q-101058": ["202-7"], "job:101058 crew:sam": ["101058-1", "101058-2"],
        '"ben bay" truck:101': ["101058-2"], '"cote"': ["1010580"], '"Sam Lee"': ["101058-1"],
        'truck: crew:': ["101058-1", "101058-2", "1010580", "202-7"], '"unclosed phrase': [],
        '"ben   bay"': ["101058-2"], '"303 for"': ["1010580"],
    }
    for query, expected in cases.items():
        assert found(query) == expected, query

    login(make_user("DISPATCHER", locations=[north]))   # the board's search, read from its own rows
    html = client.get("/board", query_string={"q": "Truck 101"}).get_data(as_text=True)
    assert "101058-2" in html and "101058-1" not in html and "1010580" not in html
    html = client.get("/board", query_string={"q": 'crew:"Sam Lee"'}).get_data(as_text=True)
    assert "101058-1" in html and "101058-2" not in html
    assert 'truck:101' in client.get("/board").get_data(as_text=True)   # the box says how
