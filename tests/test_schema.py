"""init-db: Alembic builds the same schema as the models, on both databases, idempotently."""
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dashboard.db import Base
from dashboard.db import db
from tests.support import PG_URL
from tests.support import forget_postgres_schema


@pytest.fixture
def empty_app(backend, tmp_path):
    if backend == "postgresql":
        engine = sa.create_engine(PG_URL)
        with engine.begin() as conn:
            Base.metadata.drop_all(conn)
            conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()
        forget_postgres_schema(PG_URL)  # later tests rebuild their schema
        url = PG_URL
    else:
        url = "sqlite:///" + str(tmp_path / "fresh.sqlite")
    from dashboard import create_app
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "x", "SYNC_INTERVAL_MINUTES": 0,
                      "INSTANCE_PATH": str(tmp_path / "instance"), "SMARTMOVING_API_KEY": "live-key-not-used"})
    yield app
    app.extensions["sqlalchemy_engine"].dispose()


def test_init_db_twice_matches_models(empty_app):
    runner = empty_app.test_cli_runner()
    first = runner.invoke(args=["init-db"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["init-db"])
    assert second.exit_code == 0 and "up to date" in second.output
    with empty_app.app_context():
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_app_refuses_to_start_without_secret_key_in_production(tmp_path):
    from dashboard import create_app
    from dashboard.config import ConfigError
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"DATABASE_URL": "sqlite://", "SMARTMOVING_API_KEY": "k", "INSTANCE_PATH": str(tmp_path)})


@pytest.mark.parametrize("key, value", [("SYNC_INTERVAL_MINUTES", "often"), ("DASHBOARD_TIMEZONE", "Mars/Base"),
                                        ("SMARTMOVING_MIN_INTERVAL", "-1")])
def test_malformed_settings_stop_start_up_with_the_name(tmp_path, key, value):
    from dashboard import create_app
    from dashboard.config import ConfigError
    with pytest.raises(ConfigError, match=key):
        create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "INSTANCE_PATH": str(tmp_path), key: value})
