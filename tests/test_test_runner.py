"""`make test` itself: the browser tests find Chromium by CHROMIUM_PATH, and the run says which database tests
did not run on PostgreSQL, and why."""
import os
import subprocess
import sys

import pytest

from tests.support import browser as browser_helpers
from tests.support import worker_database_url
from tests.support.database_notice import add_worker_counts
from tests.support.database_notice import notice
from tests.support.scheduling import work_unit_of

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_browser_tests_use_chromium_path(monkeypatch, tmp_path):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("CHROMIUM_PATH", raising=False)
    assert browser_helpers.chromium_path() == "/usr/bin/chromium"
    elsewhere = tmp_path / "chrome"
    elsewhere.write_text("")
    monkeypatch.setenv("CHROMIUM_PATH", str(elsewhere))
    assert browser_helpers.chromium_path() == str(elsewhere)
    browser_helpers.skip_without_chromium()   # it exists there: no skip
    monkeypatch.setenv("CHROMIUM_PATH", str(tmp_path / "missing"))
    with pytest.raises(pytest.skip.Exception, match="missing"):
        browser_helpers.skip_without_chromium()
    monkeypatch.setenv("CI", "true")   # in CI a missing browser fails the tests instead
    browser_helpers.skip_without_chromium()


def test_the_database_notice_counts_and_says_why():
    unset = notice({"sqlite": 812, "postgresql": 0}, url_set=False)
    assert unset.startswith(
        "PostgreSQL: 812 database tests did not run on PostgreSQL because TEST_DATABASE_URL is unset")
    assert notice({"sqlite": 1, "postgresql": 0}, url_set=False).startswith("PostgreSQL: 1 database test did not")
    assert notice({"sqlite": 0, "postgresql": 0}, url_set=False) is None   # no database test selected
    assert notice({"sqlite": 9, "postgresql": 9}, url_set=True) == (
        "PostgreSQL: 9 database tests selected to run on PostgreSQL too (TEST_DATABASE_URL).")


def test_under_xdist_the_controller_takes_the_workers_counts():
    counts = {"sqlite": 0, "postgresql": 0}
    add_worker_counts(counts, {"database_counts": {"sqlite": 40, "postgresql": 40}})
    add_worker_counts(counts, {"database_counts": {"sqlite": 40, "postgresql": 40}})   # the same selection
    add_worker_counts(counts, {})   # a worker that crashed before reporting
    assert counts == {"sqlite": 40, "postgresql": 40}


def test_each_xdist_worker_gets_a_postgresql_database_of_its_own():
    url = "postgresql+psycopg://ci:s3cret@127.0.0.1:5432/dashboard_ci"
    assert worker_database_url(url, "gw1") == "postgresql+psycopg://ci:s3cret@127.0.0.1:5432/dashboard_ci_gw1"
    assert worker_database_url(url, None) == url   # not under xdist: the database itself
    assert worker_database_url("", "gw0") == ""   # no PostgreSQL at all


def test_xdist_keeps_a_browser_module_on_one_worker_and_spreads_the_other_tests():
    board = "tests/browser/test_board_ui.py"
    assert work_unit_of(f"{board}::test_dense_table") == work_unit_of(f"{board}::test_refresh") == board
    assert work_unit_of("tests/test_api.py::test_a[sqlite]") != work_unit_of("tests/test_api.py::test_a[postgresql]")


def test_apps_share_the_url_builders_and_template_code_werkzeug_and_jinja_would_compile(tmp_path):
    """tests/support/compile_cache.py: each rule's builder is the code werkzeug generates for it; a template's
    code, compiled by the first app, is what the next app runs."""
    from werkzeug.routing import Rule

    from tests.support import compile_cache
    from tests.support import make_test_app

    one = make_test_app("sqlite:///" + str(tmp_path / "one.sqlite"), tmp_path / "one")
    two = make_test_app("sqlite:///" + str(tmp_path / "two.sqlite"), tmp_path / "two")
    assert Rule._compile_builder is compile_cache.shared_builder
    for rule in two.url_map.iter_rules():
        for append_unknown in (False, True):
            shared = rule._compile_builder(append_unknown).__code__
            fresh = compile_cache.werkzeug_builder(rule, append_unknown).__code__
            assert (shared.co_name, shared.co_varnames, shared.co_consts, shared.co_code) == (
                fresh.co_name, fresh.co_varnames, fresh.co_consts, fresh.co_code), rule.rule
    first, second = (app.jinja_env.get_template("base.html").root_render_func.__code__ for app in (one, two))
    assert first is second


@pytest.mark.slow
def test_a_run_without_test_database_url_says_so_at_the_end():
    # A plain run: PYTEST_ADDOPTS (say --durations) would print after the notice and push it up.
    environ = {key: value for key, value in os.environ.items() if key not in ("TEST_DATABASE_URL", "PYTEST_ADDOPTS")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/test_health_logs.py", "-k", "readyz_is_ready"],
                          cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    last_lines = done.stdout.strip().splitlines()[-3:]
    assert any("PostgreSQL: 1 database test did not run on PostgreSQL because TEST_DATABASE_URL is unset" in line
               for line in last_lines), done.stdout
