"""`python -m bench` (`make bench`): run every measurement once, print the table, write bench/results.md.

    python -m bench                 # everything (a few minutes)
    python -m bench --only db,board # some sections: calls (item 1), wall (2), db (3), board (4),
                                    # webhooks (5), reports (6), readiness (7), plans (8); printed only,
                                    # unless --output FILE says where to write them
"""
import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC
from datetime import datetime
from pathlib import Path

from bench.common import TIMEZONE
from bench.common import markdown_table

SECTIONS = ("calls", "wall", "db", "board", "webhooks", "reports", "readiness", "plans")
RESULTS = Path(__file__).resolve().parent / "results.md"


def progress(message):
    """A progress line on stderr (stdout carries only the table)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_sections(chosen, today, workdir):
    """The rows of the chosen sections, in item order."""
    from bench import api_calls
    from bench import board
    from bench import db_work

    rows, synced_database = [], None
    if "calls" in chosen:
        progress("1: API calls per sync (66 branches, 500 jobs/day) against the sandbox")
        calls_rows, info = api_calls.calls_per_sync(today, workdir / "calls")
        rows += calls_rows
        synced_database = info["database"]
    if "wall" in chosen:
        progress("2: sync wall time at 0.3 s/call and 120 calls/min (about a minute)")
        rows += api_calls.wall_time(today, workdir / "wall")
    if "board" in chosen:
        # Before item 3: its 100,000-job PostgreSQL load leaves the server flushing pages for a
        # while, which took CPU from the board's gunicorn on these 2 CPUs.
        progress("4: the today board under gunicorn")
        rows += board.run(today, workdir / "board", database_path=synced_database)
    if "db" in chosen:
        progress("3: database work for 10,000 jobs, SQLite and PostgreSQL, and sweep memory for 100,000")
        rows += db_work.run(today, workdir / "db")
    if "webhooks" in chosen:
        from bench import webhooks
        progress("5: webhooks: an announced edit until the board shows it")
        rows += webhooks.run(today, workdir / "webhooks")
    if "reports" in chosen:
        from bench import reports
        progress("6: the reports' summary over 45,000 jobs, SQLite and PostgreSQL")
        rows += reports.run(today, workdir)
    if "readiness" in chosen:
        from bench import readiness
        progress("7: the readiness panel's blockers for 2,000 jobs / 300 people, SQLite and PostgreSQL")
        rows += readiness.run(today, workdir / "readiness")
    if "plans" in chosen:
        from bench import plans
        progress("8: publishing a day's plan (500 jobs / 300 people) and delivering it over loopback SMTP")
        rows += plans.run(today, workdir / "plans")
    return sorted(rows, key=lambda row: int(row.section))   # the table in item order (stable within an item)


def main(argv=None):
    """Run the chosen sections in one process and report."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections among {', '.join(SECTIONS)} (default: all)")
    parser.add_argument("--output", help=f"where to write the markdown (default: {RESULTS} for a run of every "
                                         "section; a run of some sections (--only) only prints, so the table of "
                                         "record is never replaced by a part of it)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary databases and the gunicorn log")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")

    from dashboard.timeutil import company_today

    today = company_today(TIMEZONE)
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    started = time.perf_counter()
    try:
        rows = run_sections(chosen, today, workdir)
    finally:
        if args.keep:
            progress(f"temporary files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.perf_counter() - started

    rows.sort(key=lambda row: row.section)
    notes = [note for row in rows for note in row.notes]
    machine = (f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
               f"{platform.system()}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    header = (f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `make bench` in {elapsed:.0f} s on "
              f"{machine}" + (f" (1-min load average {load:.1f} at the end)" if load is not None else "") + ". "
              "Each figure sits next to the limit it is judged by, both measured in this run, so the ratio "
              "carries over to other machines; absolute times do not.")
    text = "\n\n".join([header, markdown_table(rows)] + (["\n".join(f"- {n}" for n in notes)] if notes else []))
    print(text)
    output = args.output or (str(RESULTS) if set(chosen) == set(SECTIONS) else None)
    if output:
        Path(output).write_text("# `make bench` results\n\n" + text + "\n")
        progress(f"written to {output}")
    else:
        progress(f"some sections only: printed, not written to {RESULTS} (give --output to write a file)")
    return 0  # a missed target is a finding in the table, not a failed command


if __name__ == "__main__":
    sys.exit(main())
