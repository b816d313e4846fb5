"""The day boards, My jobs, the day sheet and the CSV: scope, money, filters, fragments."""
import csv
import io
import re
from datetime import timedelta

import pytest

from dashboard.db import db
from dashboard.models import RunStatus
from dashboard.models import SyncRun
from dashboard.models import TruckJourney
from dashboard.models import utcnow
from dashboard.timeutil import company_today
from tests.support import csrf_token_from
from tests.support import login_as
from tests.support.crew_pick import picker_value
from tests.support.ui import MONEY_MARKERS
from tests.support.ui import add_job
from tests.support.ui import add_truck
from tests.support.ui import build_world
from tests.support.ui import tomorrow_of


@pytest.fixture
def world(app, default_company, make_company, make_location, make_user):
    return build_world(app, default_company, make_company, make_location, make_user)


def has_money(text):
    return any(marker in text for marker in MONEY_MARKERS)


def test_dispatcher_sees_only_assigned_locations_and_no_money(client, world):
    login_as(client, world.users["DISPATCHER"])
    html = client.get("/").get_data(as_text=True)
    assert "Alice Able" in html
    assert "Bert Beta" not in html and "Carl Other" not in html
    assert not has_money(html)


@pytest.mark.parametrize("role,money", [("MANAGER", True), ("AUDITOR", True), ("ADMIN", True), ("SUPER_ADMIN", True),
                                        ("DISPATCHER", False)])
def test_money_only_for_financial_roles_everywhere(client, world, role, money):
    login_as(client, world.users[role])
    day = world.today.isoformat()
    pages = {
        "board": client.get("/").get_data(as_text=True),
        "fragment": client.get("/", headers={"HX-Request": "true"}).get_data(as_text=True),
        "detail": client.get(f"/jobs/{world.job_a}").get_data(as_text=True),
        "print": client.get(f"/board/print?date={day}").get_data(as_text=True),
        "csv": client.get(f"/board/export.csv?date={day}").get_data(as_text=True),
    }
    for name, text in pages.items():
        assert "Alice Able" in text, name
        assert has_money(text) is money, f"{role} {name}"
    assert ("Estimated value" in pages["csv"].splitlines()[0]) is money


@pytest.mark.parametrize("role", ["DRIVER", "MOVER"])
def test_drivers_and_movers_see_their_own_jobs_without_money(client, world, role):
    login_as(client, world.users[role])
    home = client.get("/")
    assert home.status_code == 302 and home.headers["Location"] == "/my-jobs"
    html = client.get("/my-jobs").get_data(as_text=True)
    assert "Alice Able" in html and "Bert Beta" not in html and "Carl Other" not in html
    assert not has_money(html)
    detail = client.get(f"/jobs/{world.job_a}").get_data(as_text=True)
    assert "Alice Able" in detail and not has_money(detail)
    assert "SmartMoving</h2>" not in detail  # no SmartMoving internals for crews
    assert client.get(f"/jobs/{world.job_b}").status_code == 404


def test_my_jobs_for_a_board_role_lists_only_jobs_naming_them(app, client, world, make_user):
    manager = make_user("MANAGER", locations=[world.loc_a, world.loc_b], crew_name="Bert Boss")
    add_job(app, world.loc_b, customer_name="Named Tomorrow", day=tomorrow_of(app), crew=["bert boss"])
    login_as(client, manager)
    html = client.get("/my-jobs").get_data(as_text=True)
    assert "Named Tomorrow" in html
    assert "Alice Able" not in html and "Bert Beta" not in html
    assert not has_money(html)


def test_my_jobs_warns_a_driver_of_their_own_overlapping_jobs(app, client, world):
    # Dan Driver is on Alice Able's job (08:00-12:00 by the default span) already.
    add_job(app, world.loc_b, customer_name="Clash Nine", job_number="J-9", arrival_start_hour=9.0,
            crew=["Dan  driver"])                                       # overlaps: spelled differently
    add_job(app, world.loc_b, customer_name="After Noon", job_number="J-13", arrival_start_hour=13.0,
            crew=["Dan Driver"])                                        # starts as J-9 ends
    add_job(app, world.loc_b, customer_name="Called Off", job_number="J-10", arrival_start_hour=10.0,
            crew=["Dan Driver"], status="CANCELLED")                    # not live: never clashes
    add_job(app, world.loc_b, customer_name="Not Mine", job_number="J-11", arrival_start_hour=9.0,
            crew=["Mo Mover"])                                          # Mo's clash, not Dan's
    login_as(client, world.users["DRIVER"])
    html = client.get("/my-jobs").get_data(as_text=True)
    cards = {name: html[html.index(name):][:3000].split("</article>")[0]
             for name in ("Alice Able", "Clash Nine", "After Noon", "Called Off")}
    assert "Overlaps your job #J-9 (09:00–13:00): tell dispatch." in cards["Alice Able"]
    assert "Overlaps your job #A-100 (08:00–12:00): tell dispatch." in cards["Clash Nine"]
    assert "Overlaps" not in cards["After Noon"] and "Overlaps" not in cards["Called Off"]
    assert html.count("Overlaps your job") == 2 and "J-11" not in html


def test_today_is_the_companys_day_not_the_servers(app, client, make_company, make_location, make_user):
    # Kiritimati is UTC+14 and Pago Pago UTC-11: their calendar dates always differ.
    far_east = make_company("Line Islands Moving", timezone="Pacific/Kiritimati")
    location = make_location("Kiritimati", company=far_east)
    east_today = company_today("Pacific/Kiritimati")
    west_today = company_today("Pacific/Pago_Pago")
    add_job(app, location, day=east_today, company=far_east, customer_name="East Today")
    add_job(app, location, day=west_today, company=far_east, customer_name="West Today")
    login_as(client, make_user("AUDITOR", company=far_east))
    html = client.get("/").get_data(as_text=True)
    assert "East Today" in html and "West Today" not in html
    assert east_today.isoformat() in html


def test_tomorrow_and_dated_boards(app, client, world):
    add_job(app, world.loc_a, day=tomorrow_of(app), customer_name="Tomorrow Tess")
    login_as(client, world.users["MANAGER"])
    assert "Tomorrow Tess" in client.get("/board/tomorrow").get_data(as_text=True)
    assert "Tomorrow Tess" not in client.get("/").get_data(as_text=True)
    dated = client.get(f"/board?date={tomorrow_of(app).isoformat()}").get_data(as_text=True)
    assert "Tomorrow Tess" in dated
    prev_day = (world.today - timedelta(days=1)).isoformat()
    assert f"date={prev_day}" in client.get("/").get_data(as_text=True)
    assert client.get("/board?date=2025-13-45").status_code == 400
    assert client.get("/board?date=yesterday").status_code == 400


def test_filters_location_status_search(app, client, world):
    add_job(app, world.loc_a, customer_name="Zed Completed", job_number="Z-9", status="COMPLETED")
    login_as(client, world.users["ADMIN"])
    by_location = client.get(f"/?location={world.loc_b.id}").get_data(as_text=True)
    assert "Bert Beta" in by_location and "Alice Able" not in by_location
    by_status = client.get("/?status=COMPLETED").get_data(as_text=True)
    assert "Zed Completed" in by_status and "Alice Able" not in by_status
    by_search = client.get("/?q=a-100").get_data(as_text=True)
    assert "Alice Able" in by_search and "Zed Completed" not in by_search
    by_name = client.get("/?q=zed").get_data(as_text=True)
    assert "Zed Completed" in by_name and "Alice Able" not in by_name
    # Another tenant's location id is ignored, never a way in.
    foreign = client.get(f"/?location={world.loc_c.id}").get_data(as_text=True)
    assert "Carl Other" not in foreign


def test_counts_and_unassigned_highlight(app, client, world):
    truck = add_truck(app, world.company, "T-7")
    add_job(app, world.loc_a, customer_name="Fully Assigned", truck_id=truck, crew=["Ann"], status="CONFIRMED")
    login_as(client, world.users["MANAGER"])
    html = client.get("/").get_data(as_text=True)
    assert "Needs truck <b>1</b>" in html and "Needs crew <b>0</b>" in html  # Alice has SmartMoving's crew, no truck
    assert html.count('class="r-needs"') == 1
    assert "Booked <b>1</b>" in html and "Confirmed <b>1</b>" in html
    only_unassigned = client.get("/?status=NEEDS_ASSIGNMENT").get_data(as_text=True)
    assert "Alice Able" in only_unassigned and "Fully Assigned" not in only_unassigned


def test_fragment_or_page(client, world):
    login_as(client, world.users["MANAGER"])
    fragment = client.get("/?q=alice", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and 'id="board-live"' in body
    # polls keeping its filters
    assert 'hx-trigger="every 10s, board-changed from:body"' in body and 'hx-get="/?q=alice"' in body
    assert "HX-Request" in fragment.headers["Vary"]
    for headers in ({}, {"HX-Request": "true", "HX-Boosted": "true"},
                    {"HX-Request": "true", "HX-History-Restore-Request": "true"}):
        assert "<html" in client.get("/", headers=headers).get_data(as_text=True), headers


def test_sync_freshness_line(app, client, world):
    login_as(client, world.users["MANAGER"])
    assert "data may be out of date" in client.get("/").get_data(as_text=True)
    with app.app_context():
        now = utcnow()
        db.session.add(SyncRun(company_id=world.company.id, trigger="scheduled", window_start=world.today,
                               window_end=world.today, status=RunStatus.SUCCESS.value,
                               started_at=now - timedelta(minutes=4), finished_at=now - timedelta(minutes=3)))
        db.session.commit()
    html = client.get("/").get_data(as_text=True)
    assert "data may be out of date" not in html
    assert "Last synced <time" in html and "data-relative>3 min ago</time>" in html


def test_html_in_customer_names_is_escaped(app, client, world):
    add_job(app, world.loc_a, customer_name='<script>alert("x")</script>', notes="<img src=x onerror=alert(1)>")
    login_as(client, world.users["MANAGER"])
    for path in ("/", "/board/print", "/jobs/4"):
        html = client.get(path).get_data(as_text=True)
        assert '<script>alert("x")</script>' not in html, path
        assert "&lt;script&gt;" in html, path
    assert "<img src=x" not in client.get("/").get_data(as_text=True)


def test_print_sheet_groups_by_location(client, world):
    login_as(client, world.users["ADMIN"])
    html = client.get(f"/board/print?date={world.today.isoformat()}").get_data(as_text=True)
    assert html.index("Alpha Branch") < html.index("Alice Able") < html.index("Beta Branch") < html.index("Bert Beta")
    assert "data-print" in html


def test_csv_neutralises_formulas(app, client, world):
    add_job(app, world.loc_a, customer_name="=HYPERLINK(\"http://evil\")", notes="+1 call", job_number="@x")
    login_as(client, world.users["MANAGER"])
    response = client.get(f"/board/export.csv?date={world.today.isoformat()}&location={world.loc_a.id}")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    cells = [cell for row in rows[1:] for cell in row]
    assert "'=HYPERLINK(\"http://evil\")" in cells and "'+1 call" in cells and "'@x" in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)
    assert "7345.67" in cells
    assert all(row[1] == "Alpha Branch" for row in rows[1:])


def test_polled_partial_answers_304_until_something_changes(app, client, world):
    login_as(client, world.users["DISPATCHER"])
    headers = {"HX-Request": "true"}
    first = client.get("/", headers=headers)
    assert first.status_code == 200 and first.headers["ETag"]
    etag = first.headers["ETag"].strip('"')
    again = client.get("/", headers={**headers, "If-None-Match": f'"{etag}"'})
    assert again.status_code == 304 and again.get_data() == b""
    other_filter = client.get("/?q=zzz", headers={**headers, "If-None-Match": f'"{etag}"'})
    assert other_filter.status_code == 200
    with app.app_context():
        job = db.session.get(TruckJourney, world.job_a)
        job.notes, job.dispatch_updated_at = "Changed elsewhere", utcnow()
        db.session.commit()
    changed = client.get("/", headers={**headers, "If-None-Match": f'"{etag}"'})
    assert changed.status_code == 200 and "Changed elsewhere" in changed.get_data(as_text=True)
    full_page = client.get("/", headers={"If-None-Match": f'"{etag}"'})
    assert full_page.status_code == 200 and "<html" in full_page.get_data(as_text=True)


def test_my_jobs_polls_304_until_dispatch_puts_the_driver_on_another_job(app, client, world):
    login_as(client, world.users["DRIVER"])
    poll = {"HX-Request": "true", "HX-Trigger": "my-jobs-live"}
    first = client.get("/my-jobs", headers=poll)
    html = first.get_data(as_text=True)
    assert first.status_code == 200 and "<html" not in html and 'id="my-jobs-live"' in html
    assert "Alice Able" in html and "Bert Beta" not in html
    etag = first.headers["ETag"]
    assert client.get("/my-jobs", headers=poll | {"If-None-Match": etag}).status_code == 304
    with app.app_context():   # dispatch adds Dan to Bert Beta's job
        job = db.session.get(TruckJourney, world.job_b)
        job.crew, job.dispatch_updated_at = ["Dan Driver"], utcnow()
        job.crew_member_ids = [world.users["DRIVER"].crew_member_id]   # My jobs follows the id
        db.session.commit()
    changed = client.get("/my-jobs", headers=poll | {"If-None-Match": etag})
    assert changed.status_code == 200 and "Bert Beta" in changed.get_data(as_text=True)
    assert changed.headers["ETag"] != etag
    # Another user's tag never matches (the tag names who asks).
    login_as(client, world.users["MOVER"])
    assert client.get("/my-jobs", headers=poll | {"If-None-Match": changed.headers["ETag"]}).status_code == 200


def test_the_same_etag_is_never_shared_between_users(app, world):
    dispatcher, manager = app.test_client(), app.test_client()
    login_as(dispatcher, world.users["DISPATCHER"])
    login_as(manager, world.users["MANAGER"])
    tags = {c.get("/", headers={"HX-Request": "true"}).headers["ETag"] for c in (dispatcher, manager)}
    assert len(tags) == 2


def test_board_row_text_helpers():
    from dashboard.formatting import money
    from dashboard.jobs.board import compact_window
    from dashboard.jobs.board import short_address
    from dashboard.web import format_phone
    from dashboard.web import map_link
    assert compact_window("8:00 AM - 10:00 AM") == "8–10 AM"
    assert compact_window("10:30 AM - 12:30 PM") == "10:30 AM–12:30 PM"
    assert compact_window("Morning") == "Morning"
    assert format_phone("4165550199") == "(416) 555-0199" == format_phone("+1 416-555-0199")
    assert format_phone("ext. 12") == "ext. 12"
    assert short_address("1200 King St W, Unit 4, Toronto, ON M5V 1A1") == "1200 King St W, Toronto"
    assert map_link("1 King St, Toronto") == "https://www.google.com/maps/search/?api=1&query=1+King+St%2C+Toronto"
    assert money(123456) == "$1,234.56" and money(None) == "" and money(-5) == "-$0.05"


def test_views_groups_sort_and_totals_stay_in_the_url(app, client, world):
    add_job(app, world.loc_a, customer_name="Zara Late", job_number="A-900", arrival_start_hour=14.0,
            arrival_window="2:00 PM - 4:00 PM", estimated_value_cents=100000, status="CANCELLED")
    login_as(client, world.users["ADMIN"])
    table = client.get("/?sort=-customer&group=none").get_data(as_text=True)
    assert table.index("Zara Late") < table.index("Bert Beta") < table.index("Alice Able")  # customer, descending
    by_hour = client.get("/?group=window").get_data(as_text=True)
    assert by_hour.index("Arrival 08:00–09:00") < by_hour.index("Alice Able") < by_hour.index("Arrival 14:00–15:00")
    assert "Day total · 4 jobs" not in table  # another company's job is not counted
    assert "Day total · 3 jobs" in table and "$15,691.34" in table           # 2 × 7,345.67 + 1,000.00
    assert 'href="/board/print?date=' in table and "sort=-customer" in table.split('rel="next"')[0]
    cards = client.get("/?view=cards").get_data(as_text=True)
    assert cards.count('<article class="jc') == 3 and f'data-job-id="{world.job_a}"' in cards
    lanes = client.get("/?view=lanes").get_data(as_text=True)
    assert "No truck" in lanes and 'class="lb gs-9 ge-25' in lanes           # 08:00 + 4 h on a 06:00 day
    # Jobs waiting for a truck are the work to do: their lane comes before the trucks'.
    add_truck(app, world.company, "Truck 1", location=world.loc_a)
    lanes = client.get("/?view=lanes").get_data(as_text=True)
    assert lanes.index('<span class="lq-title">No truck</span>') < lanes.index(">Truck 1 <small>")   # the queue first
    assert 'class="r-done"' in table                                           # cancelled: calm, never "needs"


def test_assign_in_place_preview_save_and_bulk_accept(app, client, world):
    truck = add_truck(app, world.company, "Truck 7", location=world.loc_a)
    other = add_job(app, world.loc_a, customer_name="Busy Bee", job_number="A-200", truck_id=truck,
                    smartmoving_crew=["Dan Driver"])
    login_as(client, world.users["DISPATCHER"])
    form = client.get(f"/jobs/{world.job_a}/assign", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in form and 'name="truck_id"' in form
    dan, mo = (picker_value(app, world.company, name) for name in ("Dan Driver", "Mo Mover"))   # boxes post ids
    assert f'value="{dan}" checked' in form and f'value="{mo}" checked' in form  # SmartMoving's, pre-ticked
    assert "Truck 7 — busy " in form                                                   # busy at that time
    preview = client.get(f"/jobs/{world.job_a}/assign/preview?truck_id={truck}&crew=Dan+Driver").get_data(as_text=True)
    assert "Truck 7 is also on job A-200" in preview and "Crew member Dan Driver is also on job A-200" in preview
    token = csrf_token_from(form)
    version = re.search(r'name="version" type="hidden" value="([^"]*)"', form).group(1)
    saved = client.post(f"/jobs/{world.job_a}/assign", headers={"HX-Request": "true"}, data={
        "csrf_token": token, "version": version, "truck_id": str(truck), "crew": ["Dan Driver", "Mo Mover"],
        "crew_other": "Hal Helper", "dispatch_status": "UNASSIGNED", "notes": ""})
    assert saved.status_code == 200 and "board-changed" in saved.headers["HX-Trigger"]
    assert "Saved A-100." in saved.get_data(as_text=True)
    with app.app_context():
        job = db.session.get(TruckJourney, world.job_a)
        assert job.truck_id == truck and job.crew == ["Dan Driver", "Mo Mover", "Hal Helper"]
        assert job.dispatch_status == "ASSIGNED"
    board = client.get("/").get_data(as_text=True)
    # two jobs (truck and Dan Driver)
    assert board.count('class="flag f-conflict"') == 2 and "Conflicts <b>2</b>" in board
    bulk = client.post("/board/accept-crew", data={"csrf_token": token, "job": [str(other), "999999"]},
                       headers={"HX-Request": "true"})
    assert "Accepted SmartMoving&#39;s crew on 1 job." in bulk.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(TruckJourney, other).crew == ["Dan Driver"]


def test_a_day_outside_the_synced_window_says_so(app, client, world):
    login_as(client, world.users["ADMIN"])
    far = (world.today + timedelta(days=30)).isoformat()
    html = client.get(f"/board?date={far}").get_data(as_text=True)
    assert "outside the synced window" in html and "Sync this day" in html and f'name="date" value="{far}"' in html
    login_as(client, world.users["DISPATCHER"])
    html = client.get(f"/board?date={far}").get_data(as_text=True)
    assert "outside the synced window" in html and "Sync this day" not in html


def test_assign_in_place_refuses_bad_input_with_the_form_again(app, client, world):
    login_as(client, world.users["DISPATCHER"])
    form = client.get(f"/jobs/{world.job_a}/assign", headers={"HX-Request": "true"}).get_data(as_text=True)
    answer = client.post(f"/jobs/{world.job_a}/assign", headers={"HX-Request": "true"}, data={
        "csrf_token": csrf_token_from(form), "version": re.search(r'name="version" type="hidden" value="([^"]*)"',
                                                                 form).group(1),
        "truck_id": "999999", "dispatch_status": "ASSIGNED", "crew_other": "x" * 90})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and 'name="truck_id"' in html  # htmx swaps 2xx only: the form, with why
    assert "Truck: Not a valid choice" in html and "longer than 80 characters" in html
    with app.app_context():
        assert db.session.get(TruckJourney, world.job_a).truck_id is None


def test_a_lane_turns_red_for_its_truck_double_booked_not_for_a_crew_clash(app, client, world):
    busy, calm = (add_truck(app, world.company, name, location=world.loc_a) for name in ("Truck 71", "Truck 72"))
    for truck in (busy, busy):
        add_job(app, world.loc_a, arrival_start_hour=8.0, truck_id=truck, smartmoving_crew=[])
    for truck in (calm, None):   # the same person on two jobs at once: a crew clash, not the truck's
        add_job(app, world.loc_a, arrival_start_hour=13.0, truck_id=truck, smartmoving_crew=["Pat Porter"])
    login_as(client, world.users["ADMIN"])
    lanes = client.get("/?view=lanes").get_data(as_text=True)
    lane_class = {name: cls for cls, name in re.findall(r'<div class="lane([^"]*)" role="listitem"><span '
                                                         r'class="lane-name">([^<]+?) <small>', lanes)}
    assert "lane-conflict" in lane_class["Truck 71"] and "lane-conflict" not in lane_class["Truck 72"]
    assert lanes.count('lb-conflict') == 4 and "no crew</small>" in lanes
