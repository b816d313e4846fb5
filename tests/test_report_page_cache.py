"""The /reports page's rendered report is cached per worker (dashboard/reports/page_cache.py): a second
identical read builds nothing, and anything the report depends on — a job edit, a truck, a role, the
clock passing a cutoff — gives a freshly built one; money never reaches a role that may not see it."""
import threading
from datetime import datetime
from datetime import timedelta
from types import SimpleNamespace

import pytest

from dashboard.db import db
from dashboard.models import TruckJourney
from dashboard.models import User
from dashboard.reports import page_cache
from dashboard.reports import views as report_views
from dashboard.reports.params import ReportRange
from dashboard.timeutil import company_today
from tests.support import csrf_token_from
from tests.support import login_as
from tests.support.ui import add_job
from tests.support.ui import add_truck


def _at(day, hours):
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=hours)


@pytest.fixture
def shop(app, default_company, make_location, make_user):
    """Two past days and tomorrow at Alpha, one truck, a manager (money) and a dispatcher (none)."""
    alpha = make_location("Alpha", external_id="br-alpha")
    with app.app_context():
        today = company_today(default_company.timezone)
    truck = add_truck(app, default_company, "T1", alpha)
    days = (today - timedelta(days=2), today - timedelta(days=1), today + timedelta(days=1))
    jobs = [add_job(app, alpha, day, span_start=_at(day, 8), span_end=_at(day, 12), truck_id=truck, crew=["Ann"],
                    estimated_value_cents=123_400) for day in days]
    users = {"manager": make_user("MANAGER", locations=[alpha]), "dispatcher": make_user("DISPATCHER",
                                                                                         locations=[alpha])}
    query = {"from": days[0].isoformat(), "to": days[-1].isoformat()}
    return SimpleNamespace(alpha=alpha, company=default_company, days=days, jobs=jobs, truck=truck, users=users,
                           query=query)


@pytest.fixture
def builds(monkeypatch):
    """How many times the page built a report: a spy on the view's build_report."""
    calls = []
    real = report_views.build_report

    def spy(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(report_views, "build_report", spy)
    return calls


def _report(client, shop):
    """The page's HTML without its CSRF tokens (they carry the second they were made)."""
    answer = client.get("/reports/", query_string=shop.query)
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    return html.replace(csrf_token_from(html), "")


def test_a_second_read_is_served_from_the_cache_with_the_page_around_it_fresh(client, shop, builds):
    login_as(client, shop.users["manager"])
    first = client.get("/reports/", query_string=shop.query).get_data(as_text=True)
    second = client.get("/reports/", query_string=shop.query).get_data(as_text=True)
    assert len(builds) == 1
    assert first.replace(csrf_token_from(first), "") == second.replace(csrf_token_from(second), "")
    assert "$3,702" in second and 'data-table="dispatch"' in second   # the report itself is there


def test_an_edit_a_truck_and_a_role_change_each_give_a_new_report(app, client, shop, builds):
    from dashboard.jobs.dispatch import update_dispatch

    login_as(client, shop.users["manager"])
    before = _report(client, shop)
    with app.app_context():   # the first day's job loses its truck: "Truck hours" and the dispatch table move
        job = db.session.get(TruckJourney, shop.jobs[0])
        update_dispatch(job, db.session.get(User, shop.users["manager"].id), None, ["Ann"], job.dispatch_status,
                        None)
        db.session.commit()
    edited = _report(client, shop)
    assert len(builds) == 2 and edited != before

    add_truck(app, shop.company, "T2", shop.alpha)   # capacity doubles: "Trucks busy" halves
    more_trucks = _report(client, shop)
    assert len(builds) == 3 and more_trucks != edited
    assert _report(client, shop) == more_trucks and len(builds) == 3

    with app.app_context():
        db.session.get(User, shop.users["manager"].id).role = "DISPATCHER"
        db.session.commit()
    as_dispatcher = _report(client, shop)
    assert len(builds) == 4
    assert "$" not in as_dispatcher and "Estimated" not in as_dispatcher


def test_money_never_reaches_a_role_without_it_whoever_read_first(client, shop, builds):
    login_as(client, shop.users["manager"])
    assert "$3,702" in _report(client, shop)
    login_as(client, shop.users["dispatcher"])   # same locations, same data, same range
    html = _report(client, shop)
    assert "$" not in html and "Estimated" not in html and "Revenue" not in html
    assert len(builds) == 2
    login_as(client, shop.users["manager"])
    assert "$3,702" in _report(client, shop) and len(builds) == 2   # each viewer's report kept apart


def test_passing_a_cutoff_changes_the_key(app, shop):
    from zoneinfo import ZoneInfo

    from dashboard.reports.operations import day_cutoffs

    tomorrow = shop.days[-1]
    eve, _morning = day_cutoffs(tomorrow, app.config["BOARD_DAY_HOURS"], ZoneInfo(shop.company.timezone))
    report_range = ReportRange(shop.days[0], tomorrow)
    with app.test_request_context():
        user = db.session.get(User, shop.users["manager"].id)
        locations = [db.session.merge(shop.alpha)]

        def key(now_utc):
            return page_cache.report_key(user, report_range, locations, True, app.config, now_utc)[0]

        assert key(eve - timedelta(minutes=2)) == key(eve - timedelta(minutes=1))
        assert key(eve - timedelta(minutes=1)) != key(eve)


def test_concurrent_askers_of_one_key_wait_for_one_build():
    page_cache.forget()
    started, release, built, answers = threading.Event(), threading.Event(), [], []

    def render():
        built.append(1)
        started.set()
        release.wait(5)
        return "<p>report</p>"

    threads = [threading.Thread(target=lambda: answers.append(page_cache.rendered_report(("k",), render)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    started.wait(5)
    release.set()
    for thread in threads:
        thread.join()
    assert built == [1] and answers == ["<p>report</p>"] * 4
    page_cache.forget()


def test_a_new_default_job_length_or_working_day_gives_a_new_report(app, client, shop, builds):
    login_as(client, shop.users["manager"])
    _report(client, shop)
    app.config["DEFAULT_JOB_HOURS"] = float(app.config["DEFAULT_JOB_HOURS"]) + 1
    _report(client, shop)
    assert len(builds) == 2
    start, end = app.config["BOARD_DAY_HOURS"]
    app.config["BOARD_DAY_HOURS"] = (start, end - 1)
    _report(client, shop)
    assert len(builds) == 3
    assert _report(client, shop) and len(builds) == 3   # and unchanged settings are served from the cache
