"""One way to draw a job: rows, cards and lane blocks come from templates/jobs/_job.html, money from one formatter."""
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import TruckJourney
from dashboard.models import utcnow
from tests.support import login_as
from tests.support.ui import add_job
from tests.support.ui import add_truck
from tests.support.ui import build_world


@pytest.fixture
def world(app, default_company, make_company, make_location, make_user):
    return build_world(app, default_company, make_company, make_location, make_user)


def varied_day(app, world):
    """Jobs exercising every part of a row: charges and tips, flags, a clash, no time, markup in names."""
    truck = add_truck(app, world.company, "Truck <7>", location=world.loc_a)
    tipped = add_job(app, world.loc_a, customer_name="Tip & Top", job_number="T-1", actual_charges_cents=120000,
                     tips_cents=8000, truck_id=truck, crew=["Ann Ours"], arrival_start_hour=10.5,
                     notes='Bring "straps"', data_source="MANUAL")
    add_job(app, world.loc_a, customer_name="<i>Clash</i>", job_number="X-1", truck_id=truck, arrival_start_hour=10.0,
            removal_pending_at=utcnow(), removal_reason="gone?", sync_status="FAILED", sync_error="boom <x>")
    add_job(app, world.loc_a, customer_name=None, job_number=None, arrival_window=None, arrival_start_hour=None,
            smartmoving_crew=[], estimated_value_cents=None, status="COMPLETED")
    return tipped


def fragment(client, query=""):
    answer = client.get("/" + query, headers={"HX-Request": "true"})
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def test_money_has_one_formatter_working_in_cents():
    from dashboard.formatting import money
    from dashboard.reports.tables import display
    from dashboard.web import TEMPLATE_FILTERS
    assert money(123456) == "$1,234.56" and money(None) == "" and money(-5) == "-$0.05" and money(0) == "$0.00"
    assert money(Decimal("123456.4")) == "$1,234.56" and money(99.6) == "$1.00"   # database sums: whole cents
    assert money(250, whole=True) == "$3" and money(249, whole=True) == "$2" and money(-150, whole=True) == "-$2"
    assert money(123456789, whole=True) == "$1,234,568"
    assert TEMPLATE_FILTERS["money"] is money
    assert display(Decimal("1234550"), "money") == "$12,345.50" and display(250, "dollars") == "$3"


def test_board_module_writes_no_markup():
    """The markup is the template's: board.py hands it data and never escapes by hand."""
    import dashboard.jobs.board as board
    source = Path(board.__file__).read_text()
    assert "escape(" not in source
    assert not any(tag in source for tag in ("<td", "<tr", "<span", "<article", "<a ", "<p "))


@pytest.mark.parametrize("view", ["", "?view=cards", "?view=lanes"])
def test_every_view_escapes_what_smartmoving_sends(app, client, world, view):
    varied_day(app, world)
    login_as(client, world.users["ADMIN"])
    html = fragment(client, view)
    assert "<i>Clash</i>" not in html and "&lt;i&gt;Clash&lt;/i&gt;" in html
    assert "Truck <7>" not in html
    assert f'data-job-id="{world.job_a}"' in html


def test_the_table_draws_charges_tips_and_flags_from_the_macros(app, client, world):
    tipped = varied_day(app, world)
    login_as(client, world.users["ADMIN"])
    html = fragment(client, "?group=none")
    row = html[html.index(f'<tr id="job-{tipped}"'):]
    row = row[:row.index("</tr>")]
    assert '<td class="num">$1,200.00 <small class="tips" title="tips">+$80.00</small></td>' in row
    assert '<span class="flag f-note" title="Bring &#34;straps&#34;">Note</span>' in row
    assert '<span class="flag f-manual">Manual</span>' in row
    assert '<span class="sr-only">Truck for T-1: </span>Truck &lt;7&gt;</a>' in row
    assert 'class="chip chip-status chip-booked">Booked' in row
    assert 'title="boom &lt;x&gt;">Sync failed</span>' in html and 'title="gone?">Removal pending</span>' in html
    assert 'Day total · 5 jobs</th><td class="num money">$29,382.68</td>' in html   # 4 × 7,345.67 and one unknown


def test_a_job_is_drawn_again_only_when_it_changed(app, client, world, monkeypatch):
    """The macros run once per job per data version: the render cache keeps every drawn job by its stamps."""
    from dashboard.jobs import board
    from dashboard.jobs import render_cache
    board.row_cache.clear()
    drawn = []
    real = board.job_macros

    class Counting:
        def __init__(self, macros):
            self.macros = macros

        def __getattr__(self, name):
            macro = getattr(self.macros, name)
            if name not in ("row", "card", "lane_block"):
                return macro
            return lambda job, *rest: (drawn.append(job.id), macro(job, *rest))[1]

    monkeypatch.setattr(board, "job_macros", lambda: Counting(real()))
    login_as(client, world.users["ADMIN"])
    fragment(client)
    assert world.job_a in drawn
    drawn.clear()
    render_cache.partials.clear()
    fragment(client, "?sort=-job")                                  # another cut of the same day: nothing redrawn
    assert drawn == []
    with app.app_context():
        db.session.execute(sa.update(TruckJourney).where(TruckJourney.id == world.job_a)
                           .values(notes="new note", dispatch_updated_at=utcnow()))
        db.session.commit()
    fragment(client, "?sort=-job")
    assert drawn == [world.job_a]


def test_job_page_shows_charges_and_tips_from_cents(app, client, world):
    tipped = varied_day(app, world)
    login_as(client, world.users["ADMIN"])
    html = client.get(f"/jobs/{tipped}").get_data(as_text=True)
    assert '<dd class="money">$7,345.67</dd>' in html and '<dd class="money">$1,200.00</dd>' in html
    assert '<dd class="money">$80.00</dd>' in html


def test_every_css_class_is_drawn_somewhere():
    """A rule for a class no template, script or view writes is dead weight (names built at run time aside)."""
    import re
    root = Path(__file__).resolve().parent.parent
    css = re.sub(r"/\*.*?\*/", "", (root / "static" / "app.css").read_text(), flags=re.S)
    classes = set(re.findall(r"\.([a-zA-Z][\w-]*)", css))
    drawn = "".join(path.read_text() for pattern in ("templates/**/*.html", "static/*.js", "dashboard/**/*.py")
                    for path in root.glob(pattern))
    # chip-{status}, gs-{slot}, outbox-{status} (the outbox badge), …
    built = ("chip-", "badge-sync-", "cols-", "gs-", "ge-", "toast-", "htmx-", "outbox-")
    unused = sorted(name for name in classes if not name.startswith(built)
                    and not re.search(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", drawn))
    assert unused == []
