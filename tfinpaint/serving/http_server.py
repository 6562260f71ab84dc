"""The REST transport: TF Serving's URLs over `http.server.ThreadingHTTPServer`.

- `GET  /v1/models/<name>[/versions/<v>]` -> model status
- `GET  /v1/models/<name>[/versions/<v>]/metadata` -> signature defs
- `POST /v1/models/<name>[/versions/<v>]:predict` -> predictions

Errors are `{"error": "…"}` with TF Serving's HTTP codes. Request bodies above
`max_request_bytes` get 413 before they are read (curl's `Expect: 100-continue` is refused
unsent), so a huge body never reaches memory.
"""

from __future__ import annotations

import json
import logging
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tfinpaint.serving.errors import ServingError
from tfinpaint.serving.rest import rest_metadata, rest_predict, version_status

log = logging.getLogger("tfinpaint.serve")

DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024
# Bodies above the cap are read and dropped (so the client sees the 413) up to this size.
_DISCARD_LIMIT = 1 << 30

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

    def log_message(self, format, *args):  # noqa: A002 - the base class' signature
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

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

    def _handle(self, method) -> None:
        try:
            self._send(200, method())
        except ServingError as error:
            self._send(error.http_status, {"error": error.message})
        except Exception as error:  # the server answers and keeps serving, whatever happened
            log.exception("internal error on %s %s", self.command, self.path)
            self._send(500, {"error": f"internal error: {type(error).__name__}: {error}"})

    def do_GET(self):  # noqa: N802 - http.server's naming
        def answer():
            name, version, verb = self._route()
            if verb is None:
                return version_status(self.server.predictor, name, version)
            if verb == "/metadata":
                return rest_metadata(self.server.predictor, name, version)
            raise ServingError("NOT_FOUND", f"Malformed request: GET {self.path}")

        self._handle(answer)

    def do_POST(self):  # noqa: N802
        def answer():
            body = self._read_body()
            name, version, verb = self._route()
            if verb in (":classify", ":regress"):
                raise ServingError("UNIMPLEMENTED", f"{verb[1:]} is not served; use :predict")
            if verb != ":predict":
                raise ServingError("NOT_FOUND", f"Malformed request: POST {self.path}")
            try:
                request = json.loads(body)
            except (ValueError, RecursionError) as error:  # RecursionError: absurd nesting
                raise ServingError("INVALID_ARGUMENT", f"JSON Parse error: {error}") from None
            return rest_predict(self.server.predictor, name, version, request)

        self._handle(answer)

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
        return self.rfile.read(length)

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


class RestServer(ThreadingHTTPServer):
    """The REST routes bound to `address`, answering from `predictor`.

    Args:
        address: (host, port); port 0 picks a free one (see `server_address`).
        predictor: the `Predictor` that checks and runs requests.
        max_request_bytes: larger bodies get HTTP 413 unread.
    """

    daemon_threads = True
    # Many clients reconnect at once after a restart; the default backlog of 5 drops them.
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], predictor, max_request_bytes: int):
        self.predictor = predictor
        self.max_request_bytes = max_request_bytes
        super().__init__(address, RestHandler)
