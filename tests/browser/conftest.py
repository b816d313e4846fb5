"""Fixtures every browser test module shares.

This folder is a package (it has an __init__.py) so that this file is imported as
browser.conftest: as a bare "conftest" it would replace tests/conftest.py in
sys.modules, and every `from conftest import make_test_app` in the suite would fail.
"""
import pytest

from tests.support.browser import chromium


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module, shared by its tests (each opens its own context)."""
    with chromium() as launched:
        yield launched
