"""What an error may say where people read it (sync runs, webhook events, the logs): never data.

A database error's text carries the SQL statement and, unless the engine hides them,
its bound values (a customer's name, phone, e-mail, address, money). PostgreSQL adds
DETAIL lines that quote key values too. So an error is shown as its class and the
first line of the driver's own message, with anything it quotes after a colon cut off.
"""
import sqlalchemy as sa

MAX_LENGTH = 200


def describe_error(error):
    """'Class: short message' for error, with no SQL, no bound values and no quoted data."""
    if isinstance(error, sa.exc.StatementError) and error.orig is not None:
        return f"{type(error.orig).__name__}: {_database_message(error.orig)}"
    if isinstance(error, sa.exc.SQLAlchemyError) or _from_driver(error):
        return f"{type(error).__name__}: {_database_message(error)}"
    message = _first_line(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def _from_driver(error):
    """True for the database driver's own exceptions (psycopg, sqlite3)."""
    return type(error).__module__.split(".")[0] in ("psycopg", "psycopg2", "sqlite3")


def _database_message(error):
    """The driver's primary message without what it quotes: 'invalid input syntax for type integer'."""
    text = _first_line(error)
    text = text.split("[SQL:", 1)[0].strip()
    # Drivers put the offending value after a colon ('...: "Ann Smith"'); SQLite puts
    # column names there, which are no loss to drop.
    return text.split(": ", 1)[0].strip() or "database error"


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0].strip()[:MAX_LENGTH] if text else ""
