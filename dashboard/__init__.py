"""The SmartMoving operator dashboard: a Flask app factory and its named set-up steps."""
import os

from flask import Flask

from dashboard.config import ConfigError
from dashboard.config import load_config
from dashboard.config import stop_on_config_error

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(test_config=None):
    """Build the app: config, extensions, blueprints, error pages, commands, scheduler."""
    app = _bare_app(test_config)
    configure(app, test_config)
    trust_proxies(app)

    from dashboard.logs import configure_logging
    configure_logging(app)
    from dashboard import guards
    guards.init_app(app)  # first: blueprints' int converters must be the bounded ones
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_security_headers(app)

    reap_interrupted_runs(app)
    retire_demo_users(app)
    from dashboard.scheduler import start_scheduler_if_serving
    start_scheduler_if_serving(app)
    return app


def _bare_app(test_config=None):
    """The Flask object with its folders, before any configuration."""
    app = Flask(
        __name__,
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
    import sqlalchemy as sa

    from dashboard.db import db
    from dashboard.sync.service import reap_dead_runs
    with app.app_context():
        try:
            reap_dead_runs()
        except sa.exc.SQLAlchemyError:  # no schema yet (before init-db): nothing to reap
            db.session.rollback()


def retire_demo_users(app):
    """Live mode: disable the demo users (their password is public) a demo start-up left behind, in one log line."""
    if app.testing or app.config["DEMO_MODE"]:
        return
    import logging

    import sqlalchemy as sa

    from dashboard.db import db
    from dashboard.demo import disable_demo_users
    with app.app_context():
        try:
            with db.write_transaction():
                line = disable_demo_users()
        except sa.exc.SQLAlchemyError:  # no schema yet (before init-db): init-db does it
            return
    if line:
        logging.getLogger("dashboard.demo").warning(line)


def trust_proxies(app):
    """Behind TRUSTED_PROXIES reverse proxies, take the client address and scheme from their headers."""
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix
        # Only X-Forwarded-For and -Proto: a proxy that does not set X-Forwarded-Host
        # would pass a client's own value through, so the Host header is left alone.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)


def register_extensions(app):
    """Bind the database, login manager, CSRF and htmx helpers to app."""
    from dashboard.db import db
    from dashboard.extensions import csrf
    from dashboard.extensions import htmx
    from dashboard.extensions import login_manager

    db.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)

    from dashboard.auth import loaders
    loaders.init_app(app)

    from dashboard import demo
    demo.init_app(app)

    from dashboard import cors
    cors.init_app(app)  # CORS_ORIGINS on the JSON API paths only


def register_blueprints(app):
    """Attach every area's blueprint."""
    from dashboard.admin import bp as admin_bp
    from dashboard.api import bp as api_bp
    from dashboard.api.seed import register_seed_paths
    from dashboard.api_paths import API_PREFIX
    from dashboard.audit import bp as audit_bp
    from dashboard.docs import bp as docs_bp
    from dashboard.auth import bp as auth_bp
    from dashboard.health import bp as health_bp
    from dashboard.jobs import bp as jobs_bp
    from dashboard.locations import bp as locations_bp
    from dashboard.reports import bp as reports_bp
    from dashboard.sync import bp as sync_bp
    from dashboard.webhooks import bp as webhooks_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(jobs_bp)
    app.register_blueprint(sync_bp, url_prefix="/sync")
    app.register_blueprint(locations_bp, url_prefix="/locations")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(reports_bp, url_prefix="/reports")
    app.register_blueprint(api_bp, url_prefix=API_PREFIX)
    register_seed_paths(app, api_bp)  # the same API at /smartmoving/..., the seed specification's paths
    app.register_blueprint(webhooks_bp, url_prefix="/api/smartmoving")
    app.register_blueprint(audit_bp, url_prefix="/audit")
    app.register_blueprint(docs_bp)


def register_errorhandlers(app):
    """One renderer for every error code: JSON, htmx fragment or page, never a traceback."""
    from dashboard.errors import init_app
    init_app(app)


def register_commands(app):
    """Add the flask CLI commands of CONTRACT.md."""
    from dashboard.cli import init_app
    init_app(app)


def register_security_headers(app):
    """Headers for every answer: no inline scripts (CSP), no framing, no sniffing, no stored copies."""
    from flask import request

    @app.after_request
    def set_security_headers(response):
        # Static files (ours, and Swagger UI's build for /docs) hold no data: those may be cached.
        if request.endpoint not in ("static", "docs.asset"):
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
