"""A local server speaking TF Serving's REST and gRPC APIs for a tfinpaint export.

For users who cannot run the `tensorflow/serving` container, and for our own tests: one
client works against both. REST (`http.server.ThreadingHTTPServer`):

- `GET  /v1/models/<name>[/versions/<v>]` -> `{"model_version_status": [...]}`
- `GET  /v1/models/<name>[/versions/<v>]/metadata` -> the SavedModel's signature defs
- `POST /v1/models/<name>[/versions/<v>]:predict` with `{"signature_name": …,
  "instances": [...]}` (row format) or `{"inputs": {...}}` (columnar); `{"b64": "…"}` for
  string inputs; answers `{"predictions": …}` / `{"outputs": …}`, string outputs whose name
  ends in `_bytes` as `{"b64": "…"}`; errors `{"error": "…"}` with TF Serving's HTTP codes.

gRPC: `tensorflow.serving.PredictionService` (`Predict`, `GetModelMetadata`) through the
stubs of `tensorflow-serving-api`.

The newest integer version under the base path is served; a poll thread loads a newer one
when it appears, without a restart. Request bodies above `max_request_bytes` get 413 (gRPC:
RESOURCE_EXHAUSTED) before they are read, images above `max_pixels` get 400 before the
model runs (encoded images are measured from their headers, so a decompression bomb is
never decoded), and at most `max_concurrent` predictions run at once, so a burst of large
requests cannot multiply the memory in use.

Loading a SavedModel runs its graph: serve only models you trust.
"""

from __future__ import annotations

import base64
import binascii
import gc
import io
import json
import logging
import os
import re
import signal
import threading
from concurrent import futures
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import tensorflow as tf

from tfinpaint.artifacts import newest_version

log = logging.getLogger("tfinpaint.serve")

DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024
# Paper 2's widest activations at 2048x2048 take ~270 MB each; paper 1 shrinks to max_side.
DEFAULT_MAX_PIXELS = 2048 * 2048
DEFAULT_POLL_SECONDS = 1.0
_DISCARD_LIMIT = 1 << 30

# TF Serving's mapping of canonical status codes to HTTP (http_rest_api_handler.cc).
HTTP_STATUS = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}
_TF_ERROR_CODES = {
    tf.errors.InvalidArgumentError: "INVALID_ARGUMENT",
    tf.errors.NotFoundError: "NOT_FOUND",
    tf.errors.ResourceExhaustedError: "RESOURCE_EXHAUSTED",
    tf.errors.FailedPreconditionError: "FAILED_PRECONDITION",
    tf.errors.OutOfRangeError: "OUT_OF_RANGE",
    tf.errors.UnimplementedError: "UNIMPLEMENTED",
}


class ServingError(Exception):
    """A request the server refuses; `code` is a canonical status name (INVALID_ARGUMENT …)."""

    def __init__(self, code: str, message: str, http_status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status or HTTP_STATUS.get(code, 500)


def _readable_tf_message(error: tf.errors.OpError) -> str:
    # Drop TF's graph-location noise; keep what the assert or kernel said.
    lines = [
        line
        for line in str(error.message).splitlines()
        if line.strip()
        and not line.strip().startswith("[[")
        and "Graph execution error" not in line
        and not line.startswith("Detected at node")
        and "stack traces unavailable" not in line
    ]
    return " ".join(line.strip() for line in lines) or str(error.message)


# ---------------------------------------------------------------------------------------------
# Models on disk.
# ---------------------------------------------------------------------------------------------


def _settle_garbage_collector() -> None:
    """Collect the previous version's garbage, then exempt every live object from GC scans.

    TensorFlow leaves millions of Python objects alive; every full collection walks them,
    and decoding one JSON image (hundreds of thousands of lists) triggers several: measured
    here, `json.loads` of a 256x256 uint8 request took 330 ms with TensorFlow imported and
    33 ms after `gc.freeze()`. Unfreezing first lets an unloaded version's cycles be freed.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class LoadedVersion:
    """One loaded SavedModel version: its callable signatures and their SignatureDefs.

    Args:
        path: the version folder. version: its integer version.
    """

    def __init__(self, path: str, version: int):
        from tensorflow.core.protobuf import saved_model_pb2

        self.path = path
        self.version = version
        self.module = tf.saved_model.load(path)
        self.signatures = dict(self.module.signatures)
        proto = saved_model_pb2.SavedModel()
        with open(os.path.join(path, "saved_model.pb"), "rb") as f:
            proto.ParseFromString(f.read())
        self.signature_defs = proto.meta_graphs[0].signature_def
        self.input_specs = {name: fn.structured_input_signature[1] for name, fn in self.signatures.items()}
        self.output_names = {name: sorted(fn.structured_outputs) for name, fn in self.signatures.items()}


class ModelSource:
    """The newest version under a TF Serving base path, reloaded when a newer one appears.

    Args:
        base_path: folder of integer version folders (`saved_models/<name>`).
        name: the model name clients use (default: the folder name).
        poll_seconds: how often `start_polling` rescans the folder.
    """

    def __init__(self, base_path: str, name: str | None = None, poll_seconds: float = DEFAULT_POLL_SECONDS):
        self.base_path = os.path.abspath(base_path)
        self.name = name or os.path.basename(self.base_path.rstrip(os.sep))
        self.poll_seconds = poll_seconds
        self._current: LoadedVersion | None = None
        self._failed: dict = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if not os.path.isdir(self.base_path):
            raise FileNotFoundError(f"--model-base-path {base_path}: no such folder")
        if not self.refresh():
            raise FileNotFoundError(
                f"--model-base-path {base_path}: no integer version folder holding a loadable "
                "saved_model.pb; create one with `tfinpaint export`"
            )

    def current(self) -> LoadedVersion:
        with self._lock:
            return self._current

    def refresh(self) -> bool:
        """Serve the newest version if it is not the one served; True when one is served.

        As TF Serving does, the newest folder on disk wins, also when it is older than the
        one served (the newer folder was removed). A version that fails to load is not
        retried until its `saved_model.pb` changes; the one being served stays.
        """
        newest = newest_version(self.base_path)
        current = self.current()
        if newest is None or (current is not None and newest[0] == current.version):
            return current is not None
        version, path = newest
        stamp = os.path.getmtime(os.path.join(path, "saved_model.pb"))
        if self._failed.get(version) == stamp:
            return current is not None
        try:
            loaded = LoadedVersion(path, version)
        except Exception as error:  # a broken export must not stop the one being served
            self._failed[version] = stamp
            log.error(
                "could not load %s (still serving %s): %s",
                path,
                current.version if current else "nothing",
                error,
            )
            return current is not None
        with self._lock:
            self._current = loaded
        del current
        _settle_garbage_collector()
        log.info("serving %s version %d from %s", self.name, version, path)
        return True

    def start_polling(self) -> None:
        def loop():
            while not self._stop.wait(self.poll_seconds):
                try:
                    self.refresh()
                except OSError as error:
                    log.error("cannot scan %s: %s", self.base_path, error)

        self._thread = threading.Thread(target=loop, name="tfinpaint-version-poll", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


# ---------------------------------------------------------------------------------------------
# Requests -> tensors -> answers (shared by REST and gRPC).
# ---------------------------------------------------------------------------------------------


def _shape_text(shape) -> str:
    return "[" + ", ".join("-1" if d is None else str(d) for d in shape) + "]"


def _image_pixels(encoded: bytes) -> int | None:
    """Width x height from an encoded image's header, without decoding it (None: unknown)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(encoded)) as image:
            width, height = image.size
    except Exception:  # not for us to judge: the graph's decoder gives the real error
        return None
    return width * height


def _pixels(array: np.ndarray) -> int:
    """Pixels in an input: N*H*W of a [N,H,W,C] array, header sizes summed for encoded images."""
    if array.dtype == object:
        return sum(_image_pixels(item) or 0 for item in array.reshape(-1) if isinstance(item, bytes))
    if array.ndim == 4:
        return int(array.shape[0] * array.shape[1] * array.shape[2])
    return 0


class Predictor:
    """Checks requests against a model's signatures and limits, then runs them.

    Args:
        source: the `ModelSource` served.
        max_pixels: cap on image pixels a request may carry (all images summed).
        max_concurrent: predictions allowed to run at once; others wait their turn.
    """

    def __init__(self, source: ModelSource, max_pixels: int = DEFAULT_MAX_PIXELS, max_concurrent: int = 2):
        self.source = source
        self.max_pixels = max_pixels
        self.max_concurrent = max_concurrent
        self._slots = threading.BoundedSemaphore(max_concurrent)

    def resolve(self, name: str, version: int | None) -> LoadedVersion:
        loaded = self.source.current()
        if name != self.source.name or (version is not None and version != loaded.version):
            request = f"Specific({name}, {version})" if version is not None else f"Latest({name})"
            raise ServingError("NOT_FOUND", f"Servable not found for request: {request}")
        return loaded

    def signature(self, loaded: LoadedVersion, signature_name: str | None):
        signature_name = signature_name or "serving_default"
        if signature_name not in loaded.signatures:
            raise ServingError(
                "INVALID_ARGUMENT",
                f'Serving signature name: "{signature_name}" not found in signature def; '
                f"available: {sorted(loaded.signatures)}",
            )
        return signature_name

    def check_inputs(self, loaded: LoadedVersion, signature_name: str, inputs: dict) -> dict:
        """Name, dtype, shape and size checks; returns name -> tensor."""
        specs = loaded.input_specs[signature_name]
        missing = sorted(set(specs) - set(inputs))
        extra = sorted(set(inputs) - set(specs))
        if missing or extra:
            raise ServingError(
                "INVALID_ARGUMENT",
                f"signature {signature_name!r} takes inputs {sorted(specs)}; "
                f"missing {missing}, unexpected {extra}",
            )
        pixels = 0
        tensors = {}
        for name, spec in specs.items():
            array = _as_dtype(inputs[name], spec.dtype, name)
            if not spec.shape.is_compatible_with(array.shape):
                raise ServingError(
                    "INVALID_ARGUMENT",
                    f"input {name!r}: expected shape {_shape_text(spec.shape)}, "
                    f"got {_shape_text(array.shape)}",
                )
            # Image and mask cover the same pixels: the largest input is the request's size.
            pixels = max(pixels, _pixels(array))
            tensors[name] = array
        if pixels > self.max_pixels:
            raise ServingError(
                "INVALID_ARGUMENT",
                f"request carries {pixels} image pixels; this server's limit is "
                f"{self.max_pixels} (--max-pixels)",
            )
        return tensors

    def predict(
        self, name: str, version: int | None, signature_name: str | None, inputs: dict, output_filter=()
    ):
        """Run a signature. Returns (loaded version, signature name, output name -> array)."""
        loaded = self.resolve(name, version)
        signature_name = self.signature(loaded, signature_name)
        tensors = self.check_inputs(loaded, signature_name, inputs)
        unknown = sorted(set(output_filter) - set(loaded.output_names[signature_name]))
        if unknown:
            raise ServingError(
                "INVALID_ARGUMENT",
                f"output_filter names unknown outputs {unknown}; signature "
                f"{signature_name!r} has {loaded.output_names[signature_name]}",
            )
        with self._slots:
            try:
                outputs = loaded.signatures[signature_name](**{k: tf.constant(v) for k, v in tensors.items()})
            except tf.errors.OpError as error:
                code = next((c for cls, c in _TF_ERROR_CODES.items() if isinstance(error, cls)), "INTERNAL")
                raise ServingError(code, _readable_tf_message(error)) from None
            arrays = {k: v.numpy() for k, v in outputs.items() if not output_filter or k in output_filter}
        return loaded, signature_name, arrays


def _as_dtype(value, dtype: tf.DType, name: str) -> np.ndarray:
    """A decoded JSON value or numpy array -> numpy array of `dtype`, with a clear error."""
    if dtype == tf.string:
        array = value if isinstance(value, np.ndarray) else _string_array(value, name)
        if array.dtype != object and array.dtype.kind not in "SU":
            raise ServingError(
                "INVALID_ARGUMENT", f'input {name!r}: expected strings ({{"b64": …}}), got numbers'
            )
        return array.astype(object)
    try:
        array = np.asarray(value)
    except ValueError:
        array = None
    if array is None or array.dtype == object or array.dtype.kind not in "biuf":
        raise ServingError(
            "INVALID_ARGUMENT",
            f"input {name!r}: expected a rectangular array of numbers "
            f"({dtype.name}); got ragged lists or non-numbers",
        )
    if dtype.is_integer:
        info = np.iinfo(dtype.as_numpy_dtype)
        if array.size and (
            array.dtype.kind == "f"
            and not np.all(np.mod(array, 1) == 0)
            or array.min() < info.min
            or array.max() > info.max
        ):
            raise ServingError(
                "INVALID_ARGUMENT",
                f"input {name!r}: expected integers in [{info.min}, {info.max}] "
                f"({dtype.name}), got values in [{array.min()}, {array.max()}]",
            )
    return array.astype(dtype.as_numpy_dtype, copy=False)


def _string_array(value, name: str) -> np.ndarray:
    def leaf(item):
        if isinstance(item, dict):
            if set(item) != {"b64"} or not isinstance(item["b64"], str):
                raise ServingError(
                    "INVALID_ARGUMENT", f'input {name!r}: expected {{"b64": "…"}}, got keys {sorted(item)}'
                )
            try:
                return base64.b64decode(item["b64"], validate=True)
            except (binascii.Error, ValueError) as error:
                raise ServingError("INVALID_ARGUMENT", f"input {name!r}: invalid base64 ({error})") from None
        if isinstance(item, str):
            return item.encode("utf-8")
        if isinstance(item, list):
            return [leaf(i) for i in item]
        raise ServingError(
            "INVALID_ARGUMENT", f'input {name!r}: expected strings or {{"b64": …}}, got {type(item).__name__}'
        )

    converted = leaf(value)
    array = np.array(converted, dtype=object)
    if any(isinstance(item, list) for item in array.reshape(-1)):
        raise ServingError("INVALID_ARGUMENT", f"input {name!r}: ragged lists of strings")
    return array


def _json_value(array: np.ndarray, name: str):
    """An output array -> JSON value; `*_bytes` strings base64-encoded as TF Serving does."""
    if array.dtype == object or array.dtype.kind == "S":
        if name.endswith("_bytes"):
            encode = lambda b: {"b64": base64.b64encode(b).decode("ascii")}  # noqa: E731
        else:
            encode = lambda b: b.decode("utf-8", "replace")  # noqa: E731
        return np.vectorize(encode, otypes=[object])(array).tolist() if array.size else []
    return array.tolist()


def rest_predict(predictor: Predictor, name: str, version: int | None, body: dict) -> dict:
    """TF Serving's REST `:predict`: row (`instances`) or columnar (`inputs`) format."""
    if not isinstance(body, dict):
        raise ServingError("INVALID_ARGUMENT", "request body must be a JSON object")
    if ("instances" in body) == ("inputs" in body):
        raise ServingError(
            "INVALID_ARGUMENT",
            'request body must have exactly one of "instances" (row format) or "inputs" (columnar format)',
        )
    signature_name = body.get("signature_name")
    if signature_name is not None and not isinstance(signature_name, str):
        raise ServingError("INVALID_ARGUMENT", '"signature_name" must be a string')
    loaded = predictor.resolve(name, version)
    signature_name = predictor.signature(loaded, signature_name)
    input_names = sorted(loaded.input_specs[signature_name])
    if "instances" in body:
        inputs = _rows_to_columns(body["instances"], input_names)
    else:
        inputs = body["inputs"]
        if not isinstance(inputs, dict):
            if len(input_names) != 1:
                raise ServingError("INVALID_ARGUMENT", f'"inputs" must name the inputs {input_names}')
            inputs = {input_names[0]: inputs}
    _, _, outputs = predictor.predict(name, version, signature_name, inputs)
    if "instances" in body:
        if len(outputs) == 1:
            ((out_name, array),) = outputs.items()
            return {"predictions": _json_value(array, out_name)}
        columns = {k: _json_value(v, k) for k, v in outputs.items()}
        size = len(next(iter(columns.values())))
        return {"predictions": [{k: v[i] for k, v in columns.items()} for i in range(size)]}
    if len(outputs) == 1:
        ((out_name, array),) = outputs.items()
        return {"outputs": _json_value(array, out_name)}
    return {"outputs": {k: _json_value(v, k) for k, v in outputs.items()}}


def _rows_to_columns(instances, input_names: list) -> dict:
    if not isinstance(instances, list) or not instances:
        raise ServingError("INVALID_ARGUMENT", '"instances" must be a non-empty list')
    named = [isinstance(i, dict) and "b64" not in i for i in instances]
    if all(named):
        keys = {tuple(sorted(i)) for i in instances}
        if len(keys) != 1:
            raise ServingError(
                "INVALID_ARGUMENT",
                f"every instance must name the same inputs; found {sorted(list(k) for k in keys)}",
            )
        return {k: [i[k] for i in instances] for k in next(iter(keys))}
    if any(named):
        raise ServingError("INVALID_ARGUMENT", "mixed named and unnamed instances")
    if len(input_names) != 1:
        raise ServingError(
            "INVALID_ARGUMENT",
            f"this signature takes {input_names}: each instance must be an object naming them",
        )
    return {input_names[0]: instances}


def version_status(predictor: Predictor, name: str, version: int | None) -> dict:
    loaded = predictor.resolve(name, version)
    return {
        "model_version_status": [
            {
                "version": str(loaded.version),
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }


def signature_def_map(loaded: LoadedVersion):
    from tensorflow_serving.apis import get_model_metadata_pb2

    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for key, value in loaded.signature_defs.items():
        signature_map.signature_def[key].CopyFrom(value)
    return signature_map


def rest_metadata(predictor: Predictor, name: str, version: int | None) -> dict:
    from google.protobuf import json_format

    loaded = predictor.resolve(name, version)
    return {
        "model_spec": {"name": name, "signature_name": "", "version": str(loaded.version)},
        "metadata": {
            "signature_def": json_format.MessageToDict(
                signature_def_map(loaded), preserving_proto_field_name=True
            )
        },
    }


# ---------------------------------------------------------------------------------------------
# REST transport.
# ---------------------------------------------------------------------------------------------

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


class _RestServer(ThreadingHTTPServer):
    daemon_threads = True
    # Many clients reconnect at once after a restart; the default backlog of 5 drops them.
    request_queue_size = 64


# ---------------------------------------------------------------------------------------------
# gRPC transport.
# ---------------------------------------------------------------------------------------------


def _grpc_servicer(predictor: Predictor):
    import grpc
    from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

    def abort(context, error: ServingError):
        context.abort(getattr(grpc.StatusCode, error.code, grpc.StatusCode.UNKNOWN), error.message)

    class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
        """tensorflow.serving.PredictionService: Predict and GetModelMetadata."""

        def Predict(self, request, context):  # noqa: N802 - the proto's method name
            try:
                version = request.model_spec.version.value if request.model_spec.HasField("version") else None
                inputs = {}
                for key, proto in request.inputs.items():
                    try:
                        inputs[key] = tf.make_ndarray(proto)
                    except (TypeError, ValueError) as error:
                        raise ServingError(
                            "INVALID_ARGUMENT", f"input {key!r}: bad TensorProto ({error})"
                        ) from None
                loaded, signature_name, outputs = predictor.predict(
                    request.model_spec.name,
                    version,
                    request.model_spec.signature_name,
                    inputs,
                    tuple(request.output_filter),
                )
            except ServingError as error:
                abort(context, error)
            response = predict_pb2.PredictResponse()
            response.model_spec.name = request.model_spec.name
            response.model_spec.version.value = loaded.version
            response.model_spec.signature_name = signature_name
            for key, array in outputs.items():
                response.outputs[key].CopyFrom(tf.make_tensor_proto(array))
            return response

        def GetModelMetadata(self, request, context):  # noqa: N802
            try:
                fields = set(request.metadata_field)
                if fields != {"signature_def"}:
                    raise ServingError(
                        "INVALID_ARGUMENT", f"metadata_field must be ['signature_def'], got {sorted(fields)}"
                    )
                version = request.model_spec.version.value if request.model_spec.HasField("version") else None
                loaded = predictor.resolve(request.model_spec.name, version)
            except ServingError as error:
                abort(context, error)
            response = get_model_metadata_pb2.GetModelMetadataResponse()
            response.model_spec.name = request.model_spec.name
            response.model_spec.version.value = loaded.version
            response.metadata["signature_def"].Pack(signature_def_map(loaded))
            return response

    return PredictionService()


# ---------------------------------------------------------------------------------------------
# The server.
# ---------------------------------------------------------------------------------------------


class InpaintServer:
    """TF Serving's REST and gRPC APIs for the newest export under `base_path`.

    Args:
        base_path: `saved_models/<name>`, a folder of integer version folders.
        model_name: the name clients use; default: the folder's name.
        host: interface to bind (default loopback; bind others only behind your own proxy).
        port: REST port (0 = pick a free one; see `rest_port`). None = no REST.
        grpc_port: gRPC port (0 = pick a free one). None = no gRPC.
        max_request_bytes: larger bodies get HTTP 413 / gRPC RESOURCE_EXHAUSTED unread.
        max_pixels: requests carrying more image pixels get 400 / INVALID_ARGUMENT.
        max_concurrent: predictions run at once (more wait).
        poll_seconds: how often the base path is rescanned for a newer version.

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
        max_concurrent: int = 2,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
    ):
        self.base_path = base_path
        self.host = host
        self.port = port
        self.grpc_port = grpc_port
        self.max_request_bytes = max_request_bytes
        self.max_pixels = max_pixels
        self.max_concurrent = max_concurrent
        self.poll_seconds = poll_seconds
        self.source = ModelSource(base_path, model_name, poll_seconds)
        self.model_name = self.source.name
        self.predictor = Predictor(self.source, max_pixels, max_concurrent)
        self._http = None
        self._http_thread = None
        self._grpc = None
        self.rest_port = None

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.rest_port}/v1/models/{self.model_name}"

    def start(self) -> InpaintServer:
        if self.port is not None:
            self._http = _RestServer((self.host, self.port), RestHandler)
            self._http.predictor = self.predictor
            self._http.max_request_bytes = self.max_request_bytes
            self.rest_port = self._http.server_address[1]
            self._http_thread = threading.Thread(
                target=self._http.serve_forever, name="tfinpaint-rest", daemon=True
            )
            self._http_thread.start()
        if self.grpc_port is not None:
            import grpc
            from tensorflow_serving.apis import prediction_service_pb2_grpc

            self._grpc = grpc.server(
                futures.ThreadPoolExecutor(max_workers=max(4, self.max_concurrent * 2)),
                options=[
                    ("grpc.max_receive_message_length", self.max_request_bytes),
                    ("grpc.max_send_message_length", -1),
                ],
            )
            prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
                _grpc_servicer(self.predictor), self._grpc
            )
            bound = self._grpc.add_insecure_port(f"{self.host}:{self.grpc_port}")
            if bound == 0:
                raise OSError(f"cannot bind gRPC to {self.host}:{self.grpc_port}")
            self.grpc_port = bound
            self._grpc.start()
        self.source.start_polling()
        return self

    def stop(self) -> None:
        self.source.stop()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http_thread.join()
            self._http = None
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
