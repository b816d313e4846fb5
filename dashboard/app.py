"""The app factory: the one place that wires settings, extensions, blueprints, hooks, filters, errors and CLI."""
import logging
import os
from datetime import UTC
from datetime import datetime

import sqlalchemy as sa
from flask import Flask
from flask import request
from werkzeug.middleware.proxy_fix import ProxyFix

from dashboard import cli
from dashboard import cors
from dashboard import demo
from dashboard import docs
from dashboard import errors
from dashboard import guards
from dashboard import health
from dashboard import icon_views
from dashboard import unavailable
from dashboard import web
from dashboard.admin import views as admin_views
from dashboard.api import seed as api_seed
from dashboard.api import views as api_views
from dashboard.api_paths import API_PREFIX
from dashboard.api_paths import SEED_PREFIX
from dashboard.audit import views as audit_views
from dashboard.auth import jwt_views  # noqa: F401  (adds /auth/token to auth's bp)
from dashboard.auth import loaders
from dashboard.auth import token_views  # noqa: F401  (adds the token pages to auth's bp)
from dashboard.auth import views as auth_views
from dashboard.auth.session import enforce_session_timeouts
from dashboard.changes import api_views as changes_api_views
from dashboard.changes import board_views as changes_board_views
from dashboard.changes import views as changes_views
from dashboard.companies import api_views as companies_api_views
from dashboard.companies import views as companies_views
from dashboard.config import ConfigError
from dashboard.config import load_config
from dashboard.config import stop_on_config_error
from dashboard.confirm import states as confirm_states
from dashboard.confirm import views as confirm_views
from dashboard.crew import api_views as crew_api_views
from dashboard.crew import time_off_api_views
from dashboard.crew import time_off_views
from dashboard.crew import views as crew_views
from dashboard.db import db
from dashboard.extensions import csrf
from dashboard.extensions import htmx
from dashboard.extensions import login_manager
from dashboard.jobs import crew_roster
from dashboard.jobs import views as jobs_views
from dashboard.locations import views as locations_views
from dashboard.logs import configure_logging
from dashboard.permissions import Perm
from dashboard.permissions import can
from dashboard.plans import api_views as plans_api_views
from dashboard.plans import views as plans_views
from dashboard.readiness import api_views as readiness_api_views
from dashboard.readiness import views as readiness_views
from dashboard.reports import page_cache as report_pages
from dashboard.reports import views as reports_views
from dashboard.reports.tables import display as report_cell
from dashboard.sandbox.embedded import ensure_embedded_sandbox
from dashboard.scheduler import start_scheduler_if_serving
from dashboard.sync import views as sync_views
from dashboard.sync.clients import SANDBOX_EXTENSION
from dashboard.sync.service import reap_dead_runs
from dashboard.webhooks import views as webhooks_views

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(test_config=None):
    """Build the app: config, extensions, blueprints, hooks, templates, error pages, commands, scheduler."""
    app = _bare_app(test_config)
    configure(app, test_config)
    trust_proxies(app)
    configure_logging(app)
    guards.init_app(app)  # first: blueprints' int converters must be the bounded ones
    register_first_hooks(app)
    register_extensions(app)
    register_blueprints(app)
    register_later_hooks(app)
    register_template_helpers(app)
    errors.init_app(app)
    unavailable.init_app(app)   # database outages: 503 with Retry-After, never a 500
    cli.init_app(app)
    register_security_headers(app)
    forget_rendered_rows()

    reap_interrupted_runs(app)
    retire_demo_users(app)
    start_scheduler_if_serving(app)
    return app


def _bare_app(test_config=None):
    """The Flask object with its folders, before any configuration."""
    app = Flask(
        "dashboard",
        instance_path=os.path.join(_ROOT, "instance"),
        instance_relative_config=True,
        template_folder=os.path.join(_ROOT, "templates"),
        static_folder=os.path.join(_ROOT, "static"),
    )
    if test_config and test_config.get("INSTANCE_PATH"):
        app.instance_path = test_config["INSTANCE_PATH"]
    os.makedirs(app.instance_path, exist_ok=True)
    return app


def configure(app, test_config=None):
    """Load and check the settings; outside tests a bad one stops the process in one line (exit 2)."""
    try:
        load_config(app, test_config)
    except ConfigError as error:
        if test_config is not None:
            raise  # the tests assert on the error itself
        stop_on_config_error(error)


def check_settings():
    """Check the settings as create_app would, building nothing else (gunicorn's master, before any worker)."""
    configure(_bare_app())


def reap_interrupted_runs(app):
    """Fail sync runs left RUNNING by a dead process of this host (kill -9), so "Sync now" is free at once."""
    if app.testing:
        return
    with app.app_context():
        try:
            reap_dead_runs()
        except sa.exc.SQLAlchemyError:  # no schema yet (before init-db): nothing to reap
            db.session.rollback()


def retire_demo_users(app):
    """Live mode: disable the demo users (their password is public) a demo start-up left behind, in one log line."""
    if app.testing or app.config["DEMO_MODE"]:
        return
    with app.app_context():
        try:
            with db.write_transaction():
                line = demo.disable_demo_users()
        except sa.exc.SQLAlchemyError:  # no schema yet (before init-db): init-db does it
            return
    if line:
        logging.getLogger("dashboard.demo").warning(line)


def trust_proxies(app):
    """Behind TRUSTED_PROXIES reverse proxies, take the client address and scheme from their headers."""
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        # Only X-Forwarded-For and -Proto: a proxy that does not set X-Forwarded-Host
        # would pass a client's own value through, so the Host header is left alone.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)


def register_first_hooks(app):
    """The hooks that must run before the extensions' own (CSRF above all), in this order."""
    # A sign-in over plain HTTP whose Secure cookie was dropped: CSRFProtect would say "form expired".
    app.before_request(auth_views.expect_https_for_sign_in)
    # A present Authorization header decides who the caller is: CSRF and every view see the verdict.
    app.before_request(loaders.authenticate_authorization_header)
    app.before_request(guards.reject_control_characters)


def register_extensions(app):
    """Bind the database, login manager, CSRF, htmx helpers and CORS to app."""
    db.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)
    loaders.init_app(app)
    # In demo mode the default company's SmartMoving is the built-in sandbox, started on the first sync.
    app.extensions[SANDBOX_EXTENSION] = ensure_embedded_sandbox
    if demo.announces_webhooks(app):
        app.before_request(demo.wire_demo_webhooks)
        app.before_request(demo.start_upstream_changes)   # the sandbox edits dispatched jobs (issue 19)
    cors.init_app(app)  # CORS_ORIGINS on the JSON API paths only


def register_blueprints(app):
    """Attach every area's blueprint (each views module defines its own bp)."""

    app.register_blueprint(health.bp)
    app.register_blueprint(icon_views.bp)   # /favicon.ico
    app.register_blueprint(auth_views.bp, url_prefix="/auth")
    app.register_blueprint(jobs_views.bp)
    app.register_blueprint(changes_board_views.bp)
    app.register_blueprint(sync_views.bp, url_prefix="/sync")
    app.register_blueprint(locations_views.bp, url_prefix="/locations")
    app.register_blueprint(admin_views.bp, url_prefix="/admin")
    app.register_blueprint(reports_views.bp, url_prefix="/reports")
    app.register_blueprint(api_views.bp, url_prefix=API_PREFIX)
    # The same API at /smartmoving/..., the seed specification's paths (endpoints seed_api.*).
    app.register_blueprint(api_views.bp, url_prefix=SEED_PREFIX, name=api_seed.SEED_BLUEPRINT)
    app.register_blueprint(webhooks_views.bp, url_prefix="/api/smartmoving")
    app.register_blueprint(audit_views.bp, url_prefix="/audit")
    app.register_blueprint(docs.bp)
    app.register_blueprint(readiness_views.bp)
    app.register_blueprint(readiness_api_views.bp, url_prefix=API_PREFIX)
    app.register_blueprint(readiness_api_views.bp, url_prefix=SEED_PREFIX, name="seed_readiness_api")
    app.register_blueprint(confirm_views.bp)   # the crew's personal links (no sign-in)
    app.register_blueprint(plans_views.bp)       # "Send plan" and the outbox
    app.register_blueprint(plans_api_views.bp, url_prefix=API_PREFIX)
    app.register_blueprint(plans_api_views.bp, url_prefix=SEED_PREFIX, name="seed_plans_api")
    app.register_blueprint(time_off_views.bp)
    app.register_blueprint(time_off_api_views.bp, url_prefix=API_PREFIX)
    app.register_blueprint(time_off_api_views.bp, url_prefix=SEED_PREFIX, name="seed_time_off_api")
    app.register_blueprint(crew_views.bp)
    app.register_blueprint(crew_api_views.bp, url_prefix=API_PREFIX)
    app.register_blueprint(crew_api_views.bp, url_prefix=SEED_PREFIX, name="seed_crew_api")
    app.register_blueprint(changes_views.bp)
    app.register_blueprint(changes_api_views.bp, url_prefix=API_PREFIX)
    app.register_blueprint(changes_api_views.bp, url_prefix=SEED_PREFIX, name="seed_changes_api")
    app.register_blueprint(companies_views.bp, url_prefix="/admin/companies")   # super admin (issue 21)
    app.register_blueprint(companies_api_views.bp, url_prefix=API_PREFIX)
    app.register_blueprint(companies_api_views.bp, url_prefix=SEED_PREFIX, name="seed_companies_api")


def register_later_hooks(app):
    """The hooks that run after the extensions' own."""
    app.before_request(enforce_session_timeouts)
    app.before_request(companies_views.pick_company)   # ?company=ID / the switcher (issue 21)
    app.before_request(api_seed.explain_get_on_sync)


def register_template_helpers(app):
    """The filters and globals every template may use."""
    for name, function in web.TEMPLATE_FILTERS.items():
        app.add_template_filter(function, name)
    for name, function in web.TEMPLATE_GLOBALS.items():
        app.add_template_global(function, name)
    app.add_template_filter(report_cell, "report_cell")

    @app.context_processor
    def permission_helpers():
        return {"Perm": Perm, "can": can, "now_utc": datetime.now(UTC)}


def forget_rendered_rows():
    """A new app (another database, e.g. in tests) must never be served rows drawn from the last one."""
    jobs_views.forget_rendered_rows()
    confirm_states.forget()
    crew_roster.forget()
    report_pages.forget()


def register_security_headers(app):
    """Headers for every answer: no inline scripts (CSP), no framing, no sniffing, no stored copies."""

    @app.after_request
    def set_security_headers(response):
        # Static files (ours, and Swagger UI's build for /docs) hold no data: those may be cached.
        if request.endpoint not in ("static", "docs.asset", "icons.favicon"):
            # Pages, fragments, CSV, print sheets and JSON carry customer or user data:
            # no browser or proxy may keep a copy. (The board partial keeps its ETag,
            # so a poller that sends If-None-Match itself still gets its 304.)
            response.headers["Cache-Control"] = "no-store"
            response.vary.update(("Cookie", "Authorization"))
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
