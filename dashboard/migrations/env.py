"""Alembic environment: runs against the engine of the app that called init-db."""
from alembic import context

from dashboard import models  # noqa: F401  (registers every table on Base.metadata)
from dashboard.changes import models as _  # noqa: F401  (upstream_changes)
from dashboard.db import Base
from dashboard.plans import models as _plans  # noqa: F401  (plans_outbox)
from dashboard.reports import models as _reports  # noqa: F401  (report_days, report_day_facts)

target_metadata = Base.metadata


def run_migrations_online():
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite can't ALTER much: copy-and-move
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
