"""The linter: ruff's settings in pyproject.toml, and the tests and benchmarks clean under them.

`make lint` runs `ruff check .` over the whole repository; this test holds the parts that are clean today.
"""
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_checks_style_imports_bugs_and_old_syntax_at_120_columns():
    ruff = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]
    assert ruff["line-length"] == 120
    assert ruff["target-version"] == "py311"
    assert {"E", "F", "W", "I", "B", "UP"} <= set(ruff["lint"]["select"])
    assert ruff["lint"]["isort"]["force-single-line"] is True


def test_the_tests_and_the_benchmarks_pass_ruff():
    ruff = Path(sys.executable).parent / "ruff"
    done = subprocess.run([str(ruff), "check", "--no-cache", "--output-format", "concise", "tests", "bench"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
