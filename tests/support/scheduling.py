"""How `make test` shares the tests among pytest-xdist workers (tests/conftest.py hands xdist this scheduler).

Every test is a unit of work of its own, except a browser module's: its tests go to one worker
together, which then starts that module's Chromium and live server (module-scoped fixtures) once.
xdist's own `--dist loadgroup` would do this from xdist_group marks, but it tags the tests by
assigning item._nodeid, which pytest 9.2 no longer reads: the marks group nothing there.
"""
from xdist.scheduler import LoadGroupScheduling

BROWSER_TESTS = "tests/browser/"


def work_unit_of(nodeid):
    """The unit of work a test belongs to: its module for a browser test, else the test itself."""
    if nodeid.startswith(BROWSER_TESTS):
        return nodeid.split("::", 1)[0]
    return nodeid


class BrowserModulesTogether(LoadGroupScheduling):
    """Load scheduling, one test at a time, with each browser module sent to a single worker."""

    def _split_scope(self, nodeid):
        return work_unit_of(nodeid)
