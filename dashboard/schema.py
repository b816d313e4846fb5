"""Creating and upgrading the schema with Alembic, and the default company."""
import os

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from dashboard.db import db
from dashboard.models import Company

MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")


def alembic_config(connection=None):
    """An Alembic config pointing at our migrations, optionally bound to a live connection."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_schema():
    """Bring the schema to the newest revision (idempotent)."""
    with db.engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")


def ensure_default_company(app):
    """Create the default company once; its zone comes from DASHBOARD_TIMEZONE."""
    with db.write_transaction() as session:
        company = session.scalar(sa.select(Company).where(Company.is_default.is_(True)))
        if company is None:
            name = "Demo Moving Co." if app.config["DEMO_MODE"] else "Default"
            company = Company(name=name, is_default=True, timezone=app.config["DASHBOARD_TIMEZONE"],
                              api_key_env="SMARTMOVING_API_KEY")
            session.add(company)
        elif company.timezone != app.config["DASHBOARD_TIMEZONE"]:
            company.timezone = app.config["DASHBOARD_TIMEZONE"]
    return company
