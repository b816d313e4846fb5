"""Item 5: SmartMoving webhooks. How soon an announced edit is on the board, and what it costs in calls.

The sandbox (0.3 s per call, like the real API) announces each edit over real HTTP to
the app served by werkzeug; we time from the edit to the moment the stored job shows
it. Detail-only edits (money, crew) are the ones a sweep never sees.
"""
import logging
import threading
import time
from pathlib import Path

import sqlalchemy as sa

from bench.api_calls import PREMIUM_QUOTA
from bench.api_calls import SyncBench
from bench.common import Row
from bench.common import percentile
from bench.common import ratio_text
from bench.common import seconds

EDITS = 20
SECRET = "bench-webhook-secret"
LIMIT_SECONDS = 60.0   # the target for Premium: announced edits on the board within a minute


def _stored_cents(app, opportunity_id):
    from dashboard.db import db
    from dashboard.models import TruckJourney
    with app.app_context():
        values = set(db.session.scalars(sa.select(TruckJourney.estimated_value_cents).where(
            TruckJourney.opportunity_external_id == opportunity_id)))
        db.session.commit()
    return values


def _wait_for(app, opportunity_id, cents, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _stored_cents(app, opportunity_id) == {cents}:
            return True
        time.sleep(0.02)
    return False


def run(today, workdir):
    """Rows for item 5."""
    from werkzeug.serving import make_server

    from dashboard.sandbox.world import SandboxWorld

    Path(workdir).mkdir(parents=True, exist_ok=True)
    bench = SyncBench(SandboxWorld(seed=5, today=today, branches=8, jobs_per_day=60), workdir,
                      database_name="webhooks.sqlite")
    bench.sync()
    # From here on, as in production: paced calls (≤ 120/min) that take 0.3 s each, on Premium (the plan with
    # webhooks). On Basic's quota the webhook read allowance (the month's budget left, spread over its hours
    # left) is ~30 reads an hour early in a month: the burst's last edits were left to a sweep that never comes
    # here, so the bench failed in the first days of a month and passed at its end.
    bench.app.config.update(SMARTMOVING_WEBHOOK_SECRET=SECRET, SMARTMOVING_MIN_INTERVAL=0.5,
                            SMARTMOVING_PLAN="premium", SMARTMOVING_MONTHLY_QUOTA=PREMIUM_QUOTA)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, bench.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sender = bench.server.send_webhooks_to(f"http://127.0.0.1:{server.server_port}/api/smartmoving/webhooks", SECRET)
    bench.server.faults.latency = 0.3
    try:
        opportunities = bench.world.opportunity_ids_in_window(today, today)[:EDITS * 2]
        bench.server.reset_stats()
        one_by_one = []
        for opportunity_id in opportunities[:EDITS]:
            started = time.perf_counter()
            cents = round(bench.world.change_detail_only(opportunity_id) * 100)
            if not _wait_for(bench.app, opportunity_id, cents):
                raise RuntimeError(f"edit of {opportunity_id} never reached the board")
            one_by_one.append(time.perf_counter() - started)
            # SmartMoving repeating the delivery costs nothing more.
            sender.post({"event-type": "opportunity-changed", "opportunity-id": opportunity_id})
        calls_single = bench.server.stats.snapshot()["by_kind"]
        bench.server.reset_stats()
        started = time.perf_counter()
        burst = {o: round(bench.world.change_detail_only(o) * 100) for o in opportunities[EDITS:]}
        for opportunity_id, cents in burst.items():
            if not _wait_for(bench.app, opportunity_id, cents):
                raise RuntimeError(f"burst edit of {opportunity_id} never reached the board")
        burst_seconds = time.perf_counter() - started
        calls_burst = bench.server.stats.snapshot()["by_kind"]
    finally:
        bench.world.notifier = None
        server.shutdown()
        bench.server.stop()
    median, worst = percentile(one_by_one, 0.5), max(one_by_one)
    sweeps = calls_single["customers"] + calls_burst["customers"]
    return [
        Row("5", f"Webhook: a detail-only edit (money, crew) announced by opportunity-changed, until the board's row "
                 f"shows it ({EDITS} edits one at a time; sandbox 0.3 s per call, over HTTP both ways)",
            f"median {seconds(median)}, worst {seconds(worst)}", f"{LIMIT_SECONDS:.0f} s (Premium target)",
            ratio_text(worst, LIMIT_SECONDS), "worst ≤ 60 s", worst <= LIMIT_SECONDS),
        Row("5", f"Webhook: {EDITS} edits announced at once (one event each), until every row shows its edit",
            seconds(burst_seconds), f"{LIMIT_SECONDS:.0f} s", ratio_text(burst_seconds, LIMIT_SECONDS), "≤ 60 s",
            burst_seconds <= LIMIT_SECONDS),
        Row("5", f"API calls per announced edit ({EDITS} edits, each delivered twice, then {EDITS} at once)",
            f"{(calls_single['opportunity'] + calls_burst['opportunity']) / (2 * EDITS):.2f} detail calls, "
            f"{sweeps} sweep pages", "1 detail call, no sweep", ratio_text(
                (calls_single['opportunity'] + calls_burst['opportunity']) / (2 * EDITS), 1),
            "1.00×, duplicates free", calls_single["opportunity"] + calls_burst["opportunity"] == 2 * EDITS
            and sweeps == 0),
    ]
