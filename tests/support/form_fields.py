"""The form fields a rendered page offers, by the route each form posts to (for the hostile-input sweep)."""
from html.parser import HTMLParser
from urllib.parse import urlsplit

from werkzeug.exceptions import HTTPException


class _FormScanner(HTMLParser):
    """Collects {form action: field names}; a field outside its form joins it through form="id"."""

    def __init__(self):
        super().__init__()
        self.actions = {}     # form id (or a generated key) -> action path
        self.fields = {}      # form key -> names
        self._open = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            key = attrs.get("id") or f"form-{len(self.actions)}"
            action = attrs.get("hx-post") or attrs.get("action")
            if (attrs.get("method") or "").lower() == "post" or attrs.get("hx-post"):
                self.actions[key] = action
            self._open = key
        elif tag in ("input", "select", "textarea", "button") and attrs.get("name"):
            key = attrs.get("form") or self._open
            if key is not None:
                self.fields.setdefault(key, set()).add(attrs["name"])

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = None


def form_fields(app, html, page_path):
    """{endpoint: field names} of the POST forms in html (action resolved against page_path)."""
    scanner = _FormScanner()
    scanner.feed(html)
    adapter = app.url_map.bind("localhost")
    found = {}
    for key, action in scanner.actions.items():
        path = urlsplit(action).path if action else urlsplit(page_path).path
        try:
            endpoint, _ = adapter.match(path, method="POST")
        except HTTPException:
            continue
        found.setdefault(endpoint, set()).update(scanner.fields.get(key, set()) - {"csrf_token"})
    return found
