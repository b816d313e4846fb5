"""requirements.txt is what production needs, every package the app imports pinned; requirements-dev.txt adds the tools.

Production must not install the test tools (Playwright alone is about half of the venv), and a
package the code imports but only gets through another package's dependencies can change under it.
"""
import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_TOOLS = {"pytest", "responses", "hypothesis", "schemathesis", "openapi-spec-validator", "playwright", "ruff"}


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(filename):
    """{canonical name: version} of the file's `name==version` lines (extras dropped)."""
    pins = {}
    for line in (ROOT / filename).read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?==(\S+)", line.strip())
        if match:
            pins[_canonical(match.group(1))] = match.group(3)
    return pins


def _app_sources():
    yield from (ROOT / "dashboard").rglob("*.py")
    yield ROOT / "wsgi.py"
    yield ROOT / "gunicorn.conf.py"


def _imported_top_level_names():
    names = set()
    for path in _app_sources():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"dashboard", "__future__"}


def test_every_package_the_app_imports_is_pinned_in_requirements():
    distributions = packages_distributions()
    pinned = _pins("requirements.txt")
    missing = sorted(f"{name} ({', '.join(distributions.get(name, ['not installed']))})"
                     for name in _imported_top_level_names()
                     if not any(_canonical(dist) in pinned for dist in distributions.get(name, [])))
    assert missing == []


def test_production_installs_no_test_tools():
    assert sorted(TEST_TOOLS & set(_pins("requirements.txt"))) == []


def test_the_dev_requirements_add_the_test_tools_to_production_s():
    lines = [line.strip() for line in (ROOT / "requirements-dev.txt").read_text().splitlines()]
    assert [line for line in lines if line and not line.startswith("#")][0] == "-r requirements.txt"
    assert sorted(TEST_TOOLS - set(_pins("requirements-dev.txt"))) == []
