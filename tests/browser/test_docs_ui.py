"""/docs in a real browser: Swagger UI from our own files renders the API's operations.

Nothing on the page is refused by the CSP.
"""
import pytest

from tests.support.browser import collect_csp_blocks
from tests.support.browser import serving
from tests.support.browser import skip_without_chromium

skip_without_chromium()


@pytest.fixture(scope="module")
def docs_app(tmp_path_factory):
    from tests.support import make_test_app
    tmp = tmp_path_factory.mktemp("docs")
    return make_test_app("sqlite:///" + str(tmp / "docs.sqlite"), tmp)


def test_docs_render_the_operations_under_our_csp(browser, docs_app):
    blocked, outside = [], []
    with serving(docs_app) as base:
        page = browser.new_context().new_page()
        collect_csp_blocks(page, blocked)
        page.on("request", lambda req: outside.append(req.url) if not req.url.startswith((base, "data:")) else None)
        answer = page.goto(base + "/docs")
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        page.wait_for_selector(".opblock-summary-path", timeout=15000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/smartmoving/jobs/today" in path for path in paths), paths
    assert not blocked, blocked
    assert not outside, outside  # no CDN
