"""How the crew pickers name a person: a roster person by CrewMember id, anyone else by name.

The assign panel and the job edit form post one value per ticked box. A name two people
share cannot say which of them was meant (issue 17: people are linked by id, never by
name), so a roster person's box carries their id ("member:12"); a name that is nobody on
the roster (SmartMoving's, or typed earlier) stays the name itself.
"""
MEMBER_PREFIX = "member:"

# Ids are PostgreSQL integers: anything larger is not an id (and must not reach a query).
_MAX_ID = 2**31 - 1


def value_of(name, member_id=None):
    """The picker value of one crew entry: "member:<id>" for a roster person, else the name."""
    return f"{MEMBER_PREFIX}{member_id}" if member_id is not None else name


def member_id_of(value):
    """The CrewMember id a picker value names, or None when it is a plain name."""
    if not isinstance(value, str) or not value.startswith(MEMBER_PREFIX):
        return None
    digits = value[len(MEMBER_PREFIX):]
    if not digits.isascii() or not digits.isdigit() or not 0 < int(digits) <= _MAX_ID:
        return None
    return int(digits)


def namesake_detail(location_name, role):
    """What tells two people of one name apart in a picker: "Buffalo, driver" (either part may be missing)."""
    return ", ".join(part for part in (location_name or "no branch", role) if part)
