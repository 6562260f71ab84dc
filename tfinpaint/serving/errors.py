"""How the server refuses a request: canonical status codes and their HTTP statuses.

REST and gRPC answer the same refusal: `ServingError.code` is the gRPC status name, and
`http_status` the code TF Serving's REST API gives it.
"""

from __future__ import annotations

import tensorflow as tf

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
    """A request the server refuses; `code` is a canonical status name (INVALID_ARGUMENT …).

    `retry_after` (seconds), when set, is sent as REST's `Retry-After` header; `allow`, the
    methods a 405's `Allow` header names.
    """

    def __init__(
        self,
        code: str,
        message: str,
        http_status: int | None = None,
        retry_after: int | None = None,
        allow: tuple[str, ...] = ("GET", "POST"),
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status or HTTP_STATUS.get(code, 500)
        self.retry_after = retry_after
        self.allow = allow

    def headers(self) -> dict:
        """The REST answer's extra headers: `Retry-After`, `Allow` for 405."""
        headers = {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        if self.http_status == 405:
            headers["Allow"] = ", ".join(self.allow)
        return headers


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


def from_tf_error(error: tf.errors.OpError) -> ServingError:
    """The `ServingError` a signature's runtime error (a failed assert, a kernel) becomes."""
    code = next((c for cls, c in _TF_ERROR_CODES.items() if isinstance(error, cls)), "INTERNAL")
    return ServingError(code, _readable_tf_message(error))


def load_status(error: Exception) -> tuple[str, str]:
    """(canonical code, message) of a failed version load, as TF Serving's status reports it."""
    if isinstance(error, tf.errors.OpError):
        from tensorflow.core.protobuf import error_codes_pb2

        return error_codes_pb2.Code.Name(error.error_code), _readable_tf_message(error)
    if isinstance(error, FileNotFoundError):
        return "NOT_FOUND", str(error)
    return "UNKNOWN", f"{type(error).__name__}: {error}"
