"""The day sheet as CSV; spreadsheet formulas in cells are neutralised.

Every CSV of the dashboard starts with a UTF-8 byte order mark: Excel on Windows reads a
file without one as the local code page and garbles accents ("Amélie" -> "AmÃ©lie").
Money is written as exact decimal text from integer cents (no float ever rounds a cent).
"""
import csv
import io

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def decimal_text(cents):
    """Whole cents as exact decimal text: 862479 -> '8624.79', -5 -> '-0.05'; '' for None.

    A Decimal or float sum from the database is first rounded to whole cents.
    """
    if cents is None:
        return ""
    cents = round(cents)
    dollars, rest = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}{dollars}.{rest:02d}"


def csv_text(rows):
    """CSV text of rows (lists of cells already made safe), with the BOM Excel needs to read UTF-8."""
    out = io.StringIO()
    out.write(BOM)
    csv.writer(out).writerows(rows)
    return out.getvalue()


def safe_cell(value):
    """Text a spreadsheet will not run: cells starting like a formula get a leading quote."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def jobs_csv(jobs, show_money):
    """CSV text for jobs; the estimated-value column exists only when show_money."""
    header = ["Date", "Location", "Job number", "Customer", "Arrival window", "Origin", "Destination",
              "Status", "Dispatch status", "Truck", "Crew", "Notes"]
    if show_money:
        header.append("Estimated value")
    rows = [header]
    for job in jobs:
        row = [
            job.scheduled_date.isoformat(), job.location.name if job.location else "", job.job_number,
            job.customer_name, job.arrival_window, job.origin_address, job.destination_address, job.status,
            job.dispatch_status, job.truck.name if job.truck else "", ", ".join(map(str, job.effective_crew)),
            job.notes,
        ]
        if show_money:
            row.append(decimal_text(job.estimated_value_cents))
        rows.append([safe_cell(cell) for cell in row])
    return csv_text(rows)
