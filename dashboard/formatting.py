"""Plain-text formatters shared by every page, the board's rows and the reports (no Flask, no markup).

Money is stored and passed around in integer cents; it becomes text only here, in one place.
"""


def money(cents, whole=False):
    """Cents as '$1,234.50' ('$1,235' when whole; halves round up); empty for None.

    Integer arithmetic, so no float ever rounds a cent; a Decimal or float sum from the
    database is first rounded to whole cents.
    """
    if cents is None:
        return ""
    cents = round(cents)
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    if whole:
        return f"{sign}${dollars + (rest >= 50):,}"
    return f"{sign}${dollars:,}.{rest:02d}"


def label(value):
    """EN_ROUTE -> 'En route'."""
    return str(value or "").replace("_", " ").capitalize()
