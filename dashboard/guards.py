"""Input checked at the edge, once for every route, so no malformed value reaches a query.

- `int` URL segments are bounded to the 32-bit ids both databases hold: a larger one
  matches no route (404) instead of overflowing PostgreSQL's integer.
- Query strings and form fields may not carry NUL or other control characters
  (PostgreSQL refuses NUL in text): 400 in the route's format. Form text may keep
  tab and line breaks (notes are multi-line).
- A write's body is read by one reader (read_body), capped at MAX_CONTENT_LENGTH whatever
  its transfer encoding, and a JSON body is parsed and checked once (json_body) before
  any view sees it: 422 (the API's "bad input") when it is not JSON we can store, 413
  when it is too large.
"""
import json
import math
import re

from flask import abort
from flask import current_app
from flask import g
from flask import request
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1
# Nothing we accept nests deeper than a few levels; the bound keeps any later
# recursive walk (serialisers, the database driver) far from Python's recursion limit.
MAX_JSON_DEPTH = 32

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
    """An id from a query value or form field: ASCII digits within 1..MAX_ID, else None."""
    if not isinstance(text, str) or not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def coerce_id(value):
    """A form field's id for a WTForms `coerce`: 0 for none, else parse_id's id (ValueError otherwise: 422)."""
    if value in (None, "", "0", 0):
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID:
        return value
    parsed = parse_id(value)
    if parsed is None:
        raise ValueError("Not a valid choice.")
    return parsed


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


class BodyError(HTTPException):
    """A request body we refuse: code 413 (too large) or 422 (not JSON, or JSON we cannot store)."""

    def __init__(self, code, description):
        super().__init__(description)
        self.code = code


TOO_DEEP = "The JSON body is nested too deeply."
UNFIT_TEXT = "Control characters and unpaired surrogates are not allowed in JSON strings."


def json_problem(value):
    """The first reason (a message) a parsed JSON value cannot be stored, else None.

    Iterative, so a deep value cannot exhaust the stack while it is being judged.
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _bad_string(item):
                return UNFIT_TEXT
        elif isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                return TOO_DEEP
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return None


def read_body(limit=None):
    """The request body's bytes (read once, then cached), whatever its transfer encoding.

    Werkzeug bounds the read by MAX_CONTENT_LENGTH, a chunked body too (the servers we run
    under terminate the stream: gunicorn, the development server), but it cuts a chunked
    body at the cap without a word: a body without a length that fills the cap is taken
    as larger. limit is a caller's tighter cap. Either cap passed is a BodyError 413.
    """
    try:
        data = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise BodyError(413, "The body is too large.") from None
    cap = request.max_content_length
    if request.content_length is None and cap is not None and len(data) >= cap:
        raise BodyError(413, "The body is too large.")
    if limit is not None and len(data) > limit:
        raise BodyError(413, f"The body may be at most {limit // 1024} KiB.")
    return data


def _finite_number(text):
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses as infinity
        raise BodyError(422, "Numbers must be finite.")
    return value


def _no_constant(name):
    raise BodyError(422, f"{name} is not a JSON number.")


def parse_json(raw):
    """raw bytes as a JSON value fit for storage, else BodyError 422 saying why.

    Refused: not UTF-8, not JSON, nested past MAX_JSON_DEPTH, NaN or Infinity (1e999 too),
    control characters or unpaired surrogates in a string.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError(422, "The body is not UTF-8 text.") from None
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_number)
    except RecursionError:  # "[[[[…" past Python's limit: the decoder's own stack overflows
        raise BodyError(422, TOO_DEEP) from None
    except ValueError:  # malformed, or an integer past Python's digit limit
        raise BodyError(422, "The body is not valid JSON.") from None
    problem = json_problem(value)
    if problem is not None:
        raise BodyError(422, problem)
    return value


def json_body():
    """The request's JSON body, read, parsed and checked once: None when it is empty or not typed JSON.

    Every JSON route reads its body here (never request.get_json, which skips these checks).
    """
    if "json_body" not in g:
        raw = read_body() if request.is_json else b""
        g.json_body = parse_json(raw) if raw else None
    return g.json_body


def reads_raw_body(view):
    """Mark a view that reads and checks its own body (the guard must not consume the stream)."""
    view.reads_raw_body = True
    return view


def reject_control_characters():
    """before_request: 400 for control characters in the query string or a form's fields; a JSON body is checked."""
    if _bad_text(request.args, _ARG_CONTROL):
        abort(400, description="Control characters are not allowed in the address.")
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    if getattr(current_app.view_functions.get(request.endpoint), "reads_raw_body", False):
        return
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        read_body()  # Werkzeug's form parser then reads these bytes, not the stream
        if _bad_text(request.form, _FORM_CONTROL):
            abort(400, description="Control characters are not allowed in form fields.")
    elif request.is_json:
        json_body()  # a body sent chunked, without a Content-Length, is checked too


def init_app(app):
    """Install the bounded int converter (before any route is added)."""
    app.url_map.converters["int"] = IdConverter
