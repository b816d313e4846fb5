"""Errors raised by the SmartMoving client: one class per way a call can fail, never carrying the API key."""


class SmartMovingError(Exception):
    """Base class: a human-readable message plus the HTTP status and API path when known."""

    def __init__(self, message, *, status=None, path=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.path = path

    def __str__(self):
        """The message, naming the path when the message does not already do so."""
        if self.path and self.path not in self.message:
            return f"{self.message} (on {self.path})"
        return self.message


class AuthError(SmartMovingError):
    """SmartMoving answered 401 or 403: the key is wrong, disabled, or lacks the plan for this path."""


class NotFound(SmartMovingError):
    """SmartMoving answered 404.

    `from_application` tells the two 404s apart (docs/smartmoving-api.md §1): the
    application's own `{"message": ...}` means the resource is gone; the APIM gateway's
    `{"statusCode": 404, ...}` (or any other body) means the call never reached it, so
    it proves nothing about the resource and must never count as a deletion.
    """

    def __init__(self, message, *, status=404, path=None, from_application=False):
        super().__init__(message, status=status, path=path)
        self.from_application = from_application


class RateLimitExhausted(SmartMovingError):
    """Still 429 after the allowed waits."""


class ServerError(SmartMovingError):
    """A 5xx answer, after the allowed retries when it was a retryable one."""


class TransportError(SmartMovingError):
    """Timeouts or connection errors, after the allowed retries."""


class MalformedResponse(SmartMovingError):
    """The body is not JSON, or not the shape this endpoint should return."""


class BudgetExhausted(SmartMovingError):
    """The per-run call budget is spent; raised before the call that would exceed it."""


class DeadlineExceeded(SmartMovingError):
    """The run deadline passed, or a wait would cross it; raised instead of calling or waiting."""


class ClientError(SmartMovingError):
    """Any other non-2xx answer (mostly 4xx): fatal, and retrying would not help."""
