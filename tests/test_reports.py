"""Reports: sums against hand-counted jobs, role and location scoping of page, CSV and JSON, range limits."""
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import AuditEvent
from dashboard.models import Truck
from dashboard.models import TruckJourney
from dashboard.timeutil import company_today
from tests.support import login_as
from tests.support.ui import add_job

API = "/api/smartmoving/summary"


@pytest.fixture
def ledger(app, default_company, make_company, make_location, make_user):
    """Jobs counted by hand (cents in comments), two locations of ours and one of a rival company.

    Alpha, day 1: booked 1000.00 (actual 1100.00, tips 50.00), completed 500.00, cancelled 700.00,
                  removed 999.00                      -> jobs 3, completed 1, cancelled 1, removed 1, value 1500.00
    Alpha, day 2: completed 200.00 (actual 180.00)    -> jobs 1, completed 1, value 200.00
    Beta,  day 1: booked 300.00                       -> jobs 1, value 300.00
    Rival, day 1: booked 9999.99 (another company: nobody of ours sees it)
    """
    alpha = make_location("Alpha", external_id="br-alpha")
    beta = make_location("Beta", external_id="br-beta")
    rival_company = make_company("Rival Movers")
    rival = make_location("Rival", company=rival_company)
    with app.app_context():
        today = company_today(default_company.timezone)
    day1, day2 = today - timedelta(days=3), today - timedelta(days=2)
    add_job(app, alpha, day1, estimated_value_cents=100000, actual_charges_cents=110000, tips_cents=5000)
    add_job(app, alpha, day1, estimated_value_cents=50000, status="COMPLETED")
    add_job(app, alpha, day1, estimated_value_cents=70000, status="CANCELLED")
    add_job(app, alpha, day1, estimated_value_cents=99900, sync_status="REMOVED")
    add_job(app, alpha, day2, estimated_value_cents=20000, status="COMPLETED", actual_charges_cents=18000, tips_cents=0)
    add_job(app, beta, day1, estimated_value_cents=30000)
    add_job(app, rival, day1, company=rival_company, estimated_value_cents=999999)
    users = {role: make_user(role, locations=[alpha] if role in ("DISPATCHER", "MANAGER") else [])
             for role in ("SUPER_ADMIN", "ADMIN", "DISPATCHER", "MANAGER", "AUDITOR", "DRIVER")}
    return SimpleNamespace(alpha=alpha, beta=beta, rival=rival, day1=day1, day2=day2, today=today, users=users,
                           range={"from": day1.isoformat(), "to": day2.isoformat()})


def _get(client, user, path, **params):
    login_as(client, user)
    return client.get(path, query_string=params)


def test_summary_sums_match_the_hand_count(client, ledger):
    response = _get(client, ledger.users["ADMIN"], API, **ledger.range)
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["from"] == ledger.day1.isoformat() and body["to"] == ledger.day2.isoformat()
    rows = {(row["date"], row["location"]["name"]): row for row in body["rows"]}
    assert set(rows) == {(ledger.day1.isoformat(), "Alpha"), (ledger.day1.isoformat(), "Beta"),
                         (ledger.day2.isoformat(), "Alpha")}
    assert rows[(ledger.day1.isoformat(), "Alpha")] == {
        "date": ledger.day1.isoformat(), "location": {"id": ledger.alpha.id, "name": "Alpha"},
        "jobs": 3, "completed": 1, "cancelled": 1, "estimatedValue": 1500.0}
    assert rows[(ledger.day2.isoformat(), "Alpha")]["estimatedValue"] == 200.0
    assert rows[(ledger.day1.isoformat(), "Beta")]["jobs"] == 1
    assert body["totals"] == {"jobs": 5, "completed": 2, "cancelled": 1, "estimatedValue": 2000.0}


def test_summary_is_scoped_like_the_boards(client, ledger):
    manager = _get(client, ledger.users["MANAGER"], API, **ledger.range).get_json()
    assert {row["location"]["name"] for row in manager["rows"]} == {"Alpha"}
    assert manager["totals"] == {"jobs": 4, "completed": 2, "cancelled": 1, "estimatedValue": 1700.0}

    dispatcher = _get(client, ledger.users["DISPATCHER"], API, **ledger.range).get_json()
    assert dispatcher["totals"] == {"jobs": 4, "completed": 2, "cancelled": 1}
    assert all("estimatedValue" not in row for row in dispatcher["rows"])

    alone = _get(client, ledger.users["ADMIN"], API, location=ledger.beta.id, **ledger.range).get_json()
    assert alone["totals"]["jobs"] == 1 and alone["totals"]["estimatedValue"] == 300.0

    everything = _get(client, ledger.users["SUPER_ADMIN"], API, **ledger.range).get_json()
    assert everything["totals"]["jobs"] == 6 and everything["totals"]["estimatedValue"] == 12000.0 - 0.01

    assert _get(client, ledger.users["DRIVER"], API, **ledger.range).status_code == 403


@pytest.mark.parametrize("params, message", [
    ({}, "required"),
    ({"from": "2025-01-01"}, "required"),
    ({"from": "2025-13-01", "to": "2025-12-31"}, "from must be a date"),
    ({"from": "2025-02-01", "to": "2025-01-31"}, "not be before"),
    ({"from": "2024-01-01", "to": "2025-01-01"}, "366 days"),
    ({"from": "0001-01-01", "to": "0001-01-02"}, "date"),
    ({"from": "2025-01-01", "to": "2025-01-02", "location": "²"}, "location"),
    ({"from": "2025-01-01", "to": "2025-01-02", "location": "99999999999999999999"}, "location"),
])
def test_summary_refuses_bad_ranges_with_422(client, ledger, params, message):
    response = _get(client, ledger.users["ADMIN"], API, **params)
    assert response.status_code == 422
    assert response.get_json()["error"] == "invalid" and message in response.get_json()["message"]


def test_summary_allows_366_days_and_refuses_other_peoples_locations(client, ledger):
    year = {"from": "2024-01-01", "to": "2024-12-31"}  # a leap year: 366 days
    assert _get(client, ledger.users["ADMIN"], API, **year).status_code == 200
    assert _get(client, ledger.users["ADMIN"], API, location=ledger.rival.id, **ledger.range).status_code == 422
    assert _get(client, ledger.users["MANAGER"], API, location=ledger.beta.id, **ledger.range).status_code == 422


def test_page_shows_money_to_managers_and_none_to_dispatchers(client, ledger):
    manager = _get(client, ledger.users["MANAGER"], "/reports/", **ledger.range)
    html = manager.get_data(as_text=True)
    assert manager.status_code == 200 and manager.headers["Cache-Control"] == "no-store"
    assert "$1,700" in html and "Beta" not in html and "Rival" not in html
    assert html.count("<svg") == 3  # revenue, jobs, utilisation

    dispatcher = _get(client, ledger.users["DISPATCHER"], "/reports/", **ledger.range)
    html = dispatcher.get_data(as_text=True)
    assert dispatcher.status_code == 200
    assert "$" not in html and "Estimated" not in html and "Revenue" not in html
    assert html.count("<svg") == 2 and 'data-table="dispatch"' in html


def test_page_refuses_bad_input_with_the_form_and_422(client, ledger):
    response = _get(client, ledger.users["MANAGER"], "/reports/", location=ledger.beta.id)
    assert response.status_code == 422 and "location must be the id" in response.get_data(as_text=True)
    assert _get(client, ledger.users["MANAGER"], "/reports/", **{"from": "2020-01-01", "to": "2022-01-01"}
                ).status_code == 422


def test_csv_exports_follow_role_and_scope(client, ledger):
    text = _get(client, ledger.users["ADMIN"], "/reports/export/locations.csv", **ledger.range).get_data(as_text=True)
    assert text.startswith("\ufeff")   # UTF-8 with a BOM, for Excel on Windows
    lines = text.removeprefix("\ufeff").strip().splitlines()
    assert lines[0] == "Location,Jobs,Completed,Cancelled,Removed,Estimated value,Actual charges,Tips"
    assert lines[1] == "Alpha,4,2,1,1,1700.00,1280.00,50.00"
    assert lines[2] == "Beta,1,0,0,0,300.00,,"
    assert lines[-1] == "All locations,5,2,1,1,2000.00,1280.00,50.00"

    manager = _get(client, ledger.users["MANAGER"], "/reports/export/day-locations.csv", **ledger.range)
    assert "Beta" not in manager.get_data(as_text=True)
    estimates = _get(client, ledger.users["MANAGER"], "/reports/export/estimates.csv", **ledger.range)
    assert estimates.get_data(as_text=True).splitlines()[1] == "Alpha,2,1200.00,1280.00,80.00,106.7,50.00"

    dispatcher = _get(client, ledger.users["DISPATCHER"], "/reports/export/days.csv", **ledger.range)
    assert dispatcher.status_code == 200
    assert dispatcher.get_data(as_text=True).splitlines()[0] == "\ufeffMove date,Jobs,Completed,Cancelled,Removed"
    for money_only in ("estimates", "revenue"):
        assert _get(client, ledger.users["DISPATCHER"], f"/reports/export/{money_only}.csv",
                    **ledger.range).status_code == 404
    assert _get(client, ledger.users["ADMIN"], "/reports/export/nothing.csv").status_code == 404
    assert _get(client, ledger.users["ADMIN"], "/reports/export/days.csv", to="x").status_code == 422


def _utc(app, day, hour):
    """Company-local day at hour, as the naive UTC that AuditEvent.at stores."""
    from datetime import time
    from zoneinfo import ZoneInfo
    local = datetime.combine(day, time(hour), tzinfo=ZoneInfo(app.config["DASHBOARD_TIMEZONE"]))
    return local.astimezone(UTC).replace(tzinfo=None)


def test_dispatch_health_and_utilisation_from_spans_and_history(app, default_company, make_location, make_user):
    """Three jobs at one location on one past day, one truck, hand-worked:

    early: truck set 15:00 the day before, 08:00-12:00 (span), crew of 2  -> ready by the eve
    late:  truck set 07:00 on the day, no span, arrival 9.0 (-> 09:00-13:00), crew of 1
           -> not ready by the eve, unassigned at 06:00; shares the truck with early 09:00-12:00: both in conflict
    bare:  no truck ever, 05:00-07:00 span (1 h inside the 06:00 working day), crew of 1 -> unassigned
    """
    from dashboard.reports.params import ReportRange
    from dashboard.reports.report import build_report

    loc = make_location("Solo", external_id="br-solo")
    manager = make_user("MANAGER", locations=[loc])
    with app.app_context():
        day = company_today(default_company.timezone) - timedelta(days=5)
        truck = Truck(company_id=default_company.id, location_id=loc.id, name="T1")
        db.session.add(truck)
        db.session.commit()
        truck_id = truck.id
    midnight = datetime.combine(day, datetime.min.time())
    early = add_job(app, loc, day, truck_id=truck_id, span_start=midnight + timedelta(hours=8),
                    span_end=midnight + timedelta(hours=12), smartmoving_crew=["Ann", "Bo"])
    late = add_job(app, loc, day, truck_id=truck_id, arrival_start_hour=9.0, smartmoving_crew=["Cy"])
    add_job(app, loc, day, span_start=midnight + timedelta(hours=5), span_end=midnight + timedelta(hours=7),
            smartmoving_crew=["Di"])
    with app.app_context():
        for job_id, at in ((early, _utc(app, day - timedelta(days=1), 15)), (late, _utc(app, day, 7))):
            db.session.add(AuditEvent(company_id=default_company.id, action="job.dispatch", target=f"job:{job_id}",
                                      at=at, detail={"truck": [None, "T1"]}))
        db.session.commit()
        report = build_report(db.session.merge(manager), ReportRange(day, day), [db.session.merge(loc)], app.config,
                              show_money=True)
    dispatch = report.tables["dispatch"].rows[0]
    assert dispatch == ["Solo", 3, 3, 1, pytest.approx(1 / 3), 2, 2]
    usage = report.tables["utilisation"].rows[0]
    # Truck: 4 h (early) + 4 h (late) of 14 h; crew: 4x2 + 4x1 + 1x1 = 13 h (no crew members on file).
    assert usage[:4] == ["Solo", 8.0, 14.0, pytest.approx(8 / 14)] and usage[4] == 13.0 and usage[5] is None


def test_assigned_at_replays_edits_backwards():
    from dashboard.reports.operations import JobFacts
    from dashboard.reports.operations import assigned_at

    t = datetime(2025, 3, 1, 12)
    job = JobFacts(1, 1, 1, t.date(), "BOOKED", truck_id=7, crew=("Ann",), smartmoving_crew=(), start=t, end=t,
                   estimated_cents=None, actual_cents=None, tips_cents=None)
    events = [(t + timedelta(hours=1), {"truck": [None, "T7"]}), (t + timedelta(hours=2), {"crew": [None, ["Ann"]]})]
    assert assigned_at(job, events, t + timedelta(hours=3))          # after both edits: as now
    assert not assigned_at(job, events, t + timedelta(minutes=90))   # truck set, crew not yet
    assert not assigned_at(job, events, t)                           # before either
    assert assigned_at(job, [], t)                                   # never edited: as now


def test_conflicts_need_overlapping_time_not_just_the_same_day():
    from dashboard.reports.conflicts import conflicting_job_ids
    from dashboard.reports.operations import JobFacts

    day = datetime(2025, 3, 1)

    def job(id_, start, end, truck=None, crew=()):
        return JobFacts(id_, 1, 1, day.date(), "BOOKED", truck, tuple(crew), (), day + timedelta(hours=start),
                        day + timedelta(hours=end), None, None, None)

    jobs = [job(1, 8, 10, truck=5), job(2, 10, 12, truck=5),           # back to back: no clash
            job(3, 13, 17, truck=5), job(4, 16, 18, truck=5),          # overlap by an hour
            job(5, 8, 12, crew=["Ann"]), job(6, 11, 13, crew=[" ann "]),  # same person, spacing and case aside
            job(7, 8, 20, crew=["Bo"]), job(8, 9, 10, truck=6)]
    assert conflicting_job_ids(jobs) == {3, 4, 5, 6}


def test_backfill_asks_before_spending_calls_then_syncs_each_window(app, runner, default_company):
    with app.app_context():
        today = company_today(default_company.timezone)
    start, end = today - timedelta(days=6), today - timedelta(days=3)
    args = ["sync", "--from", start.isoformat(), "--to", end.isoformat()]
    declined = runner.invoke(args=args, input="n\n")
    assert declined.exit_code == 1 and "2 syncs of two days" in declined.output and "API calls" in declined.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(TruckJourney.id))) == 0

    done = runner.invoke(args=args + ["--yes"])
    assert done.exit_code == 0, done.output
    assert done.output.count("sync success") == 2
    with app.app_context():
        days = set(db.session.scalars(sa.select(TruckJourney.scheduled_date).distinct()))
    assert days == {start + timedelta(days=n) for n in range(4)}

    assert runner.invoke(args=["sync", "--from", start.isoformat()]).exit_code == 2
    assert runner.invoke(args=["sync", "--from", "2024-01-01", "--to", "2025-01-02", "--yes"]).exit_code == 2


def test_demo_history_is_filled_once(app, default_company):
    from dashboard.demo import seed_demo
    from dashboard.models import SyncRun

    app.config["DEMO_HISTORY_DAYS"] = 4
    with app.app_context():
        first = list(seed_demo(app))
        again = list(seed_demo(app))
        history_runs = db.session.scalar(sa.select(sa.func.count(SyncRun.id)).where(SyncRun.trigger == "demo-history"))
        past = db.session.scalar(sa.select(sa.func.count(TruckJourney.id)).where(
            TruckJourney.scheduled_date < company_today(default_company.timezone)))
        dispatched = db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
            AuditEvent.action == "job.dispatch"))
        from dashboard.models import ApiCall
        history_calls = db.session.scalar(sa.select(sa.func.count(ApiCall.id)).join(
            SyncRun, SyncRun.id == ApiCall.sync_run_id).where(SyncRun.trigger == "demo-history"))
        other_calls = db.session.scalar(sa.select(sa.func.count(ApiCall.id)))
        last_run = db.session.scalars(sa.select(SyncRun).order_by(SyncRun.id.desc()).limit(1)).one()
        from dashboard.sync.history import recent_runs
        listed = {run.trigger for run in recent_runs(default_company.id)}
    assert any("filling 4 days of history" in line for line in first)
    # The history's calls are not this month's quota use (the demo's own first sync's are).
    assert history_calls == 0 and other_calls > 0
    # The sync page's last run is today's and tomorrow's, not the history's last day.
    assert last_run.trigger == "demo" and last_run.window_start == company_today(default_company.timezone)
    assert listed == {"demo"}   # the sync page's history is the live syncs'

    assert not any("history" in line for line in again)
    assert history_runs == 2 and past > 0 and 0 < dispatched <= past


def test_page_defaults_to_four_weeks_and_two_days_and_links_big_tables_as_csv(client, ledger, monkeypatch):
    import dashboard.reports.views as views

    html = _get(client, ledger.users["ADMIN"], "/reports/").get_data(as_text=True)
    start, end = ledger.today - timedelta(days=27), ledger.today + timedelta(days=2)
    assert f'name="from" value="{start.isoformat()}"' in html and f'name="to" value="{end.isoformat()}"' in html
    assert 'data-table="day-locations"' in html
    monkeypatch.setattr(views, "MAX_INLINE_ROWS", 2)
    html = _get(client, ledger.users["ADMIN"], "/reports/", **ledger.range).get_data(as_text=True)
    assert 'data-table="day-locations"' not in html and "too many to read on a page" in html


@pytest.mark.parametrize("key, value", [("BOARD_DAY_START", "6am"), ("BOARD_DAY_END", "24:30"),
                                        ("BOARD_DAY_END", "05:00")])
def test_malformed_working_day_stops_start_up(tmp_path, key, value):
    from dashboard import create_app
    from dashboard.config import ConfigError
    with pytest.raises(ConfigError, match="BOARD_DAY"):
        create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "INSTANCE_PATH": str(tmp_path), key: value})
