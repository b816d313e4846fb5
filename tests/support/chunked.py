"""Requests whose body arrives chunked, as gunicorn hands such an upload to the app.

Werkzeug's test client always sends a Content-Length, so a test marks a request with
the CHUNKED header and ChunkedBodies rewrites it on its way in: no CONTENT_LENGTH,
`Transfer-Encoding: chunked`, `wsgi.input_terminated` and a stream that only reads
(a generator of small chunks). test_input_edges also sends real chunked requests to a
real server, so this stand-in is checked against the real thing.
"""
import io

CHUNKED = {"X-Test-Chunked": "1"}


class _ChunkStream(io.RawIOBase):
    """A read-only, unseekable stream over a generator of byte chunks."""

    def __init__(self, chunks):
        self._chunks = chunks
        self._pending = b""

    def readable(self):
        return True

    def readinto(self, buffer):
        while not self._pending:
            self._pending = next(self._chunks, None)
            if self._pending is None:
                self._pending = b""
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _chunks(body, size=7):
    for start in range(0, len(body), size):
        yield body[start:start + size]


class ChunkedBodies:
    """WSGI middleware: a request carrying the CHUNKED header reaches the app as a chunked upload."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if environ.pop("HTTP_X_TEST_CHUNKED", None):
            body = environ["wsgi.input"].read()
            environ.pop("CONTENT_LENGTH", None)
            environ["HTTP_TRANSFER_ENCODING"] = "chunked"
            environ["wsgi.input_terminated"] = True  # gunicorn and werkzeug's server set it for chunked uploads
            environ["wsgi.input"] = io.BufferedReader(_ChunkStream(_chunks(body)))
        return self.wsgi_app(environ, start_response)


def send_chunked_too(app):
    """Install ChunkedBodies on app (once)."""
    if not isinstance(app.wsgi_app, ChunkedBodies):
        app.wsgi_app = ChunkedBodies(app.wsgi_app)
    return app
