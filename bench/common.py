"""What every bench section shares: result rows, the markdown table, throw-away apps, statement counting."""
import logging
import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field

import sqlalchemy as sa

# A developer's real settings must never leak into a bench app (it would call the real API).
for _name in ("SMARTMOVING_API_KEY", "SMARTMOVING_CLIENT_ID", "SMARTMOVING_BASE_URL", "DATABASE_URL",
              "SECRET_KEY", "SYNC_INTERVAL_MINUTES", "DASHBOARD_TIMEZONE"):
    os.environ.pop(_name, None)

PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
TIMEZONE = "America/Toronto"


@dataclass
class Row:
    """One line of the table: ours next to its limit, and the verdict against the target."""
    section: str
    measure: str
    ours: str
    limit: str
    ratio: str
    target: str
    ok: bool | None = None  # None: reported, not judged
    notes: list = field(default_factory=list)

    @property
    def verdict(self):
        return {True: "✅", False: "❌", None: "—"}[self.ok]


def ratio_text(ours, limit):
    """ours / limit as '1.23×' ('—' when the limit is zero)."""
    return f"{ours / limit:.2f}×" if limit else "—"


def seconds(value):
    """A duration for the table: ms below a second, s above."""
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def markdown_table(rows):
    """The rows as a markdown table."""
    lines = ["| # | measure | ours | limit | ratio | target | ok |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        cells = [row.section, row.measure, row.ours, row.limit, row.ratio, row.target, row.verdict]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def make_app(database_url, instance_dir, **overrides):
    """A test-mode app on an empty database_url with the schema and the default company."""
    from dashboard import create_app
    from dashboard.db import Base
    from dashboard.db import db
    from dashboard.schema import ensure_default_company

    config = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(instance_dir),
        "SYNC_INTERVAL_MINUTES": 0,
        "SMARTMOVING_MIN_INTERVAL": 0,
        "SECRET_KEY": "bench-secret",
        "DASHBOARD_TIMEZONE": TIMEZONE,
    }
    config.update(overrides)
    app = create_app(config)
    logging.getLogger("dashboard").setLevel(logging.WARNING)  # one INFO line per sync would drown the table
    with app.app_context():
        if not database_url.startswith("sqlite"):
            with db.engine.begin() as conn:
                Base.metadata.drop_all(conn)
                conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        db.create_all()
        ensure_default_company(app)
    return app


def dispose(app):
    """Close app's pooled connections."""
    app.extensions["sqlalchemy_engine"].dispose()


def postgres_reachable(url=PG_URL):
    """None when PostgreSQL at url answers, else the reason it does not."""
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as error:  # any failure means "skip the column", with the reason printed
        return f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"


_WRITE = re.compile(r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)


class StatementLog:
    """SQL statements seen on an engine, with the rows each write statement carried."""

    def __init__(self):
        self.statements = 0
        self.writes = {}        # table -> write statements
        self.write_rows = {}    # table -> parameter sets sent with those statements

    def record(self, statement, parameters, executemany):
        self.statements += 1
        match = _WRITE.match(statement)
        if match:
            table = match.group(2).lower()
            rows = len(parameters) if executemany and parameters is not None else 1
            self.writes[table] = self.writes.get(table, 0) + 1
            self.write_rows[table] = self.write_rows.get(table, 0) + rows


@contextmanager
def counted_statements(engine):
    """Count every statement sent to engine inside the block."""
    log = StatementLog()

    def listen(conn, cursor, statement, parameters, context, executemany):
        log.record(statement, parameters, executemany)

    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        yield log
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)


class Stopwatch:
    """`with Stopwatch() as sw: ...; sw.elapsed`."""

    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.elapsed = time.perf_counter() - self.started


def percentile(values, fraction):
    """The nearest-rank percentile of values (fraction 0.5 is the median)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, int(round(fraction * len(ordered) + 0.5)) - 1))
    return ordered[index]
