"""My jobs for the crew's phone (issue 20 §9–10): you marked on each crew with your role, directions from origin
to destination and between stops, the office's phone, a Today · Tomorrow jump bar, no API tokens entry for crews."""
import html as htmllib
import re
from urllib.parse import parse_qs
from urllib.parse import urlsplit

from dashboard.db import db
from dashboard.jobs import my_day
from dashboard.models import CrewMember
from dashboard.models import Location
from dashboard.models import TruckJourney
from dashboard.models import User
from tests.support import login_as
from tests.support.ui import add_crew_member
from tests.support.ui import add_job
from tests.support.ui import tomorrow_of

KING, BAY = "1 King St W, Toronto", "20 Bay St & Co #4, Toronto"
DENIS, ELM = "Rue Saint-Denis 5/7, Montréal", "9 Elm St?, Oakville"


def _directions(href):
    """(base, {query: value}) of a directions link as the page writes it."""
    parts = urlsplit(htmllib.unescape(href))
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    return f"{parts.scheme}://{parts.netloc}{parts.path}", query


def _crew_world(app, default_company, make_location, make_user):
    """North (office 416 555 0100) with Dana (driver, linked to a DRIVER user) and Mo (mover, a MOVER user):
    today Dana drives J-1 (8:00), then a cancelled J-2 (10:00), then J-3 (13:00) with Mo; tomorrow J-4."""
    north = make_location("North")
    dana, mo = add_crew_member(app, default_company, "Dana Driver"), add_crew_member(app, default_company, "Mo Mover")
    with app.app_context():
        db.session.get(Location, north.id).phone = "4165550100"
        db.session.get(CrewMember, dana).role = "driver"
        db.session.get(CrewMember, mo).role = "mover"
        db.session.commit()
    jobs = {
        "J-1": add_job(app, north, job_number="J-1", origin_address=KING, destination_address=BAY,
                       crew=["Mo Mover", "Dana Driver"]),
        "J-2": add_job(app, north, job_number="J-2", arrival_window="10:00 - 11:00", arrival_start_hour=10.0,
                       crew=["Dana Driver"], status="CANCELLED", origin_address="Nowhere 1",
                       destination_address="Nowhere 2"),
        "J-3": add_job(app, north, job_number="J-3", arrival_window="13:00 - 14:00", arrival_start_hour=13.0,
                       origin_address=DENIS, destination_address=ELM, smartmoving_crew=["Dana Driver", "Mo Mover"]),
        "J-4": add_job(app, north, job_number="J-4", day=tomorrow_of(app), crew=["Dana Driver"]),
        "JOB-NINE": add_job(app, north, job_number="JOB-NINE", crew=["Mo Mover"]),   # not Dana's
    }
    driver = make_user("DRIVER", crew_name="Dana Driver")
    mover = make_user("MOVER", crew_name="Mo Mover")
    return jobs, driver, mover


def _card(page, job_number):
    """The <article> of job_number on a My jobs page."""
    at = page.index(f"#{job_number}<")
    return page[page.rindex("<article", 0, at):page.index("</article>", at)]


def test_my_jobs_marks_you_gives_directions_between_stops_and_the_office_phone(
        app, client, default_company, make_location, make_user):
    jobs, driver, _mover = _crew_world(app, default_company, make_location, make_user)
    login_as(client, driver)
    page = client.get("/my-jobs").get_data(as_text=True)
    assert "JOB-NINE" not in page
    first, cancelled, last = _card(page, "J-1"), _card(page, "J-2"), _card(page, "J-3")

    seats = re.findall(r"<li( class=\"is-you\")?>(.*?)</li>", first)
    assert [(bool(mark), re.sub(r"<[^>]+>", "", text).split()) for mark, text in seats] == [
        (False, ["Mo", "Mover", "·", "Mover"]), (True, ["Dana", "Driver", "You", "·", "Driver"])]
    assert 'class="my-role">Driver<' in first and "You are <strong>Dana Driver</strong> · Driver" in page
    assert 'href="tel:4165550100"' in first and "(416) 555-0100" in first

    base, query = _directions(re.search(r'class="[^"]*my-directions[^"]*" href="([^"]+)"', first).group(1))
    assert base == "https://www.google.com/maps/dir/" and query == {"api": "1", "origin": KING, "destination": BAY}
    assert "my-leg" not in first and "my-leg" not in cancelled   # nothing before the first stop; nobody drives to J-2
    assert "Cancelled: no need to go" in cancelled and "my-directions" not in cancelled   # nobody is sent to J-2
    assert "no need to go" not in first and "my-job-off" in cancelled and "my-job-off" not in first
    leg = re.search(r'class="btn btn-tap my-leg" href="([^"]+)"[^>]*>Directions from job #J-1<', last)
    assert _directions(leg.group(1))[1] == {"api": "1", "origin": BAY, "destination": DENIS}   # skips cancelled J-2
    assert "%C3%A9" in leg.group(1) and "%26" in leg.group(1) and "#" not in leg.group(1)   # encoded, not cut at #
    assert re.search(r"<li class=\"is-you\">Dana Driver <strong class=\"you-mark\">You</strong>", last)
    assert "SmartMoving's crew" in last and "SmartMoving's crew" not in first

    jump = page.index('class="day-jump"')   # Tomorrow is one tap from the top, before today's first job
    assert jump < page.index('href="#day-tomorrow"') < page.index("#J-1<") < page.index('id="day-tomorrow"')
    assert page.index('id="day-tomorrow"') < page.index("#J-4<")


def test_directions_need_both_addresses_and_my_day_reads_you_by_id_only(app, default_company, make_location,
                                                                        make_user):
    assert my_day.directions_url("A St", " ") is None and my_day.directions_url(None, "B St") is None
    assert my_day.directions_url("1 A St", "2 B St") == (
        "https://www.google.com/maps/dir/?api=1&origin=1+A+St&destination=2+B+St")
    jobs, driver, _mover = _crew_world(app, default_company, make_location, make_user)
    with app.app_context():
        from_db = db.session.get(User, driver.id)
        job = db.session.get(TruckJourney, jobs["J-1"])
        job.crew_member_ids = [None, None]   # the same names, typed by hand: nobody is "you"
        [drawn] = my_day.my_day(from_db, [job], {})
        assert [seat.is_you for seat in drawn.seats] == [False, False] and drawn.my_role is None
        assert drawn.office_phone == "4165550100" and drawn.leg is None


def test_crews_see_no_api_tokens_entry_but_dispatchers_do(app, client, default_company, make_location, make_user):
    _jobs, driver, mover = _crew_world(app, default_company, make_location, make_user)
    for crew_user in (driver, mover):
        login_as(client, crew_user)
        assert "API tokens" not in client.get("/my-jobs").get_data(as_text=True), crew_user.role
    login_as(client, make_user("DISPATCHER", locations=[make_location("South")]))
    assert "API tokens" in client.get("/my-jobs").get_data(as_text=True)


def test_an_open_my_jobs_redraws_when_the_office_changes_your_role(app, client, default_company, make_location,
                                                                   make_user):
    _jobs, driver, _mover = _crew_world(app, default_company, make_location, make_user)
    login_as(client, driver)
    poll = {"HX-Request": "true", "HX-Trigger": "my-jobs-live"}
    etag = client.get("/my-jobs", headers=poll).headers["ETag"]
    assert client.get("/my-jobs", headers=poll | {"If-None-Match": etag}).status_code == 304
    with app.app_context():
        db.session.get(CrewMember, db.session.get(User, driver.id).crew_member_id).role = "foreman"
        db.session.commit()
    redrawn = client.get("/my-jobs", headers=poll | {"If-None-Match": etag})
    assert redrawn.status_code == 200 and 'class="my-role">Foreman<' in redrawn.get_data(as_text=True)
