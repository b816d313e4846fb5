"""The board's search box: words, "quoted phrases" and truck: / crew: / job: prefixes, as one job predicate.

    piano bay            every word occurs somewhere in the job (customer, numbers, addresses,
                         phone, crew, truck, notes), as before
    "Truck 101"          the phrase, as whole words, inside one field (not job 101058 on Truck 202)
    truck:101            the job is on that truck ("101", "Truck 101"; truck:"Big Blue")
    crew:"Sam Lee"       someone on the crew has that name (or a name starting so: crew:sam)
    job:101058           job (or quote) number 101058, or one of its parts: 101058-1, 101058-2
    Truck 101            unquoted, "truck" then a word reads as that truck's jobs (or the phrase)

Accents and case fold away everywhere ("amelie" finds Amélie). In Python rather than SQL:
crew lists are JSON, both databases then fold the same way, and a board reads its whole day anyway.
"""
import re
import sys
import unicodedata
from dataclasses import dataclass
from dataclasses import field

from dashboard.jobs.render_cache import budget_bytes

# A token: an optional known prefix, then a "quoted value" or a bare run of non-spaces (empty: "truck:" alone).
_TOKEN = re.compile(r'(?:(?P<key>truck|crew|job):)?(?:"(?P<quoted>[^"]*)"?|(?P<bare>\S*))', re.IGNORECASE)
_PHONE_CHARS = frozenset("0123456789 ()-+.")


def plain(text):
    """Lower case without accents: "Amélie" and "AMELIE" compare equal (line breaks and spacing kept)."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


def fold(text):
    """plain(text) with its spacing tidied: "Amélie  Côté" and "AMELIE COTE" compare equal."""
    return " ".join(plain(text).split())


def digits(text):
    """Only the digits of text ("(555) 010-1" -> "5550101")."""
    return "".join(char for char in str(text or "") if char.isdigit())


def truck_key(name):
    """A truck's name as truck: compares it: folded, without a leading "Truck" ("Truck 101" -> "101")."""
    folded = fold(name)
    return folded[len("truck"):].strip() if folded.startswith("truck ") else folded


def _whole(phrase):
    """A regex finding phrase (already folded) as whole words on one line: "101" is not found in "1010"."""
    spaced = r"[^\S\n]+".join(re.escape(word) for word in phrase.split())   # any spacing, never a line break
    return re.compile(r"(?<!\w)" + spaced + r"(?!\w)")


@dataclass
class Query:
    """A parsed search: every part must hold for a job to match (an empty Query matches every job)."""
    words: list = field(default_factory=list)      # substrings of the job's text
    phrases: list = field(default_factory=list)    # whole-word patterns inside one field
    trucks: list = field(default_factory=list)     # truck keys the job's truck must equal
    crews: list = field(default_factory=list)      # patterns one crew name must contain at a word start
    jobs: list = field(default_factory=list)       # job numbers, whole or as the start of "101058-1"
    # Bare "Truck 101": (truck key, phrase pattern): the job is on that truck, or its text says so.
    truck_words: list = field(default_factory=list)

    def is_empty(self):
        """True when nothing was asked (only spaces, or empty prefixes)."""
        return not (self.words or self.phrases or self.trucks or self.crews or self.jobs or self.truck_words)


def parse(text):
    """The Query of a search box's text (see the module docstring)."""
    query = Query()
    bare = []
    for match in _TOKEN.finditer(text or ""):
        key = (match.group("key") or "").casefold()
        quoted = match.group("quoted")
        value = fold(quoted if quoted is not None else match.group("bare"))
        if not value:
            continue
        if key == "truck":
            query.trucks.append(truck_key(value))
        elif key == "crew":
            query.crews.append(re.compile(r"(?<!\w)" + re.escape(value)))
        elif key == "job":
            query.jobs.append(value)
        elif quoted is not None:
            query.phrases.append(_whole(value))
        else:
            bare.extend(value.split())
    _read_bare_words(query, bare)
    return query


def _read_bare_words(query, words):
    """Bare words into query: "truck" followed by a word names a truck; every other word is a word."""
    at = 0
    while at < len(words):
        if words[at] == "truck" and at + 1 < len(words):
            query.truck_words.append((truck_key(words[at + 1]), _whole(f"truck {words[at + 1]}")))
            at += 2
            continue
        query.words.append(words[at])
        at += 1


# {job id: (the job, its folded search text)} of board jobs searched: a search of an 8,000-job day folded every
# job's text again (~250 ms under load). A board job is an immutable tuple kept from one read of its day to the
# next while it does not change, so an entry holds while its job *is* the job searched; a changed job is a new
# object and its text is folded anew. At most this share of the worker's cache budget (CACHE_MAX_MB), then
# forgotten at once (the next search of a day folds its texts again).
_TEXT_SHARE = 0.05
_texts = {}
_text_bytes = [0]


def _fields(job, truck_name, names):
    """The fields a search's words and phrases look in, one line each, folded (accents and case away)."""
    return plain("\n".join(str(part) for part in (
        job.customer_name, job.job_number, job.quote_number, job.origin_address, job.destination_address,
        job.customer_phone, job.notes, truck_name, *names) if part))


def search_text(job, truck_name, names):
    """_fields of job, kept per board job (an ORM row can change in place, so its text is folded every time)."""
    if not isinstance(job, tuple):
        return _fields(job, truck_name, names)
    known = _texts.get(job.id)
    if known is not None and known[0] is job:
        return known[1]
    text = _fields(job, truck_name, names)
    if _text_bytes[0] > budget_bytes(_TEXT_SHARE):
        _texts.clear()
        _text_bytes[0] = 0
    _texts[job.id] = (job, text)
    _text_bytes[0] += sys.getsizeof(text) + 120   # the entry, its tuple and the dict's slot
    return text


def forget_texts():
    """Drop the kept search texts (tests and benchmarks timing a first search)."""
    _texts.clear()
    _text_bytes[0] = 0


def _job_number_matches(wanted, number):
    """job:101058 finds 101058 and its parts (101058-1), never 1010580."""
    number = fold(number or "")
    return number == wanted or (number.startswith(wanted) and not number[len(wanted)].isalnum())


def job_matcher(search):
    """A predicate over jobs (ORM TruckJourneys or BoardJobs) for the board's search text.

    A phone-like search (digits and phone punctuation only, three digits or more) also
    finds the customer's phone whatever its punctuation ("555 0101" finds "(555) 010-1").
    """
    text = (search or "").strip()
    query = parse(text)
    if query.is_empty():
        return lambda job: True
    phone = digits(text) if len(digits(text)) >= 3 and set(text) <= _PHONE_CHARS else None

    def matches(job):
        if phone and phone in digits(job.customer_phone):
            return True
        truck_name = job.truck.name if job.truck else None
        if query.trucks and (truck_name is None or any(truck_key(truck_name) != wanted for wanted in query.trucks)):
            return False
        names = [name for name in (*(job.crew or ()), *(job.smartmoving_crew or ())) if name]
        if query.crews:
            crew = [fold(name) for name in names]
            if any(not any(pattern.search(name) for name in crew) for pattern in query.crews):
                return False
        if any(not (_job_number_matches(wanted, job.job_number) or _job_number_matches(wanted, job.quote_number))
               for wanted in query.jobs):
            return False
        # One line per field, folded once per job (a board may search thousands of jobs per keystroke).
        haystack = search_text(job, truck_name, names)
        if query.phrases or query.truck_words:
            key = truck_key(truck_name) if truck_name is not None else None
            lines = haystack if key is None else f"{haystack}\ntruck {key}"   # "Truck 101" is a phrase of truck 101
            if any(not pattern.search(lines) for pattern in query.phrases):
                return False
            if any(not (key == wanted or pattern.search(lines)) for wanted, pattern in query.truck_words):
                return False
        return all(word in haystack for word in query.words)
    return matches
