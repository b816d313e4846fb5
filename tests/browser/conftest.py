"""Fixtures every browser test module shares.

Like tests/, this folder is a package (it has an __init__.py), so pytest imports this file
as tests.browser.conftest, beside tests.conftest, rather than as a second bare "conftest".
"""
import pytest

from tests.support.browser import chromium


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module, shared by its tests (each opens its own context)."""
    with chromium() as launched:
        yield launched
