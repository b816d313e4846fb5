"""How a transport says a send failed: Temporary (try again later) or Permanent (never again)."""


class Temporary(Exception):
    """Try again later: the server is down or busy, or the connection dropped."""


class Permanent(Exception):
    """Never try again (the recipient or the message was refused): the reason is stored with the message."""
