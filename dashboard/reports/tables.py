"""The report's tables, defined once: the page renders them, the CSV export writes them.

A column marked money exists only for roles that may view financials: hiding is
done by dropping the column here, so neither the page nor a CSV can leak it.
"""
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace

from markupsafe import Markup
from markupsafe import escape

from dashboard.formatting import money as format_money
from dashboard.jobs.export import csv_text
from dashboard.jobs.export import decimal_text
from dashboard.jobs.export import safe_cell


@dataclass(frozen=True)
class Column:
    heading: str
    kind: str = "count"       # text, date, count, money (cents), percent (0..1), hours
    money: bool = False


@dataclass
class Table:
    name: str                 # the CSV's file name and the page's anchor
    title: str
    columns: list
    rows: list = field(default_factory=list)
    total: list | None = None
    money_only: bool = False  # the whole table is about money

    def for_viewer(self, show_money):
        """This table without its money columns when show_money is false (None if nothing is left)."""
        if show_money:
            return self
        if self.money_only:
            return None
        keep = [i for i, column in enumerate(self.columns) if not column.money]

        def pick(row):
            return [row[i] for i in keep]

        return replace(self, columns=[self.columns[i] for i in keep], rows=[pick(row) for row in self.rows],
                       total=pick(self.total) if self.total is not None else None)


def money(heading):
    return Column(heading, "money", money=True)


MINUS = "\u2212"   # the typographic minus: "−$8,624.79" reads as negative at a glance, "-" looks like a dash


def _signed_money(cents, whole=False):
    """Money for the page with a true minus sign for a negative amount."""
    text = format_money(cents, whole=whole)
    return MINUS + text[1:] if text.startswith("-") else text


# How each kind of number is written: (on the page, in the CSV). Side by side so a new
# kind gets both at once; a kind missing here prints as str() on the page and raw in the CSV.
_FORMATS = {
    "money": (_signed_money, decimal_text),
    "dollars": (lambda cents: _signed_money(cents, whole=True), None),
    "percent": (lambda share: f"{share * 100:.0f}%", lambda share: f"{share * 100:.1f}"),
    "hours": (lambda hours: f"{hours:,.1f}", lambda hours: f"{hours:.2f}"),
    "date": (lambda day: f"{day:%a %b} {day.day}", lambda day: day.isoformat()),
    "count": (lambda number: f"{number:,}", None),
}
_NO_FORMAT = (None, None)


def display(value, kind):
    """A cell as the page shows it: "—" for no data (None), "0" / "$0.00" for a real zero."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    on_page = _FORMATS.get(kind, _NO_FORMAT)[0]
    return on_page(value) if on_page else str(value)


def rows_html(table):
    """The table's body rows as HTML, as the page's table macro drew them cell by cell: the first
    cell a row header, numbers right-aligned. Built here in one pass because a 90-day report has
    thousands of cells and Jinja's per-cell lookups and filters were a third of the page's time."""
    cells = [(column.kind, "" if column.kind in ("text", "date") else ' class="num"') for column in table.columns]
    html = []
    for row in table.rows:
        parts = ["<tr>"]
        for index, (value, (kind, attributes)) in enumerate(zip(row, cells, strict=True)):
            text = display(value, kind)
            if isinstance(value, str):   # names and labels; formatted numbers, dates and "—" need no escaping
                text = escape(text)
            parts.append(f'<th scope="row">{text}</th>' if index == 0 else f"<td{attributes}>{text}</td>")
        parts.append("</tr>\n")
        html.append("".join(parts))
    return Markup("".join(html))


def _csv_value(value, kind):
    if value is None:
        return ""
    if isinstance(value, str):
        return safe_cell(value)   # names come from SmartMoving: never let a spreadsheet run them
    in_csv = _FORMATS.get(kind, _NO_FORMAT)[1]
    return in_csv(value) if in_csv else value


def to_csv(table):
    """CSV text of table (UTF-8 with a BOM; money as exact dollars, percentages as numbers 0-100),
    formulas neutralised."""
    rows = [[column.heading + (" (%)" if column.kind == "percent" else "") for column in table.columns]]
    for row in table.rows + ([table.total] if table.total is not None else []):
        rows.append([_csv_value(value, column.kind) for value, column in zip(row, table.columns, strict=True)])
    return csv_text(rows)
