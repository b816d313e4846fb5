"""The test suite's own layout: a package whose test modules share code through conftest.py and tests/support only.

A test module imported by another is collected twice under two names (its fixtures and
module state too), so one test could act on a copy the other never sees.
"""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def _python_files():
    return sorted(path for path in TESTS.rglob("*.py") if "__pycache__" not in path.parts)


def _imported_modules(path):
    """Every module path imports, at the top or inside a function, as dotted names (relative ones resolved)."""
    package = ".".join(path.relative_to(ROOT).parent.parts)
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _is_test_module(name):
    last = name.rsplit(".", 1)[-1]
    return last.startswith("test_") or last == "conftest"


def test_no_test_module_or_conftest_is_imported_by_another_file():
    offenders = [f"{path.relative_to(ROOT)} imports {name}"
                 for path in _python_files() for name in _imported_modules(path) if _is_test_module(name)]
    assert offenders == []


def test_the_shared_helpers_are_imported_one_way():
    """Helpers come in as tests.support...; a bare `ui_helpers` or `support` would be a second copy of a module."""
    helper_names = {path.stem for path in (TESTS / "support").glob("*.py")} | {"support"}
    bare = [f"{path.relative_to(ROOT)} imports {name}" for path in _python_files()
            for name in _imported_modules(path) if name.split(".")[0] in helper_names]
    assert bare == []


def test_tests_and_its_folders_are_packages():
    folders = {path.parent for path in _python_files()}
    assert sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").exists()) == []


def test_fixtures_are_defined_in_conftest_or_the_module_that_uses_them_never_in_helpers():
    defining = [str(path.relative_to(ROOT)) for path in (TESTS / "support").glob("*.py")
                if "pytest.fixture" in path.read_text()]
    assert defining == []


def test_conftest_is_loaded_once_under_its_package_name():
    assert "tests.conftest" in sys.modules
    assert "conftest" not in sys.modules


@pytest.mark.slow
@pytest.mark.parametrize("command", [["{bin}/pytest"], ["{python}", "-m", "pytest"]],
                         ids=["pytest", "python -m pytest"])
def test_both_ways_of_calling_pytest_run_from_the_repository_root(command):
    bin_dir = os.path.dirname(sys.executable)
    argv = [part.format(bin=bin_dir, python=sys.executable) for part in command]
    environ = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "TEST_DATABASE_URL")}
    done = subprocess.run(argv + ["-q", "tests/test_layout.py", "-k", "imported_by_another or loaded_once"],
                          cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
