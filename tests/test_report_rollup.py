"""The reports' rollup: stored per-day facts equal the full computation and are recomputed exactly when
a day's data version, the settings or the clock (eve and morning cutoffs) moves them."""
import threading
from datetime import datetime
from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import TruckJourney
from dashboard.models import User
from dashboard.reports import rollup
from dashboard.reports.models import ReportDay
from dashboard.reports.models import ReportDayFacts
from dashboard.reports.operations import day_cutoffs
from dashboard.reports.operations import operations_from_jobs
from dashboard.reports.params import ReportRange
from dashboard.timeutil import company_today
from tests.support import csrf_token_from
from tests.support import login_as
from tests.support.ui import add_job
from tests.support.ui import add_truck


def _at(day, hours):
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=hours)


@pytest.fixture
def yard(app, default_company, make_company, make_location, make_user):
    """Three past days at Alpha and Beta (and a rival company's day), with clashes worked in:

    day1: Alpha: A1 truck T1 8-12 crew Ann, A2 truck T1 10-14 (clash on T1), A3 cancelled (estimate 500 actual 550)
          Beta:  B1 crew Ann 9-11 (clashes with A1 across locations), B2 no location, estimate 100 actual 90 tips 5
    day2: Alpha: A4 truck T2 8-10 crew Bo; Beta: B3 truck T2 11-13 (no clash)
    day3: Alpha: a MANUAL job M1 8-10 crew Cy; Beta: B4 crew Cy 9-12 (clash)
    tomorrow: Alpha: F1 unassigned
    """
    alpha = make_location("Alpha", external_id="br-alpha")
    beta = make_location("Beta", external_id="br-beta")
    rival_company = make_company("Rival Movers")
    rival = make_location("Rival", company=rival_company)
    with app.app_context():
        today = company_today(default_company.timezone)
    t1, t2 = add_truck(app, default_company, "T1", alpha), add_truck(app, default_company, "T2", alpha)
    day1, day2, day3 = (today - timedelta(days=n) for n in (5, 4, 3))
    jobs = {}

    def job(name, loc, day, start, end, **fields):
        jobs[name] = add_job(app, loc, day, span_start=_at(day, start), span_end=_at(day, end),
                             smartmoving_crew=None, **fields)

    job("A1", alpha, day1, 8, 12, truck_id=t1, crew=["Ann"], estimated_value_cents=1000, actual_charges_cents=1200,
        tips_cents=30)
    job("A2", alpha, day1, 10, 14, truck_id=t1, crew=["Dee"])
    job("A3", alpha, day1, 9, 10, status="CANCELLED", estimated_value_cents=500, actual_charges_cents=550)
    job("B1", beta, day1, 9, 11, crew=["Ann"])
    job("B2", beta, day1, 15, 17, location_id=None, estimated_value_cents=100, actual_charges_cents=90, tips_cents=5)
    job("A4", alpha, day2, 8, 10, truck_id=t2, crew=["Bo"])
    job("B3", beta, day2, 11, 13, truck_id=t2)
    job("M1", alpha, day3, 8, 10, crew=["Cy"], data_source="MANUAL")
    job("B4", beta, day3, 9, 12, crew=["Cy"])
    job("F1", alpha, today + timedelta(days=1), 8, 10)
    add_job(app, rival, day1, company=rival_company, truck_id=None, crew=["Ann"])
    users = {"admin": make_user("ADMIN"), "manager": make_user("MANAGER", locations=[alpha]),
             "super": make_user("SUPER_ADMIN")}
    return SimpleNamespace(alpha=alpha, beta=beta, rival=rival, company=default_company, days=(day1, day2, day3),
                           today=today, jobs=jobs, trucks=(t1, t2), users=users,
                           range=ReportRange(day1, today + timedelta(days=1)))


@pytest.fixture
def computed(monkeypatch):
    """The (company id, days) every recompute covered, in order: a spy on rollup.compute_days."""
    calls = []
    real = rollup.compute_days

    def spy(company_id, days, config, now_utc):
        calls.append((company_id, tuple(sorted(days))))
        return real(company_id, days, config, now_utc)

    monkeypatch.setattr(rollup, "compute_days", spy)
    return calls


def _both(app, yard, who="admin", report_range=None, now_utc=None):
    """(rollup's Operations, the full computation's Operations) for the user over the range."""
    report_range = report_range or yard.range
    with app.app_context():
        user = db.session.get(User, yard.users[who].id)
        location_ids = [yard.alpha.id, yard.beta.id] if who != "manager" else [yard.alpha.id]
        if report_range.location_id is not None:
            location_ids = [report_range.location_id]
        ours = rollup.operations(user, report_range, location_ids, app.config, now_utc=now_utc)
        reference = operations_from_jobs(user, report_range, location_ids, app.config, now_utc=now_utc)
    return ours, reference


def _assert_same(ours, reference):
    assert ours.health == reference.health
    assert ours.estimates == reference.estimates
    assert set(ours.usage) == set(reference.usage) and set(ours.usage_by_day) == set(reference.usage_by_day)
    for mine, theirs in ((ours.usage, reference.usage), (ours.usage_by_day, reference.usage_by_day)):
        for key, usage in theirs.items():
            assert mine[key].truck_hours == pytest.approx(usage.truck_hours)
            assert mine[key].crew_hours == pytest.approx(usage.crew_hours)
            assert (mine[key].truck_capacity, mine[key].crew_capacity) == (usage.truck_capacity, usage.crew_capacity)


def test_rollup_equals_the_full_computation_and_a_second_read_recomputes_nothing(app, yard, computed):
    ours, reference = _both(app, yard)
    _assert_same(ours, reference)
    assert ours.health[yard.alpha.id].conflicts == 3 and ours.health[yard.beta.id].conflicts == 2
    assert ours.estimates[None].tips_cents == 5 and ours.estimates[yard.alpha.id].jobs == 2
    first = list(computed)
    assert first == [(yard.company.id, tuple(sorted((*yard.days, yard.today + timedelta(days=1)))))]
    again, _reference = _both(app, yard)
    assert computed == first   # nothing moved: every day read from the rollup
    _assert_same(again, reference)
    with app.app_context():   # the rival company's day is nobody's business here
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReportDay)) == 4


def test_page_reads_the_rollup_the_second_time(app, client, yard, computed):
    login_as(client, yard.users["admin"])
    query = {"from": yard.range.start.isoformat(), "to": yard.range.end.isoformat()}
    first = client.get("/reports/", query_string=query)
    assert first.status_code == 200 and len(computed) == 1
    second = client.get("/reports/", query_string=query)
    assert second.status_code == 200 and len(computed) == 1
    assert _without_tokens(second.get_data(as_text=True)) == _without_tokens(first.get_data(as_text=True))


def _without_tokens(html):
    """The page with its CSRF tokens blanked (they carry the second they were made)."""
    return html.replace(csrf_token_from(html), "")


def test_a_dispatch_edit_recomputes_only_its_day_and_moves_the_figures(app, yard, computed):
    from dashboard.jobs.dispatch import update_dispatch

    before, _reference = _both(app, yard)
    day1, day2, _day3 = yard.days
    assert before.health[yard.alpha.id].conflicts == 3
    with app.app_context():
        job = db.session.get(TruckJourney, yard.jobs["A4"])
        admin = db.session.get(User, yard.users["admin"].id)
        # A4 (day 2, 8-10) moves to T1 and gains Eve: no clash, two more crew hours.
        update_dispatch(job, admin, yard.trucks[0], ["Bo", "Eve"], job.dispatch_status, None)
        db.session.commit()
    computed.clear()
    after, reference = _both(app, yard)
    assert computed == [(yard.company.id, (day2,))]
    _assert_same(after, reference)
    assert after.usage_by_day[day2].crew_hours == before.usage_by_day[day2].crew_hours + 2
    assert after.usage_by_day[day1] == before.usage_by_day[day1]


def test_new_and_removed_jobs_and_settings_changes_each_recompute(app, yard, computed):
    from dashboard.jobs.manual import delete_manual_job

    day1, day2, day3 = yard.days
    before, _reference = _both(app, yard)
    computed.clear()
    add_job(app, yard.beta, day2, span_start=_at(day2, 12), span_end=_at(day2, 13), truck_id=yard.trucks[1])
    ours, reference = _both(app, yard)
    assert computed == [(yard.company.id, (day2,))]
    _assert_same(ours, reference)
    # The new job clashes with B3 on T2 (11-13): two more jobs in a conflict.
    assert ours.health[yard.beta.id].conflicts == before.health[yard.beta.id].conflicts + 2

    computed.clear()
    with app.app_context():
        delete_manual_job(db.session.get(TruckJourney, yard.jobs["M1"]), db.session.get(User, yard.users["admin"].id))
        db.session.commit()
    ours, reference = _both(app, yard)
    assert computed == [(yard.company.id, (day3,))]
    _assert_same(ours, reference)

    computed.clear()
    app.config["DEFAULT_JOB_HOURS"] = app.config["DEFAULT_JOB_HOURS"] + 1
    ours, reference = _both(app, yard)
    assert computed == [(yard.company.id, tuple(sorted((*yard.days, yard.today + timedelta(days=1)))))]
    _assert_same(ours, reference)


def test_passing_the_eve_and_the_morning_recomputes_the_day(app, yard, computed):
    from zoneinfo import ZoneInfo

    tomorrow = yard.today + timedelta(days=1)
    eve, morning = day_cutoffs(tomorrow, app.config["BOARD_DAY_HOURS"], ZoneInfo(yard.company.timezone))
    only_tomorrow = ReportRange(tomorrow, tomorrow)
    ours, _reference = _both(app, yard, report_range=only_tomorrow, now_utc=eve - timedelta(minutes=1))
    assert ours.health[yard.alpha.id].eve_due == 0
    _both(app, yard, report_range=only_tomorrow, now_utc=eve - timedelta(seconds=1))
    assert len(computed) == 1   # nothing passed yet
    ours, reference = _both(app, yard, report_range=only_tomorrow, now_utc=eve)
    assert len(computed) == 2 and ours.health == reference.health
    assert ours.health[yard.alpha.id].eve_due == 1 and ours.health[yard.alpha.id].morning_due == 0
    ours, reference = _both(app, yard, report_range=only_tomorrow, now_utc=morning + timedelta(hours=1))
    assert len(computed) == 3 and ours.health == reference.health
    assert ours.health[yard.alpha.id].unassigned_at_morning == 1
    _both(app, yard, report_range=only_tomorrow, now_utc=morning + timedelta(hours=2))
    assert len(computed) == 3   # both cutoffs passed: the day holds until its data moves
    with app.app_context():
        assert db.session.scalar(sa.select(ReportDay.valid_until).where(ReportDay.day == tomorrow)) is None


def test_scoped_users_see_only_their_locations_and_clashes_count_company_wide(app, yard):
    ours, reference = _both(app, yard, who="manager")
    assert set(ours.health) == {yard.alpha.id} and set(ours.estimates) == {yard.alpha.id}
    # A1 clashes with A2 (truck) and with B1 at Beta (crew Ann): the full computation over the manager's
    # jobs never saw B1; the rollup counts the double booking. Day 3's M1 clashes with B4 at Beta likewise.
    assert ours.health[yard.alpha.id].conflicts == 3
    assert reference.health[yard.alpha.id].conflicts == 2
    ours.health[yard.alpha.id].conflicts = reference.health[yard.alpha.id].conflicts
    _assert_same(ours, reference)
    filtered, filtered_reference = _both(app, yard, report_range=ReportRange(
        yard.range.start, yard.range.end, yard.beta.id))
    assert set(filtered.health) == {yard.beta.id}
    # Filtered to Beta, the full computation lost Beta's clashes with Alpha's jobs (B1, B4); the rollup keeps them.
    assert (filtered.health[yard.beta.id].conflicts, filtered_reference.health[yard.beta.id].conflicts) == (2, 0)
    filtered.health[yard.beta.id].conflicts = 0
    _assert_same(filtered, filtered_reference)


def test_super_admins_cover_every_company(app, yard):
    ours, reference = _both(app, yard, who="super")
    _assert_same(ours, reference)
    assert yard.rival.id in ours.health


def test_two_readers_recomputing_the_same_days_both_answer(app, yard, computed):
    """The second writer of a day's rows loses the race quietly: its read still answers."""
    answers, errors = [], []

    def read():
        try:
            answers.append(_both(app, yard)[0])
        except Exception as error:  # the test reports any failure below
            errors.append(error)

    threads = [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(answers) == 3
    assert all(answer.health == answers[0].health for answer in answers)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReportDay)) == 4
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReportDayFacts)) == 8


def _tallies(app, yard, who="admin", report_range=None):
    """(the rollup's {(day, location id): Tally}, the GROUP BY's, the rollup's row count) for the user."""
    from dashboard.models import utcnow
    from dashboard.reports.summary import Tally
    from dashboard.reports.summary import day_location_rows

    report_range = report_range or yard.range
    with app.app_context():
        user = db.session.get(User, yard.users[who].id)
        facts = rollup.read_facts(user, report_range, app.config, utcnow())
        ours = {(day, None if loc == 0 else loc): Tally(*(sums[name] for name in rollup.TALLY_COLUMNS))
                for (day, loc), sums in facts.sums(("day", "location_key"), rollup.TALLY_COLUMNS).items()}
        reference = {(row.day, row.location_id): row.tally
                     for row in day_location_rows(user, report_range.start, report_range.end, report_range.location_id)}
        return ours, reference, facts.count_day_locations()


def test_the_tally_from_the_rollup_equals_the_group_by_fresh_and_stored(app, yard, computed):
    """Counts, removed jobs and money with "no data" (None) apart from zero, per day and location, for every
    scope and the location filter: first from the days just recomputed, then from the stored rows."""
    day1, day2, day3 = yard.days
    add_job(app, yard.beta, day2, status="CANCELLED", estimated_value_cents=700)
    add_job(app, yard.alpha, day3, sync_status="REMOVED", estimated_value_cents=900, actual_charges_cents=950)
    add_job(app, yard.beta, day3 + timedelta(days=1), sync_status="REMOVED")   # a day of removed jobs only
    add_job(app, yard.alpha, day1, status="COMPLETED", actual_charges_cents=0, tips_cents=0)
    add_job(app, yard.beta, yard.today - timedelta(days=1), estimated_value_cents=None)   # no money at all
    cases = [("admin", None), ("manager", None), ("super", None),
             ("admin", ReportRange(yard.range.start, yard.range.end, yard.beta.id))]
    for read in ("recomputed", "stored"):
        for who, report_range in cases:
            ours, reference, count = _tallies(app, yard, who, report_range)
            assert ours == reference, (read, who)
            assert count == len(reference)
        # The first reads recomputed every day of the company (and the super admin's, the rival's): then none.
        assert [company_id for company_id, _days in computed] == [yard.company.id, yard.rival.company_id]
    ours, _reference, _count = _tallies(app, yard)
    assert ours[(day3 + timedelta(days=1), yard.beta.id)].removed == 1
    no_money = ours[(yard.today - timedelta(days=1), yard.beta.id)]
    assert no_money.jobs == 1
    assert (no_money.estimated_cents, no_money.actual_cents, no_money.tips_cents) == (None, None, None)
    assert ours[(day1, yard.alpha.id)].tips_cents == 30 and ours[(day1, yard.alpha.id)].actual_jobs == 3


def test_a_synced_status_change_moves_the_tally_of_its_day_only(app, yard, computed):
    from dashboard.models import utcnow

    _day1, day2, _day3 = yard.days
    _tallies(app, yard)
    computed.clear()
    with app.app_context():
        job = db.session.get(TruckJourney, yard.jobs["A4"])
        job.status, job.actual_charges_cents, job.last_sync_at = "COMPLETED", 4200, utcnow()
        db.session.commit()
    ours, reference, _count = _tallies(app, yard)
    assert computed == [(yard.company.id, (day2,))]
    assert ours == reference
    assert (ours[(day2, yard.alpha.id)].completed, ours[(day2, yard.alpha.id)].actual_cents) == (1, 4200)


def test_the_page_and_csv_show_the_rollups_tally(app, client, yard):
    """The day-and-location CSV and the page's totals read the rollup: a second read answers the same."""
    login_as(client, yard.users["admin"])
    query = {"from": yard.range.start.isoformat(), "to": yard.range.end.isoformat()}
    first = client.get("/reports/export/day-locations.csv", query_string=query).get_data(as_text=True)
    second = client.get("/reports/export/day-locations.csv", query_string=query).get_data(as_text=True)
    assert first == second
    lines = first.splitlines()
    assert len(lines) == 1 + 8 + 1   # heading, the 8 day-and-location groups of the yard, the total
    assert lines[-1].startswith("Total,,10,")   # 10 jobs that are not removed
    page = client.get("/reports/", query_string=query).get_data(as_text=True)
    assert "Show 8 rows" in page
