"""The REST transport: TF Serving's URLs over `http.server.ThreadingHTTPServer`.

- `GET  /v1/models/<name>[/versions/<v>]` -> model status
- `GET  /v1/models/<name>[/versions/<v>]/metadata` -> signature defs
- `POST /v1/models/<name>[/versions/<v>]:predict` -> predictions

The browser page's handler, when there is one, is asked first and answers its own routes
(`/`, `/app/…`, `/v1/app/…`). Errors are `{"error": "…"}` with TF Serving's HTTP codes, also
for other methods (405), over-long URLs (414) and broken request lines (400). Request bodies
above `max_request_bytes` get 413 before they are read, on every route (curl's
`Expect: 100-continue` is refused unsent), so a huge body never reaches memory. A client that
disconnects is let go quietly.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tfinpaint.serving.errors import ServingError
from tfinpaint.serving.rest import rest_metadata, rest_predict, version_status

log = logging.getLogger("tfinpaint.serve")

# Bodies above the cap are read and dropped (so the client sees the 413) up to this size.
_DISCARD_LIMIT = 1 << 30

# What a socket raises when the client has gone: not the server's failure, nothing to log.
_GONE = (ConnectionError, TimeoutError)

_URL = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+))?"
    r"(?:/labels/(?P<label>[^/:]+))?(?P<verb>:[a-z]+|/metadata)?/?$"
)


class RestHandler(BaseHTTPRequestHandler):
    """TF Serving's REST routes over a `Predictor` (set as the server's `predictor`)."""

    protocol_version = "HTTP/1.1"
    server_version = "tfinpaint-serve"
    # A client that opens a connection and sends nothing must not hold a thread for ever.
    timeout = 60

    def log_message(self, format, *args):  # the base class' signature
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
        self._write(status, {"Content-Type": "application/json", **(headers or {})}, _json_bytes(payload))

    def _write(self, status: int, headers: dict, body: bytes) -> None:
        """Send one answer; a client that has gone away is let go without a word."""
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except _GONE:
            self.close_connection = True

    def send_error(self, code, message=None, explain=None):
        """http.server's own refusals (unknown method, over-long URL or headers) as JSON."""
        status = HTTPStatus(code)
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # set before the version is parsed: no status line
            self.request_version = self.protocol_version
        request = (getattr(self, "requestline", "") or "no request line")[:200]
        self._send(status, {"error": f"{message or status.phrase} ({request})"})

    def _route(self):
        match = _URL.match(self.path.split("?", 1)[0])
        if not match:
            raise ServingError("NOT_FOUND", f"Malformed request: {self.command} {self.path}")
        if match["label"]:
            raise ServingError("INVALID_ARGUMENT", "version labels are not supported; use /versions/<number>")
        version = match["version"]
        if version is not None and not version.isdigit():
            raise ServingError("INVALID_ARGUMENT", f"version {version!r} must be an integer")
        return match["name"], (int(version) if version is not None else None), match["verb"]

    def _dispatch(self) -> None:
        try:
            status, headers, body = self._answer()
        except ServingError as error:
            allow = {"Allow": "GET, POST"} if error.http_status == HTTPStatus.METHOD_NOT_ALLOWED else {}
            self._send(error.http_status, {"error": error.message}, allow)
        except _GONE:  # the client closed the connection mid-request: nobody to answer
            self.close_connection = True
        except Exception as error:  # the server answers and keeps serving, whatever happened
            log.exception("internal error on %s %s", self.command, self.path)
            self._send(500, {"error": f"internal error: {type(error).__name__}: {error}"})
        else:
            self._write(status, headers, body)

    def _answer(self) -> tuple[int, dict, bytes]:
        if self.command not in ("GET", "POST"):
            self.close_connection = True  # its body, if any, stays unread
            raise ServingError(
                "UNIMPLEMENTED",
                f"{self.command} is not served; TF Serving's API and the page take GET and POST",
                http_status=HTTPStatus.METHOD_NOT_ALLOWED,
            )
        body = self._read_body()  # the body cap holds for every route, the page's too
        if self.server.app is not None:
            answer = self.server.app.handle(
                self.command, self.path, dict(self.headers.items()), body, self.server.app_context
            )
            if answer is not None:
                status, headers, content = answer
                return status, {k: v for k, v in headers.items() if k.lower() != "content-length"}, content
        return 200, {"Content-Type": "application/json"}, _json_bytes(self._tf_serving(body))

    def _tf_serving(self, body: bytes) -> dict:
        name, version, verb = self._route()
        predictor = self.server.predictor
        if self.command == "GET":
            if verb is None:
                return version_status(predictor, name, version)
            if verb == "/metadata":
                return rest_metadata(predictor, name, version)
            raise ServingError("NOT_FOUND", f"Malformed request: GET {self.path}")
        if verb in (":classify", ":regress"):
            raise ServingError("UNIMPLEMENTED", f"{verb[1:]} is not served; use :predict")
        if verb != ":predict":
            raise ServingError("NOT_FOUND", f"Malformed request: POST {self.path}")
        try:
            request = json.loads(body)
        except (ValueError, RecursionError) as error:  # RecursionError: absurd nesting
            raise ServingError("INVALID_ARGUMENT", f"JSON Parse error: {error}") from None
        return rest_predict(predictor, name, version, request)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _dispatch

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            raise ServingError(
                "INVALID_ARGUMENT",
                "chunked bodies are not accepted; send Content-Length",
                http_status=HTTPStatus.LENGTH_REQUIRED,
            )
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            raise ServingError("INVALID_ARGUMENT", "Content-Length must be a non-negative integer")
        if length > self.server.max_request_bytes:
            self._discard(length)
            raise self._too_large(length)
        body = self.rfile.read(length)
        if len(body) < length:
            raise ConnectionResetError(f"the client sent {len(body)} of {length} bytes and closed")
        return body

    def _too_large(self, length: int) -> ServingError:
        self.close_connection = True
        return ServingError(
            "RESOURCE_EXHAUSTED",
            f"request body of {length} bytes exceeds this server's limit of "
            f"{self.server.max_request_bytes} bytes (--max-request-bytes)",
            http_status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        )

    def _discard(self, length: int) -> None:
        # Clients that send the whole body before reading (urllib, requests) see a broken
        # pipe instead of the 413 if the socket closes under them; read it into a small
        # reused buffer (never kept) unless it is absurdly large.
        if length > _DISCARD_LIMIT:
            return
        buffer = bytearray(1 << 16)
        view = memoryview(buffer)
        while length > 0:
            read = self.rfile.readinto(view[: min(length, len(buffer))])
            if not read:
                return
            length -= read

    def handle_expect_100(self):
        # curl asks before sending a large body: refuse it there, unsent.
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = 0
        if length > self.server.max_request_bytes:
            error = self._too_large(length)
            self._send(error.http_status, {"error": error.message})
            return False
        return super().handle_expect_100()


def _json_bytes(payload: dict) -> bytes:
    return json.dumps(payload).encode("utf-8")


class RestServer(ThreadingHTTPServer):
    """The REST routes bound to `address`, answering from `predictor`.

    Args:
        address: (host, port); port 0 picks a free one (see `server_address`).
        predictor: the `Predictor` that checks and runs requests.
        max_request_bytes: larger bodies get HTTP 413 unread.
        app: a module with the browser page's `handle(method, path, headers, body, context)`
            (None = no page), asked first for every request. app_context: its `context`.
    """

    daemon_threads = True
    # Many clients reconnect at once after a restart; the default backlog of 5 drops them.
    request_queue_size = 64

    def __init__(
        self, address: tuple[str, int], predictor, max_request_bytes: int, app=None, app_context=None
    ):
        self.predictor = predictor
        self.max_request_bytes = max_request_bytes
        self.app = app
        self.app_context = app_context
        super().__init__(address, RestHandler)

    def handle_error(self, request, client_address):
        # socketserver prints a traceback for any exception a connection raises: a client
        # that disconnects is ordinary, anything else is logged once, without the noise.
        error = sys.exc_info()[1]
        if isinstance(error, _GONE):
            log.debug("%s disconnected: %s", client_address[0], error)
        else:
            log.error("connection from %s failed", client_address[0], exc_info=error)
