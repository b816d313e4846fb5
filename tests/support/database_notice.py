"""A pytest plugin (pytest.ini loads it): the run's last lines say which database tests ran on PostgreSQL.

Every test taking the `app` fixture runs once per backend (tests/conftest.py): on SQLite
always, on PostgreSQL only when TEST_DATABASE_URL is set. Without it those PostgreSQL runs
are never collected, so nothing would otherwise say they were missing.

Under pytest-xdist the workers collect and count; each sends its counts to the controller
(workeroutput), which prints the notice once.
"""
import os

import pytest

_counts = {"sqlite": 0, "postgresql": 0}


def backend_of(item):
    """The `backend` parameter of a collected test, or None for a test that takes no database backend."""
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("backend") if callspec is not None else None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    for name in _counts:
        _counts[name] = 0
    for item in items:
        backend = backend_of(item)
        if backend in _counts:
            _counts[backend] += 1


def pytest_sessionfinish(session):
    """An xdist worker hands its counts to the controller, which collects nothing itself."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["database_counts"] = dict(_counts)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """The xdist controller takes a finished worker's counts (each worker collects the whole selection)."""
    add_worker_counts(_counts, getattr(node, "workeroutput", None) or {})


def add_worker_counts(counts, workeroutput):
    """Fold one worker's counts into counts: the largest wins, as every worker collected the same tests."""
    for name, count in workeroutput.get("database_counts", {}).items():
        if name in counts:
            counts[name] = max(counts[name], count)


def _tests(count):
    return f"{count} database test{'' if count == 1 else 's'}"


def notice(counts, url_set):
    """The summary line for counts of selected tests per backend (None when no database test was selected)."""
    if url_set:
        return f"PostgreSQL: {_tests(counts['postgresql'])} selected to run on PostgreSQL too (TEST_DATABASE_URL)."
    if not counts["sqlite"]:
        return None
    return (f"PostgreSQL: {_tests(counts['sqlite'])} did not run on PostgreSQL because TEST_DATABASE_URL is "
            "unset (they ran on SQLite only; .ci/run sets it, or export "
            "TEST_DATABASE_URL=postgresql+psycopg://USER@HOST:5432/DB).")


def pytest_terminal_summary(terminalreporter, config):
    if hasattr(config, "workerinput"):   # an xdist worker: the controller prints the notice
        return
    url_set = bool(os.environ.get("TEST_DATABASE_URL", "").strip())
    line = notice(_counts, url_set)
    if line:
        terminalreporter.write_sep("-", "databases")
        terminalreporter.write_line(line, yellow=not url_set)
