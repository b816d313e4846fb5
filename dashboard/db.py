"""The database: one engine per app, a thread-scoped session, SQLite tuned for a web app.

`db.session` is bound lazily to the engine of the current Flask app, so several apps
(a test app and a live server, say) can live in one process.
"""
from contextlib import contextmanager

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from flask import has_app_context

# PostgreSQL's SQLSTATEs for "your transaction was chosen to fail; run it again".
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})   # deadlock_detected, serialization_failure


# SQLite's messages for "the file cannot be used right now".
_SQLITE_BUSY_STATES = ("locked", "disk I/O error", "unable to open database file")


def is_deadlock(error):
    """True when the database aborted this transaction to break a deadlock (run it again)."""
    orig = getattr(error, "orig", None)
    return isinstance(error, sa.exc.DBAPIError) and getattr(orig, "sqlstate", None) in _RETRYABLE_SQLSTATES


def is_disconnect(error):
    """True when error means the connection was lost (the server went away or dropped it)."""
    return isinstance(error, sa.exc.DBAPIError) and bool(error.connection_invalidated)


def is_unavailable(error):
    """True when the database cannot be reached or used right now: try again later, not a bug.

    A lost or refused connection, a locked SQLite file, a pool with no connection to
    spare, a deadlock victim.
    """
    if isinstance(error, (sa.exc.InterfaceError, sa.exc.TimeoutError)) or is_disconnect(error):
        return True
    if not isinstance(error, sa.exc.OperationalError):
        return False
    orig = getattr(error, "orig", None)
    if type(orig).__module__ == "sqlite3":
        # SQLite raises OperationalError for bugs too ("no such table"): only its busy states count.
        return any(state in str(orig) for state in _SQLITE_BUSY_STATES)
    return True


def refuses_data(error):
    """True when the database refused a statement for the data it carried (not for its own health).

    Such a batch can be written again row by row to find and skip the culprit; an
    outage, a lock timeout or a deadlock is the database's state, not the data's.
    """
    if isinstance(error, (sa.exc.IntegrityError, sa.exc.DataError, OverflowError, UnicodeError)):
        return True
    # A value no type processor could convert: SQLAlchemy's error, the driver never saw it.
    return isinstance(error, sa.exc.StatementError) and not isinstance(error, sa.exc.DBAPIError)


class Base(so.DeclarativeBase):
    """Declarative base for every model."""


class _AppBoundSession(so.Session):
    """A session that finds its engine through the current Flask app."""

    def get_bind(self, mapper=None, clause=None, **kwargs):
        if self.bind is not None:
            return self.bind
        if not has_app_context():
            raise RuntimeError("db.session used outside an application context")
        return current_app.extensions["sqlalchemy_engine"]


# How long a SQLite writer waits for another's lock before the request answers 503.
SQLITE_BUSY_TIMEOUT_MS = 10000


def _configure_sqlite(dbapi_connection, connection_record):
    """Per-connection SQLite settings: WAL, a busy wait, enforced foreign keys."""
    # The sqlite3 module opens transactions on its own; turning that off lets the
    # "begin" hook below send BEGIN IMMEDIATE so writers queue instead of failing.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_sqlite(conn):
    # Writers ask for IMMEDIATE: it takes the write lock up front, so busy_timeout
    # applies; a deferred transaction that reads then writes fails at once with
    # "database is locked" when another writer got there first. Readers stay
    # deferred so boards keep answering (WAL) while a sync writes.
    if conn.get_execution_options().get("sqlite_immediate"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def create_db_engine(url):
    """Build an engine for url; SQLite gets WAL, busy_timeout and immediate transactions."""
    # hide_parameters: a database error's text never carries the row's values (customer
    # names, phones, money) into a run's error, a log line or a page.
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False,
                                                     "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                                  hide_parameters=True)
        sa.event.listen(engine, "connect", _configure_sqlite)
        sa.event.listen(engine, "begin", _begin_sqlite)
    else:
        engine = sa.create_engine(url, pool_pre_ping=True, hide_parameters=True)
    return engine


class Database:
    """Holds the scoped session; each app registers its own engine with init_app."""

    def __init__(self):
        self.session = so.scoped_session(so.sessionmaker(class_=_AppBoundSession, expire_on_commit=False))

    def init_app(self, app):
        """Create the app's engine and remove the thread's session after each request."""
        engine = create_db_engine(app.config["DATABASE_URL"])
        app.extensions["sqlalchemy_engine"] = engine

        @app.before_request
        def writers_lock_first():
            from flask import request
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                self.begin_write()

        @app.teardown_appcontext
        def remove_session(exc=None):
            self.discard_session()   # never raises: a dead connection must not escape Flask

    def begin_write(self):
        """Start this session's next transaction as a writer (BEGIN IMMEDIATE on SQLite).

        Ends any read-only transaction first, so call it before the work's first read.
        """
        if self.session().in_transaction():
            self.session.commit()
        self.session.connection(execution_options={"sqlite_immediate": True})

    def discard_session(self):
        """Roll back and drop this thread's session, whatever state its connection is in.

        After a lost connection even the rollback can fail; the next use opens a fresh one.
        Closing (not rolling back) keeps loaded rows readable, e.g. the signed-in user
        an error page shows.
        """
        try:
            self.session.remove()
        except Exception:
            self.session.registry.clear()

    @contextmanager
    def write_transaction(self):
        """A short write transaction: committed on success, rolled back on any error."""
        self.begin_write()
        try:
            yield self.session
            self.session.commit()
        except BaseException:
            self.session.rollback()
            raise

    @property
    def engine(self):
        return current_app.extensions["sqlalchemy_engine"]

    def create_all(self):
        Base.metadata.create_all(self.engine)

    def drop_all(self):
        Base.metadata.drop_all(self.engine)


db = Database()
