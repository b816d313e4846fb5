"""The day sheet as CSV; spreadsheet formulas in cells are neutralised."""
import csv
import io

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


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
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for job in jobs:
        row = [
            job.scheduled_date.isoformat(), job.location.name if job.location else "", job.job_number,
            job.customer_name, job.arrival_window, job.origin_address, job.destination_address, job.status,
            job.dispatch_status, job.truck.name if job.truck else "", ", ".join(map(str, job.effective_crew)),
            job.notes,
        ]
        if show_money:
            row.append(f"{job.estimated_value:.2f}" if job.estimated_value is not None else "")
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()
