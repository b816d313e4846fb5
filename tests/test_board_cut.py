"""The board's header counts (conflicts apart from short-staffed jobs), the capped lanes' notice, and views cut
from one read of the day (jobs.board_cut)."""
import re

import pytest

from dashboard.db import db
from dashboard.jobs import board as dayboard
from dashboard.jobs import board_cut
from dashboard.models import Company
from tests.support import login_as
from tests.support.readiness import add_member
from tests.support.readiness import at
from tests.support.ui import add_job
from tests.support.ui import add_truck
from tests.support.ui import today_of


def fragment(client, query=""):
    answer = client.get("/" + query, headers={"HX-Request": "true"})
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def count_of(html, label):
    """The number the header shows next to label ("Conflicts" -> 2)."""
    found = re.search(re.escape(label) + r" <b>(\d+)</b>", html)
    assert found, label
    return int(found.group(1))


@pytest.fixture
def staffed_day(app, default_company, make_location, make_user):
    """A morning job short of people and of a driver, two afternoon jobs sharing a truck and a driver, a dispatcher."""
    class Day:
        pass
    d = Day()
    loc = make_location("Alpha")
    day = today_of(app)
    seven, eight = (add_truck(app, default_company, name, location=loc) for name in ("Truck 7", "Truck 8"))
    dana = add_member(app, default_company, "Dana Driver", role="driver", location=loc)
    mo = add_member(app, default_company, "Mo Mover", role="mover", location=loc)

    def job(number, start, end, **fields):
        return add_job(app, loc, job_number=number, customer_name=f"Client {number}", span_start=at(day, start),
                       span_end=at(day, end), arrival_start_hour=float(start), smartmoving_crew=[], **fields)
    d.short = job("S-1", 8, 10, truck_id=seven, crew=["Mo Mover"], crew_member_ids=[mo], crew_required=3)
    d.first = job("C-1", 13, 15, truck_id=eight, crew=["Dana Driver"], crew_member_ids=[dana])
    d.second = job("C-2", 14, 16, truck_id=eight, crew=["Dana Driver"], crew_member_ids=[dana])
    d.user = make_user("DISPATCHER", locations=[loc])
    return d


def test_conflicts_count_clashes_and_short_staffed_counts_crew_size_and_drivers(app, client, staffed_day):
    """Issue 20: "Conflicts" counted understaffed and no-driver flags too. Now a clash (truck, crew, time off,
    truck out) is a conflict; a crew short of its size or without a driver is short-staffed; each count is the
    filter it links to."""
    login_as(client, staffed_day.user)
    html = fragment(client)
    assert count_of(html, "Conflicts") == 2 and count_of(html, "Short-staffed") == 1
    assert 'href="/?status=SHORT_STAFFED"' in html and 'href="/?status=CONFLICT"' in html
    clashes = fragment(client, "?status=CONFLICT")
    assert "C-1" in clashes and "C-2" in clashes and "S-1" not in clashes
    short = fragment(client, "?status=SHORT_STAFFED")
    assert "S-1" in short and "C-1" not in short and "C-2" not in short
    assert 'value="SHORT_STAFFED"' in client.get("/").get_data(as_text=True)   # the filter form offers it too


def test_the_print_sheet_filters_conflicts_as_the_board_does(app, client, staffed_day):
    login_as(client, staffed_day.user)
    sheet = client.get("/board/print?status=CONFLICT").get_data(as_text=True)
    assert "C-1" in sheet and "S-1" not in sheet
    assert "S-1" in client.get("/board/print?status=SHORT_STAFFED").get_data(as_text=True)


def test_capped_lanes_say_how_many_they_show_and_link_to_the_table(app, client, staffed_day, monkeypatch):
    """Issue 20 §15 capped the lanes silently: now they say "Showing N of M" and link to the table (and to more
    lanes while ?all=1 would show more)."""
    monkeypatch.setattr(dayboard, "LANE_ROWS", 1)
    monkeypatch.setattr(dayboard, "PAGE_ROWS", 1)
    login_as(client, staffed_day.user)
    lanes = fragment(client, "?view=lanes")
    notice = re.search(r'<p class="more-rows" data-lanes-capped>(.*?)</p>', lanes, re.S)
    assert notice, lanes
    assert "Showing 1 of 3 jobs" in notice.group(1)
    assert 'href="/"' in notice.group(1)                      # the table: the same filters, no view=lanes
    assert 'href="/?view=lanes&amp;all=1"' in notice.group(1)
    everything = fragment(client, "?view=lanes&all=1")
    assert "data-lanes-capped" not in everything               # all three fit under MAX_ROWS
    monkeypatch.setattr(dayboard, "LANE_ROWS", 600)
    monkeypatch.setattr(dayboard, "PAGE_ROWS", 200)
    assert "data-lanes-capped" not in fragment(client, "?view=lanes&_n=2")


def test_the_second_viewer_of_a_view_is_served_the_same_cut(app, client, staffed_day):
    """One cut per (data version, locations, filters, order): another URL of the same view reuses it, and
    another order is its own cut of the same day."""
    board_cut.views.clear()
    login_as(client, staffed_day.user)
    fragment(client, "?sort=customer")
    assert len(board_cut.views) == 1
    fragment(client, "?sort=customer&_n=1")                  # another URL, the same view
    assert len(board_cut.views) == 1
    html = fragment(client, "?sort=-customer")
    assert len(board_cut.views) == 2
    assert html.index("Client S-1") < html.index("Client C-2") < html.index("Client C-1")


def group_heads(html):
    """{label: job count} of the table's group header rows."""
    return {label.strip(): int(count) for label, count in
            re.findall(r'<tr class="g-head"><th[^>]*>([^<]*)<span class="g-count">\s*(\d+) job', html)}


def test_all_companies_board_keeps_same_named_locations_of_two_companies_apart(
        app, client, default_company, make_company, make_location, make_user):
    """QA: the super admin's "All companies" board merged Mississauga of two companies (13 jobs = 9 + 4), its
    totals too. Groups are one per location id, labelled "Company · Location" when the board spans companies."""
    harbour = make_company("Harbour Movers")
    ours, theirs = make_location("Mississauga"), make_location("Mississauga", company=harbour)
    with app.app_context():
        demo_name = db.session.get(Company, default_company.id).name
    for number in range(3):
        add_job(app, ours, job_number=f"D-{number}", estimated_value_cents=100_00)
    add_job(app, theirs, day=today_of(app), job_number="H-1", estimated_value_cents=7_00)
    login_as(client, make_user("SUPER_ADMIN"))
    heads = group_heads(fragment(client, "?group=location"))
    assert heads == {f"{demo_name} · Mississauga": 3, "Harbour Movers · Mississauga": 1}


def test_one_company_board_labels_groups_by_location_alone(app, client, default_company, make_location, make_user):
    """A board of one company keeps plain location labels (and two of its locations stay two groups)."""
    east, west = make_location("East"), make_location("West")
    add_job(app, east, job_number="E-1")
    add_job(app, west, job_number="W-1")
    add_job(app, west, job_number="W-2")
    login_as(client, make_user("ADMIN"))
    assert group_heads(fragment(client, "?group=location")) == {"East": 1, "West": 2}
