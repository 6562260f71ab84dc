"""A local server speaking TF Serving's REST and gRPC APIs for a tfinpaint export.

For users who cannot run the `tensorflow/serving` container, and for our own tests: one
client works against both. The parts, by job:

- `versions`: which SavedModel version is served; a newer one is swapped in without a restart.
- `predictor`: checks a request against the signature and the server's caps, runs it.
- `rest` + `http_server`: TF Serving's REST API (JSON documents; the HTTP transport).
- `grpc_service`: `tensorflow.serving.PredictionService` over gRPC.
- `app` (when installed): the browser page, asked first on the REST port (`app_context`).
- this module: starting and stopping all of it (`InpaintServer`, `tfinpaint serve`).

Request bodies above `max_request_bytes` get 413 (gRPC: RESOURCE_EXHAUSTED) before they are
read, images above `max_pixels` get 400 before the model runs (encoded images are measured
from their headers, so a decompression bomb is never decoded), and every request that
decodes or predicts — API, page, gRPC — first takes a place in one `WorkBudget`: at most
`max_concurrent` at once, their estimated memory within `max_work_bytes`, so a burst of
large requests waits, or is refused, instead of multiplying the memory in use. Requests from
other sites and for other hosts are refused (`origin`) unless `allowed_origins` names them.

Loading a SavedModel runs its graph: serve only models you trust.
"""

from __future__ import annotations

import importlib
import signal
import threading

from tfinpaint.imagefiles import MAX_PIXELS
from tfinpaint.serving.app_context import AppContext
from tfinpaint.serving.budget import DEFAULT_MAX_WORK_BYTES, WorkBudget
from tfinpaint.serving.http_server import BODY_SECONDS, MAX_CONNECTIONS, RestServer
from tfinpaint.serving.origin import normalise_origin
from tfinpaint.serving.predictor import DEFAULT_MAX_PIXELS, DEFAULT_MAX_REQUEST_BYTES, Predictor
from tfinpaint.serving.versions import DEFAULT_POLL_SECONDS, ModelSource

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_REQUEST_BYTES",
    "DEFAULT_MAX_WORK_BYTES",
    "DEFAULT_POLL_SECONDS",
    "InpaintServer",
]


def browser_page():
    """The browser page's module (`tfinpaint.serving.app`), or None when this install has none."""
    try:
        return importlib.import_module("tfinpaint.serving.app")
    except ModuleNotFoundError as error:
        if error.name != "tfinpaint.serving.app":
            raise  # the page exists but something it needs is missing: say so
        return None


class InpaintServer:
    """TF Serving's REST and gRPC APIs for the newest export under `base_path`.

    Args:
        base_path: `saved_models/<name>`, a folder of integer version folders.
        model_name: the name clients use; default: the folder's name.
        host: interface to bind (default loopback; bind others only behind your own proxy).
        port: REST port (0 = pick a free one; see `rest_port`). None = no REST.
        grpc_port: gRPC port (0 = pick a free one). None = no gRPC.
        max_request_bytes: larger bodies get HTTP 413 / gRPC RESOURCE_EXHAUSTED unread.
        max_pixels: API requests carrying more image pixels get 400 / INVALID_ARGUMENT.
        page_max_pixels: the page's cap. The page runs `tfinpaint.inference.inpaint`, so it
            takes what `tfinpaint inpaint` takes. The API's exported graph windows the same way,
            but one request is held whole in memory (body, arrays, the graph's full-size
            copies), hence the API's lower default cap.
        max_concurrent: requests at work at once (decoding or predicting; more wait).
        max_work_bytes: the memory the estimates of the work under way may add up to; a
            request whose own estimate is larger gets 413, one that finds too many waiting 503.
        poll_seconds: how often the base path is rescanned for a newer version.
        page: mount the browser page (`tfinpaint.serving.app`) on the REST port, when the
            install has it.
        allowed_origins: other sites' origins (`http://host:port`) whose pages may use the
            REST API and the page's endpoints; others get 403.
        max_connections, body_seconds: see `RestServer`.

    Example:
        >>> with InpaintServer("saved_models/paper2_demo", port=0, grpc_port=0) as server:
        ...     print(server.rest_url)
    """

    def __init__(
        self,
        base_path: str,
        model_name: str | None = None,
        host: str = "127.0.0.1",
        port: int | None = 8501,
        grpc_port: int | None = 8500,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        page_max_pixels: int = MAX_PIXELS,
        max_concurrent: int = 2,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        page: bool = True,
        max_work_bytes: int = DEFAULT_MAX_WORK_BYTES,
        allowed_origins: tuple[str, ...] = (),
        max_connections: int = MAX_CONNECTIONS,
        body_seconds: float = BODY_SECONDS,
    ):
        self.base_path = base_path
        self.host = host
        self.port = port
        self.grpc_port = grpc_port
        self.max_request_bytes = max_request_bytes
        self.max_pixels = max_pixels
        self.page_max_pixels = page_max_pixels
        self.max_concurrent = max_concurrent
        self.poll_seconds = poll_seconds
        self.page = page
        self.allowed_origins = tuple(normalise_origin(o) for o in allowed_origins)
        self.max_connections = max_connections
        self.body_seconds = body_seconds
        self.budget = WorkBudget(max_concurrent, max_work_bytes, max_waiting=4 * max_concurrent)
        self.source = ModelSource(base_path, model_name, poll_seconds)
        self.model_name = self.source.name
        self.predictor = Predictor(self.source, max_pixels, self.budget, max_request_bytes)
        self._http = None
        self._http_thread = None
        self._grpc = None
        self.rest_port = None

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.rest_port}/v1/models/{self.model_name}"

    @property
    def page_url(self) -> str | None:
        """The browser page's address (a wildcard host as loopback), or None without a page."""
        if self._http is None or self._http.app is None:
            return None
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self.rest_port}/"

    def app_context(self) -> AppContext:
        """The `context` the page's handler gets: caps, the served model, the shared budget."""
        source = self.source
        return AppContext(
            max_request_bytes=self.max_request_bytes,
            max_pixels=self.page_max_pixels,
            served={source.name: lambda: source.current().inpainter(source.name)},
            budget=self.budget,
        )

    def start(self) -> InpaintServer:
        """Listen on the ports; OSError naming the port when one cannot be had (nothing is
        left running then)."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        if self.port is not None:
            app = browser_page() if self.page else None
            self._http = RestServer(
                (self.host, self.port),
                self.predictor,
                self.max_request_bytes,
                self.budget,
                app=app,
                app_context=self.app_context() if app else None,
                allowed_origins=self.allowed_origins,
                max_connections=self.max_connections,
                body_seconds=self.body_seconds,
            )
            self.rest_port = self._http.server_address[1]
            self._http_thread = threading.Thread(
                target=self._http.serve_forever, name="tfinpaint-rest", daemon=True
            )
            self._http_thread.start()
        if self.grpc_port is not None:
            from tfinpaint.serving.grpc_service import start_grpc_server

            self._grpc, self.grpc_port = start_grpc_server(
                self.host,
                self.grpc_port,
                self.predictor,
                self.max_request_bytes,
                workers=max(4, self.max_concurrent * 2),
            )
        self.source.start_polling()

    def stop(self) -> None:
        self.source.stop()
        if self._http is not None:
            if self._http_thread is not None:
                self._http.shutdown()
                self._http_thread.join()
            self._http.server_close()
            self._http = None
            self._http_thread = None
        if self._grpc is not None:
            self._grpc.stop(grace=1).wait()
            self._grpc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def wait(self) -> None:
        """Block until Ctrl-C or SIGTERM (`docker stop`, systemd), then stop cleanly."""
        stop = threading.Event()
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            self.stop()
