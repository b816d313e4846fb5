"""How many people a job needs: SmartMoving's crew size when the detail gives one, else a move-size default.

SmartMoving's opportunity detail carries a `moveSize` ({name, description, volume}) and, on some
accounts, a crew size on the job. The default table is the CREW_SIZE_DEFAULTS setting, e.g.
"studio=2,1br=2,2br=3,3br=4,4br=5": a key is a move size's name folded ("small office") or its
short form ("1br" for "1 Bedroom Apartment", "4br" for "4+ Bedroom House").
"""
import re

from flask import current_app
from flask import has_app_context

DEFAULT_TABLE_TEXT = "studio=2,1br=2,2br=3,3br=4,4br=5"
MAX_CREW_SIZE = 20
# Keys SmartMoving (or a proxy in front of it) may use for a job's crew size.
_CREW_SIZE_KEYS = ("crewSize", "numberOfCrew", "numberOfMovers", "movers", "crewCount")
_BEDROOMS = re.compile(r"^(\d+)\s*\+?\s*(?:br|bd|bed(?:room)?s?)\b")


def _fold(text):
    return " ".join(str(text).split()).casefold()


def size_key(move_size_name):
    """The table key of a move size: "1br" for "1 Bedroom Apartment", else the folded name."""
    folded = _fold(move_size_name)
    match = _BEDROOMS.match(folded)
    return f"{match.group(1)}br" if match else folded


def parse_defaults(text):
    """{size key: people} from "studio=2,1br=2"; ValueError with a one-line reason on bad input."""
    table = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = size_key(key)
        if not sep or not key:
            raise ValueError(f"expected size=people pairs such as {DEFAULT_TABLE_TEXT}, got {part.strip()!r}")
        try:
            people = int(value.strip())
        except ValueError:
            raise ValueError(f"{key}: people must be a whole number, got {value.strip()!r}") from None
        if not 1 <= people <= MAX_CREW_SIZE:
            raise ValueError(f"{key}: people must be between 1 and {MAX_CREW_SIZE}, got {people}")
        table[key] = people
    return table


def configured_defaults():
    """The running app's parsed CREW_SIZE_DEFAULTS (the built-in table outside an app)."""
    if has_app_context():
        table = current_app.config.get("CREW_SIZE_DEFAULTS")
        if isinstance(table, dict):
            return table
        return parse_defaults(table if table is not None else DEFAULT_TABLE_TEXT)
    return parse_defaults(DEFAULT_TABLE_TEXT)


def _explicit_size(*sources):
    """A crew size SmartMoving states on the job or opportunity (1..MAX_CREW_SIZE), else None."""
    for source in sources:
        if not isinstance(source, dict):
            continue
        for key in _CREW_SIZE_KEYS:
            value = source.get(key)
            if isinstance(value, bool):
                continue
            if isinstance(value, int | float) and 1 <= value <= MAX_CREW_SIZE and int(value) == value:
                return int(value)
    return None


def move_size_name(detail, detail_job=None):
    """The move size's name from the job or opportunity detail (moveSize {name} or moveSizeName)."""
    for source in (detail_job, detail):
        if not isinstance(source, dict):
            continue
        size = source.get("moveSize")
        if isinstance(size, dict) and isinstance(size.get("name"), str) and size["name"].strip():
            return size["name"]
        if isinstance(source.get("moveSizeName"), str) and source["moveSizeName"].strip():
            return source["moveSizeName"]
    return None


def crew_required(detail, detail_job=None, defaults=None):
    """People the job needs: SmartMoving's crew size, else the default for its move size, else None."""
    explicit = _explicit_size(detail_job, detail)
    if explicit is not None:
        return explicit
    name = move_size_name(detail, detail_job)
    if name is None:
        return None
    table = configured_defaults() if defaults is None else defaults
    return table.get(size_key(name), table.get(_fold(name)))
