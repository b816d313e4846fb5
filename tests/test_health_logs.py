"""Probes (/healthz, /readyz) and the JSON logs with secrets redacted."""
import io
import json
import logging
from datetime import date
from datetime import datetime

import pytest

from dashboard import create_app
from dashboard.db import db
from dashboard.logs import JsonFormatter
from dashboard.logs import configure_logging
from dashboard.logs import redact
from dashboard.logs import secrets_from_environment
from dashboard.models import SyncRun

API_KEY = "sm-live-9f8e7d6c5b4a"


# ---------------------------------------------------------------- probes

def test_healthz_answers_without_sign_in_and_is_never_cached(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_is_ready_when_the_database_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["database"] == "up"
    assert body["lastSync"] is None
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_names_the_last_finished_sync(app, client, default_company):
    with app.app_context(), db.write_transaction() as session:
        session.add(SyncRun(company_id=default_company.id, trigger="cli", window_start=date(2030, 1, 1),
                            window_end=date(2030, 1, 2), status="SUCCESS", started_at=datetime(2030, 1, 1, 9),
                            finished_at=datetime(2030, 1, 1, 9, 1)))
    body = client.get("/readyz").get_json()
    assert body["lastSync"] == {"status": "SUCCESS", "finishedAt": "2030-01-01T09:01:00Z"}


@pytest.fixture(params=["postgresql", "sqlite"])
def down_app(request, tmp_path):
    """An app whose database cannot be reached."""
    url = ("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2" if request.param == "postgresql"
           else "sqlite:///" + str(tmp_path / "no" / "such" / "dir" / "db.sqlite"))
    app = create_app({"TESTING": True, "DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "instance"),
                      "SYNC_INTERVAL_MINUTES": 0, "SECRET_KEY": "test-secret"})
    yield app
    app.extensions["sqlalchemy_engine"].dispose()


def test_readyz_is_503_while_the_database_is_down_and_healthz_stays_up(down_app, caplog):
    client = down_app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "down"}
    assert response.headers["Cache-Control"] == "no-store"
    assert "readiness check failed" in caplog.text
    assert client.get("/healthz").status_code == 200


def _hours_around_now(app, business):
    """SYNC_BUSINESS_HOURS that hold the company's present hour (business) or leave it out (night)."""
    from zoneinfo import ZoneInfo
    hour = datetime.now(ZoneInfo(app.config["DASHBOARD_TIMEZONE"])).hour
    if business:
        return "00:00-24:00"
    start = (hour + 2) % 22   # a two-hour day that ends before midnight and misses this hour
    return f"{start:02d}:00-{start + 2:02d}:00"


def _finished_sync(app, company, minutes_ago):
    from datetime import timedelta

    from dashboard.models import utcnow
    with app.app_context(), db.write_transaction() as session:
        finished = utcnow() - timedelta(minutes=minutes_ago)
        session.add(SyncRun(company_id=company.id, trigger="schedule", window_start=finished.date(),
                            window_end=finished.date(), status="SUCCESS", started_at=finished - timedelta(minutes=1),
                            finished_at=finished))


@pytest.mark.parametrize("plan, business, minutes_ago, status", [
    ("basic", False, 120, "ok"),         # Basic at night sweeps every 4 h: a 2-hour-old sync is on time
    ("basic", False, 250, "ok"),         # 4 h plus the slack for a late tick
    ("basic", False, 260, "degraded"),   # past that, even at night
    ("basic", True, 40, "ok"),           # business hours: every 30 min, plus the slack
    ("basic", True, 50, "degraded"),
    ("premium", False, 29, "ok"),        # Premium sweeps every 10 min: SYNC_STALE_MINUTES (30) rules
    ("premium", False, 35, "degraded"),
])
def test_health_judges_the_last_sync_by_the_plans_cadence(app, client, default_company, plan, business,
                                                          minutes_ago, status):
    app.config["SMARTMOVING_PLAN"] = plan
    app.config["SMARTMOVING_MONTHLY_QUOTA"] = None   # the plan's own quota
    app.config["SYNC_BUSINESS_HOURS"] = _hours_around_now(app, business)
    _finished_sync(app, default_company, minutes_ago)
    answer = client.get("/api/smartmoving/health")
    body = answer.get_json()
    assert answer.status_code == 200 and body["status"] == status
    assert body["lastSync"]["stale"] is (status == "degraded") and body["smartmoving"]["status"] == "ok"


def test_health_keeps_its_shape_when_the_database_is_down(down_app):
    answer = down_app.test_client().get("/api/smartmoving/health")
    assert answer.status_code == 503
    body = answer.get_json()
    assert body["status"] == "degraded" and body["database"] == "down" and body["lastSync"] is None
    # "smartmoving" is the same object as in a 200 answer, never a bare string.
    assert body["smartmoving"] == {"status": "unknown", "mode": "demo"}   # no API key: demo mode


# ---------------------------------------------------------------- logs

def _capture(secrets=()):
    """A logger writing JSON lines into a buffer; (logger, buffer)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter(secrets=secrets))
    logger = logging.getLogger("dashboard.test_health_logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, buffer


def _lines(buffer):
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_each_line_is_a_json_object_with_the_standard_fields_and_extras():
    logger, buffer = _capture()
    logger.info("sync %s finished", 7, extra={"sync_run_id": 7, "company_id": 1, "status": "SUCCESS",
                                               "duration_ms": 1234, "trigger": "scheduled"})
    (line,) = _lines(buffer)
    assert line["message"] == "sync 7 finished"
    assert line["level"] == "INFO" and line["logger"] == "dashboard.test_health_logs"
    assert line["ts"].endswith("Z") and "T" in line["ts"]
    assert isinstance(line["pid"], int)
    assert {k: line[k] for k in ("sync_run_id", "company_id", "status", "duration_ms", "trigger")} == {
        "sync_run_id": 7, "company_id": 1, "status": "SUCCESS", "duration_ms": 1234, "trigger": "scheduled"}


@pytest.mark.parametrize("text", [
    f"GET /v1/api/customers headers={{'x-api-key': '{API_KEY}'}}",
    f"x-api-key: {API_KEY}",
    f"https://api.example.test/v1/api/customers?api_key={API_KEY}&page=2",
    f"apikey={API_KEY}",
    f"Authorization: Bearer {API_KEY}",
])
def test_secret_shapes_are_redacted_even_when_the_key_is_unknown(text):
    assert API_KEY not in redact(text)
    assert "[REDACTED]" in redact(text)


def test_database_url_passwords_are_redacted():
    assert redact("postgresql+psycopg://app:s3cretpw@db:5432/x") == "postgresql+psycopg://app:[REDACTED]@db:5432/x"


def test_the_configured_key_is_redacted_everywhere_in_a_line():
    logger, buffer = _capture(secrets=[API_KEY])
    try:
        raise RuntimeError(f"call failed with key {API_KEY}")
    except RuntimeError:
        logger.exception("sync failed for %s", API_KEY, extra={"detail": f"key={API_KEY}", "url": f"/x/{API_KEY}"})
    raw = buffer.getvalue()
    assert API_KEY not in raw
    assert raw.count("[REDACTED]") >= 4
    (line,) = _lines(buffer)
    assert "RuntimeError" in line["message"]  # the traceback is kept, minus the key


def test_configure_logging_redacts_the_apps_key_and_every_companys_key(tmp_path, monkeypatch):
    monkeypatch.setenv("ACME_MOVERS_API_KEY", "acme-key-0123456789")
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite:///" + str(tmp_path / "l.sqlite"),
                      "INSTANCE_PATH": str(tmp_path / "instance"), "SYNC_INTERVAL_MINUTES": 0,
                      "SECRET_KEY": "test-secret-key", "SMARTMOVING_API_KEY": API_KEY})
    configure_logging(app)
    handler = next(h for h in logging.getLogger("dashboard").handlers if getattr(h, "_dashboard", False))
    buffer = io.StringIO()
    old_stream = handler.setStream(buffer)
    try:
        logging.getLogger("dashboard.sync.service").warning(
            "keys %s and %s, secret %s", API_KEY, "acme-key-0123456789", "test-secret-key")
        logging.getLogger("apscheduler.scheduler").warning("job raised with %s", API_KEY)
    finally:
        handler.setStream(old_stream)
        app.extensions["sqlalchemy_engine"].dispose()
    raw = buffer.getvalue()
    assert raw.count("\n") == 2  # APScheduler's warnings come out as JSON lines too
    assert API_KEY not in raw and "acme-key-0123456789" not in raw and "test-secret-key" not in raw
    assert all(json.loads(line)["message"].count("[REDACTED]") >= 1 for line in raw.splitlines())


def test_secrets_from_environment_takes_secret_names_only():
    environ = {"SMARTMOVING_API_KEY": "abcdef123", "OTHER_API_KEY": "zyxwvu987", "SECRET_KEY": "s3cr3t-key",
               "PATH": "/usr/bin", "SHORT_TOKEN": "abc"}
    assert sorted(secrets_from_environment(environ)) == ["abcdef123", "s3cr3t-key", "zyxwvu987"]


def test_a_broken_format_string_does_not_lose_the_line():
    logger, buffer = _capture()
    logger.info("two args %s %s", "only-one")
    (line,) = _lines(buffer)
    assert "only-one" in line["message"]
