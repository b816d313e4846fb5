"""The site icon (QA walkthrough): /favicon.ico answered on every page instead of a 404, and linked from pages."""


def test_favicon_ico_answers_anyone_with_an_icon(client):
    answer = client.get("/favicon.ico")
    assert answer.status_code == 200
    assert answer.mimetype == "image/vnd.microsoft.icon"
    assert answer.data[:4] == b"\x00\x00\x01\x00"                   # an ICO header
    assert "no-store" not in answer.headers.get("Cache-Control", "")   # it holds no data: browsers may keep it


def test_pages_link_the_svg_icon_and_it_is_served(client):
    page = client.get("/auth/login").get_data(as_text=True)
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in icon.data
