"""Input checked at the edge, once for every route, so no malformed value reaches a query.

- `int` URL segments are bounded to the 32-bit ids both databases hold: a larger one
  matches no route (404) instead of overflowing PostgreSQL's integer.
- Query strings and form fields may not carry NUL or other control characters
  (PostgreSQL refuses NUL in text): 400 in the route's format. Form text may keep
  tab and line breaks (notes are multi-line).
"""
import re

from flask import abort
from flask import current_app
from flask import request
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1

_ARG_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FORM_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DIGITS = re.compile(r"[0-9]{1,10}")
# 1..2147483647 spelled out digit by digit. The bound has to be in the pattern: werkzeug
# checks a rule's method before its converter, so an id its converter refused would make
# the GET rule of the same path answer 405 to a PATCH instead of 404.
ID_PATTERN = (
    r"(?:[1-9][0-9]{0,8}|1[0-9]{9}|20[0-9]{8}|21[0-3][0-9]{7}|214[0-6][0-9]{6}"
    r"|2147[0-3][0-9]{5}|21474[0-7][0-9]{4}|214748[0-2][0-9]{3}|2147483[0-5][0-9]{2}"
    r"|21474836[0-3][0-9]|214748364[0-7])"
)


class IdConverter(IntegerConverter):
    """`<int:...>` limited to 1..MAX_ID (ASCII digits only, as werkzeug already requires)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
        self.regex = ID_PATTERN


def parse_id(text):
    """An id from a query value: ASCII digits within 1..MAX_ID, else None."""
    if text is None or not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def _bad_text(values, pattern):
    return any(pattern.search(key) or pattern.search(value) for key, value in values.items(multi=True))


def _bad_string(text):
    if _FORM_CONTROL.search(text):
        return True
    try:
        text.encode("utf-8")  # a lone surrogate ("\ud800" in JSON) cannot be stored
    except UnicodeEncodeError:
        return True
    return False


def unfit_json(value):
    """True when any key or string inside a parsed JSON value is unfit for storage (iterative: no depth limit)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _bad_string(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def reads_raw_body(view):
    """Mark a view that reads and checks its own body (the guard must not consume the stream)."""
    view.reads_raw_body = True
    return view


def reject_control_characters():
    """before_request: 400 for control characters in the query string, a form's fields or a JSON body."""
    if _bad_text(request.args, _ARG_CONTROL):
        abort(400, description="Control characters are not allowed in the address.")
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    if getattr(current_app.view_functions.get(request.endpoint), "reads_raw_body", False):
        return
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if _bad_text(request.form, _FORM_CONTROL):
            abort(400, description="Control characters are not allowed in form fields.")
    elif request.is_json and request.content_length:
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # "[[[[…" nested past Python's limit: not a ValueError, so not silent
            abort(400, description="The JSON body is nested too deeply.")
        if unfit_json(body):
            abort(400, description="Control characters are not allowed in JSON strings.")


def init_app(app):
    """Install the bounded int converter (before any route is added) and the text guard."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(reject_control_characters)
