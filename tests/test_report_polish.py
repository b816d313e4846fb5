"""Reports polish and CSV for Excel (issue 20 items 12 and 13): quick ranges, move-date wording, axis titles,
a true minus sign, "—" for no data against 0 for zero, the scroll cue; CSVs in UTF-8 with a BOM and exact money."""
import csv
import io
from datetime import date
from datetime import timedelta
from decimal import Decimal

from dashboard.jobs.export import decimal_text
from dashboard.reports.params import presets
from dashboard.reports.tables import Column
from dashboard.reports.tables import Table
from dashboard.reports.tables import display
from dashboard.reports.tables import money
from dashboard.reports.tables import rows_html
from dashboard.reports.tables import to_csv
from dashboard.timeutil import company_today
from tests.support import login_as
from tests.support.ui import add_job

BOM = b"\xef\xbb\xbf"


def test_presets_are_whole_weeks_months_and_the_quarter():
    by_key = {p.key: (p.start, p.end) for p in presets(date(2026, 12, 5))}   # a Saturday
    assert by_key == {"this-week": (date(2026, 11, 30), date(2026, 12, 6)),
                      "last-week": (date(2026, 11, 23), date(2026, 11, 29)),
                      "this-month": (date(2026, 12, 1), date(2026, 12, 31)),
                      "last-month": (date(2026, 11, 1), date(2026, 11, 30)),
                      "quarter": (date(2026, 10, 1), date(2026, 12, 31))}
    new_year = {p.key: p for p in presets(date(2027, 1, 1))}
    assert (new_year["last-month"].start, new_year["last-month"].end) == (date(2026, 12, 1), date(2026, 12, 31))
    assert (new_year["quarter"].label, new_year["quarter"].end) == ("Q1 2027", date(2027, 3, 31))
    assert presets(date(2028, 2, 10))[2].end == date(2028, 2, 29)   # a leap February


def test_money_has_a_true_minus_and_no_data_differs_from_zero():
    assert display(-862479, "money") == "\u2212$8,624.79"
    assert display(-862479, "dollars") == "\u2212$8,625"
    assert display(862479, "money") == "$8,624.79"
    assert (display(None, "money"), display(0, "money"), display(0, "count"), display(None, "count")) == (
        "—", "$0.00", "0", "—")


def test_csv_money_is_exact_decimal_text_with_a_bom_for_excel():
    assert [decimal_text(v) for v in (862479, -862479, -5, 0, None, Decimal("1999.6"), 10**17 + 1)] == [
        "8624.79", "-8624.79", "-0.05", "0.00", "", "20.00", "1000000000000000.01"]
    table = Table("t", "T", [Column("Location", "text"), money("Difference"), Column("Jobs")],
                  [["Montréal Côté", -862479, 0], ["=cmd", None, 3]])
    text = to_csv(table)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows == [["Location", "Difference", "Jobs"], ["Montréal Côté", "-8624.79", "0"], ["'=cmd", "", "3"]]


def test_board_csv_opens_in_excel_with_accents_and_exact_money(app, client, default_company, make_location,
                                                              make_user):
    north = make_location("Montréal", external_id="br-mtl")
    add_job(app, north, customer_name="Amélie Côté", estimated_value_cents=862479)
    with app.app_context():
        today = company_today(default_company.timezone)
    login_as(client, make_user("MANAGER", locations=[north]))
    answer = client.get(f"/board/export.csv?date={today.isoformat()}")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.data.startswith(BOM) and "charset=utf-8" in answer.headers["Content-Type"]
    rows = list(csv.reader(io.StringIO(answer.data.decode("utf-8-sig"))))
    assert rows[0][0] == "Date"
    (job,) = rows[1:]
    assert "Amélie Côté" in job and "Montréal" in job and job[-1] == "8624.79"


def test_report_page_wording_axes_presets_and_cells(app, client, default_company, make_location, make_user):
    alpha, beta = make_location("Alpha", external_id="br-a"), make_location("Béta", external_id="br-b")
    with app.app_context():
        today = company_today(default_company.timezone)
    week = next(p for p in presets(today) if p.key == "this-week")
    add_job(app, alpha, week.start, estimated_value_cents=1000000, actual_charges_cents=137521)   # -8,624.79
    add_job(app, beta, week.start, estimated_value_cents=0)   # a real zero
    add_job(app, beta, week.start + timedelta(days=1), estimated_value_cents=50000)
    login_as(client, make_user("MANAGER", locations=[alpha, beta]))
    answer = client.get("/reports/", query_string={"from": week.start.isoformat(), "to": week.end.isoformat()})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    for label in ("This week", "Last week", "This month", "Last month"):
        assert f">{label}</a>" in html
    assert 'is-current" href="/reports/?from=' + week.start.isoformat() in html and 'aria-current="true"' in html
    assert "Jobs per move date" in html and "by move date" in html and "no booking date" in html
    assert "↑ Estimated value ($)" in html and "↑ Jobs" in html and "Move date →" in html
    assert "\u2212$8,624.79" in html and "-$8,624.79" not in html
    assert "scroll-hint" in html and 'role="region" tabindex="0"' in html
    revenue = html[html.index('data-table="revenue"'):]
    revenue = revenue[:revenue.index("</table>")]
    cells = [row.split('<td class="num">')[1:] for row in revenue[revenue.index("<tbody>"):].split("</tr>")[:3]]
    # Columns Alpha, Béta, Total. Day 1: Béta's job was worth a real zero; day 2: Alpha had no job ("—");
    # day 3: nothing at all.
    assert [[cell.split("<")[0] for cell in row] for row in cells] == [
        ["$10,000.00", "$0.00", "$10,000.00"], ["—", "$500.00", "$500.00"], ["—", "—", "—"]]
    csv_answer = client.get("/reports/export/estimates.csv",
                            query_string={"from": week.start.isoformat(), "to": week.end.isoformat()})
    assert csv_answer.data.startswith(BOM)
    assert "Alpha,1,10000.00,1375.21,-8624.79" in csv_answer.data.decode("utf-8-sig")


def test_table_rows_escape_names_and_mark_numbers():
    table = Table("t", "T", [Column("Location", "text"), Column("Jobs"), money("Value"), Column("Busy", "percent")],
                  [["<b>A&B</b>", 1200, -862479, None]])
    assert str(rows_html(table)) == ('<tr><th scope="row">&lt;b&gt;A&amp;B&lt;/b&gt;</th><td class="num">1,200</td>'
                                     '<td class="num">\u2212$8,624.79</td><td class="num">—</td></tr>\n')
