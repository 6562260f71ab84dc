"""The REST transport: TF Serving's URLs over `http.server.ThreadingHTTPServer`.

- `GET  /v1/models/<name>[/versions/<v>]` -> model status
- `GET  /v1/models/<name>[/versions/<v>]/metadata` -> signature defs
- `POST /v1/models/<name>[/versions/<v>]:predict` -> predictions
(what these URLs and their JSON documents mean is `tfinpaint.serving.rest`'s).

The browser page's handler, when there is one, is asked first and answers its own routes
(`/`, `/app/…`, `/v1/app/…`). Errors are `{"error": "…"}` with TF Serving's HTTP codes, also
for other methods (405), over-long URLs (414) and broken request lines (400).

What a client can make the server hold is bounded:
- a `Host` other than the address served gets 421 and another site's request 403 before
  anything is read (`tfinpaint.serving.origin`);
- bodies above `max_request_bytes` get 413 unread, on every route (curl's
  `Expect: 100-continue` is refused unsent), and the bodies being received together may
  take `body_budget_bytes` (more get 503); a body must arrive within `body_seconds` in total,
  however slowly it trickles;
- at most `max_connections` connections are served at once (one thread each); more get 503;
- decoding and running take a place in the `WorkBudget` first (REST's `:predict` before its
  JSON is parsed); a request whose client disconnects while it waits is dropped.
A client that disconnects is let go quietly.
"""

from __future__ import annotations

import json
import logging
import select
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tfinpaint.serving.budget import RETRY_AFTER_SECONDS, WorkBudget
from tfinpaint.serving.errors import ServingError
from tfinpaint.serving.origin import Refusal, check_request
from tfinpaint.serving.rest import rest_answer

log = logging.getLogger("tfinpaint.serve")

# Bodies above the cap are read and dropped (so the client sees the 413) up to this size.
_DISCARD_LIMIT = 1 << 30

# What a socket raises when the client has gone: not the server's failure, nothing to log.
_GONE = (ConnectionError, TimeoutError)
# A whole body must arrive within this many seconds, however it trickles (64 MB at 0.5 MB/s).
BODY_SECONDS = 120.0
MAX_CONNECTIONS = 64
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Retry-After: %d\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
)
_CORS_METHODS = "GET, POST"


class RestHandler(BaseHTTPRequestHandler):
    """TF Serving's REST routes over a `Predictor` (set as the server's `predictor`)."""

    protocol_version = "HTTP/1.1"
    server_version = "tfinpaint-serve"
    # A client that opens a connection and sends nothing must not hold a thread for ever.
    timeout = 60

    def log_message(self, format, *args):  # the base class' signature
        log.debug("%s %s", self.address_string(), format % args)

    # The allowed cross origin (`--allow-origin`) this request came from, if any.
    cross_origin = None

    def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
        self._write(status, {"Content-Type": "application/json", **(headers or {})}, _json_bytes(payload))

    def _cors_headers(self) -> dict:
        if self.cross_origin is None:
            return {}
        return {"Access-Control-Allow-Origin": self.cross_origin, "Vary": "Origin"}

    def client_gone(self) -> bool:
        """Whether the client has closed its side (checked while its request waits or works)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except (OSError, ValueError):
            return True

    def _write(self, status: int, headers: dict, body: bytes) -> None:
        """Send one answer; a client that has gone away is let go without a word."""
        try:
            self.send_response(status)
            for key, value in {**headers, **self._cors_headers()}.items():
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

    def _dispatch(self) -> None:
        self.cross_origin = None
        body_bytes = 0
        try:
            self.cross_origin = check_request(
                self.headers, self.command, *self.server.served_address, self.server.allowed_origins
            )
            if self.command == "OPTIONS" and self.cross_origin is not None:
                self.close_connection = True  # a preflight's body, if any, stays unread
                self._write(204, _preflight_headers(self.headers), b"")
                return
            body_bytes = self._reserve_body()
            status, headers, body = self._answer()
        except Refusal as refusal:
            self.close_connection = True  # its body stays unread
            self._send(refusal.status, {"error": refusal.message})
        except ServingError as error:
            self._send(error.http_status, {"error": error.message}, error.headers())
        except _GONE:  # the client closed the connection mid-request: nobody to answer
            self.close_connection = True
        except Exception:  # the server answers and keeps serving, whatever happened
            log.exception("internal error on %s %s", self.command, self.path)
            self._send(500, {"error": "internal error; the server's log has the details"})
        else:
            self._write(status, headers, body)
        finally:
            self.server.release_body(body_bytes)

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
                self.command,
                self.path,
                dict(self.headers.items()),
                body,
                self.server.app_context,
                gone=self.client_gone,
            )
            if answer is not None:
                status, headers, content = answer
                return status, {k: v for k, v in headers.items() if k.lower() != "content-length"}, content
        server = self.server
        answer = rest_answer(server.predictor, self.command, self.path, body, server.budget, self.client_gone)
        return 200, {"Content-Type": "application/json"}, _json_bytes(answer)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _dispatch

    def _content_length(self) -> int:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            raise ServingError(
                "INVALID_ARGUMENT",
                "chunked bodies are not accepted; send Content-Length",
                http_status=HTTPStatus.LENGTH_REQUIRED,
            )
        values = {value.strip() for value in self.headers.get_all("Content-Length", [])}
        if len(values) > 1:  # where one request would end is ambiguous: a smuggling attempt
            self.close_connection = True
            raise ServingError("INVALID_ARGUMENT", f"conflicting Content-Length headers {sorted(values)}")
        text = values.pop() if values else "0"
        if not text.isascii() or not text.isdigit() or len(text) > 18:
            self.close_connection = True
            raise ServingError("INVALID_ARGUMENT", "Content-Length must be a non-negative integer")
        return int(text)

    def _reserve_body(self) -> int:
        """Check the declared length against the caps and reserve it; returns the bytes reserved."""
        length = self._content_length()
        if length > self.server.max_request_bytes:
            self._discard(length)
            raise self._too_large(length)
        if not self.server.reserve_body(length):
            self.close_connection = True
            raise ServingError(
                "UNAVAILABLE",
                f"the server is receiving {self.server.body_budget_bytes} bytes of requests already; "
                f"try again in {RETRY_AFTER_SECONDS} s",
                retry_after=RETRY_AFTER_SECONDS,
            )
        return length

    def _read_body(self) -> bytearray:
        """The body, which must arrive within `body_seconds` in all (not per read)."""
        length = self._content_length()
        body = bytearray(length)
        view = memoryview(body)
        received = 0
        deadline = time.monotonic() + self.server.body_seconds
        try:
            while received < length:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"the body did not arrive within {self.server.body_seconds:g} s")
                self.connection.settimeout(remaining)
                read = self.rfile.readinto1(view[received:])
                if not read:
                    raise ConnectionResetError(f"the client sent {received} of {length} bytes and closed")
                received += read
        finally:
            self.connection.settimeout(self.timeout)
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


def _preflight_headers(request_headers) -> dict:
    """A CORS preflight's answer for an allowed origin: the methods and headers it may use."""
    asked = request_headers.get("Access-Control-Request-Headers", "")
    return {
        "Access-Control-Allow-Methods": _CORS_METHODS,
        "Access-Control-Allow-Headers": asked[:500] or "Content-Type",
        "Access-Control-Max-Age": "600",
    }


class RestServer(ThreadingHTTPServer):
    """The REST routes bound to `address`, answering from `predictor`.

    Args:
        address: (host, port); port 0 picks a free one (see `server_address`).
        predictor: the `Predictor` that checks and runs requests.
        max_request_bytes: larger bodies get HTTP 413 unread.
        budget: the `WorkBudget` REST's `:predict` (and the page, through its context) takes
            a place in before decoding.
        app: a module with the browser page's `handle(method, path, headers, body, context,
            gone=…)` (None = no page), asked first for every request. app_context: its `context`.
        allowed_origins: other sites' origins allowed to use the server (`--allow-origin`).
        max_connections: connections served at once; more get 503 and are closed.
        body_seconds: the time a whole body may take to arrive.
        body_budget_bytes: the bodies being received and held together (default: four of
            `max_request_bytes`); more get 503.
    """

    daemon_threads = True
    # Many clients reconnect at once after a restart; the default backlog of 5 drops them.
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        predictor,
        max_request_bytes: int,
        budget: WorkBudget,
        app=None,
        app_context=None,
        allowed_origins: tuple[str, ...] = (),
        max_connections: int = MAX_CONNECTIONS,
        body_seconds: float = BODY_SECONDS,
        body_budget_bytes: int | None = None,
    ):
        self.predictor = predictor
        self.max_request_bytes = max_request_bytes
        self.budget = budget
        self.app = app
        self.app_context = app_context
        self.allowed_origins = tuple(allowed_origins)
        self.body_seconds = body_seconds
        self.body_budget_bytes = body_budget_bytes or 4 * max_request_bytes
        self._body_bytes = 0
        self._body_lock = threading.Lock()
        self._connections = threading.BoundedSemaphore(max_connections)
        super().__init__(address, RestHandler)

    def server_bind(self):
        try:
            super().server_bind()
        except OSError as error:
            host, port = self.server_address
            raise OSError(
                error.errno,
                f"cannot listen for REST and the page on {host}:{port}: {error.strerror or error} "
                "(another `tfinpaint serve`?); pick another with --port (0 = any free port)",
            ) from error

    @property
    def served_address(self) -> tuple[str, int]:
        """(host as bound, port): what a request's `Host` must name."""
        return self.server_address[0], self.server_address[1]

    def reserve_body(self, length: int) -> bool:
        with self._body_lock:
            if length and self._body_bytes + length > self.body_budget_bytes:
                return False
            self._body_bytes += length
            return True

    def release_body(self, length: int) -> None:
        with self._body_lock:
            self._body_bytes -= length

    def process_request(self, request, client_address):
        # One thread per connection, at most `max_connections`: the rest are told to come back.
        if not self._connections.acquire(blocking=False):
            message = json.dumps({"error": "too many connections; try again"}).encode()
            try:
                request.settimeout(1.0)
                request.sendall(_BUSY % (RETRY_AFTER_SECONDS, len(message), message))
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._connections.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()

    def handle_error(self, request, client_address):
        # socketserver prints a traceback for any exception a connection raises: a client
        # that disconnects is ordinary, anything else is logged once, without the noise.
        error = sys.exc_info()[1]
        if isinstance(error, _GONE):
            log.debug("%s disconnected: %s", client_address[0], error)
        else:
            log.error("connection from %s failed", client_address[0], exc_info=error)
