"""The report's tables, defined once: the page renders them, the CSV export writes them.

A column marked money exists only for roles that may view financials: hiding is
done by dropping the column here, so neither the page nor a CSV can leak it.
"""
import csv
import io
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace

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
        pick = (lambda row: [row[i] for i in keep])
        return replace(self, columns=[self.columns[i] for i in keep], rows=[pick(row) for row in self.rows],
                       total=pick(self.total) if self.total is not None else None)


def money(heading):
    return Column(heading, "money", money=True)


def display(value, kind):
    """A cell as the page shows it."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if kind == "money":
        return f"${value / 100:,.2f}"
    if kind == "dollars":
        return f"${value / 100:,.0f}"
    if kind == "percent":
        return f"{value * 100:.0f}%"
    if kind == "hours":
        return f"{value:,.1f}"
    if kind == "date":
        return f"{value:%a %b} {value.day}"
    if kind == "count":
        return f"{value:,}"
    return str(value)


def _csv_value(value, kind):
    if value is None:
        return ""
    if isinstance(value, str):
        return safe_cell(value)   # names come from SmartMoving: never let a spreadsheet run them
    if kind == "money":
        return f"{value / 100:.2f}"
    if kind == "percent":
        return f"{value * 100:.1f}"
    if kind == "hours":
        return f"{value:.2f}"
    if kind == "date":
        return value.isoformat()
    return value


def to_csv(table):
    """CSV text of table (money as dollars, percentages as numbers 0-100), formulas neutralised."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([column.heading + (" (%)" if column.kind == "percent" else "") for column in table.columns])
    for row in table.rows + ([table.total] if table.total is not None else []):
        writer.writerow([_csv_value(value, column.kind) for value, column in zip(row, table.columns)])
    return out.getvalue()
