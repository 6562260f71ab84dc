"""TF Serving's REST API: its URLs, and JSON documents for predict, model status and metadata.

The transport (`tfinpaint.serving.http_server`) hands `rest_answer` every request that is not
the page's; it reads the URL (`/v1/models/<name>[/versions/<v>][:predict|/metadata]`), and
these functions turn a decoded JSON body into predictor inputs and the outputs back into TF
Serving's JSON:

- `:predict` takes `{"signature_name": …, "instances": [...]}` (row format) or
  `{"inputs": {...}}` (columnar), `{"b64": "…"}` for string inputs, and answers
  `{"predictions": …}` / `{"outputs": …}`, string outputs whose name ends in `_bytes` as
  `{"b64": "…"}`.
- status: `{"model_version_status": [...]}`; metadata: the SavedModel's signature defs.
"""

from __future__ import annotations

import base64
import json
import re

import numpy as np

from tfinpaint.serving import estimates
from tfinpaint.serving.budget import WorkBudget
from tfinpaint.serving.errors import ServingError
from tfinpaint.serving.predictor import Predictor

_URL = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+))?"
    r"(?:/labels/(?P<label>[^/:]+))?(?P<verb>:[a-z]+|/metadata)?/?$"
)


def parse_url(method: str, path: str) -> tuple[str, int | None, str | None]:
    """(model name, version or None, verb: `:predict`, `/metadata`, … or None) of a request
    path (query string allowed); ServingError for a path that is not TF Serving's."""
    match = _URL.match(path.split("?", 1)[0])
    if not match:
        raise ServingError("NOT_FOUND", f"Malformed request: {method} {path}")
    if match["label"]:
        raise ServingError("INVALID_ARGUMENT", "version labels are not supported; use /versions/<number>")
    version = match["version"]
    if version is not None and not (version.isascii() and version.isdigit() and len(version) <= 18):
        raise ServingError("INVALID_ARGUMENT", f"version {version[:40]!r} must be an integer below 10**18")
    return match["name"], (int(version) if version is not None else None), match["verb"]


def rest_answer(predictor: Predictor, method: str, path: str, body: bytes, budget: WorkBudget, gone) -> dict:
    """The JSON answer to a GET or POST of TF Serving's REST API.

    `:predict` takes a place in `budget` (its estimate from the body's length) before its JSON
    is parsed; `gone` returns True once the client has disconnected while it waits.
    """
    name, version, verb = parse_url(method, path)
    if method == "GET":
        if verb is None:
            return version_status(predictor, name, version)
        if verb == "/metadata":
            return rest_metadata(predictor, name, version)
        raise ServingError("NOT_FOUND", f"Malformed request: GET {path}")
    if verb in (":classify", ":regress"):
        raise ServingError("UNIMPLEMENTED", f"{verb[1:]} is not served; use :predict")
    if verb != ":predict":
        raise ServingError("NOT_FOUND", f"Malformed request: POST {path}")
    work = estimates.rest_predict_bytes(len(body), predictor.max_pixels)
    with budget.reserve(work, f"a {len(body)}-byte :predict request", gone):
        try:
            request = json.loads(body)
        except (ValueError, RecursionError) as error:  # RecursionError: absurd nesting
            raise ServingError("INVALID_ARGUMENT", f"JSON Parse error: {error}") from None
        return rest_predict(predictor, name, version, request)


def _json_value(array: np.ndarray, name: str):
    """An output array -> JSON value; `*_bytes` strings base64-encoded as TF Serving does."""
    if array.dtype == object or array.dtype.kind == "S":
        if name.endswith("_bytes"):
            encode = lambda b: {"b64": base64.b64encode(b).decode("ascii")}
        else:
            encode = lambda b: b.decode("utf-8", "replace")
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
    """TF Serving's model status: the version served and, while it is retried, a newer one
    that failed to load (state LOADING, with the load error in its status)."""
    loaded = predictor.resolve(name, None)
    entries = []
    failure = predictor.source.failure()
    if failure is not None:
        entries.append(
            {
                "version": str(failure.version),
                "state": "LOADING",
                "status": {"error_code": failure.code, "error_message": failure.message},
            }
        )
    entries.append(
        {
            "version": str(loaded.version),
            "state": "AVAILABLE",
            "status": {"error_code": "OK", "error_message": ""},
        }
    )
    if version is not None:
        entries = [entry for entry in entries if entry["version"] == str(version)]
        if not entries:
            raise ServingError("NOT_FOUND", f"Servable not found for request: Specific({name}, {version})")
    return {"model_version_status": entries}


def rest_metadata(predictor: Predictor, name: str, version: int | None) -> dict:
    from google.protobuf import json_format

    loaded = predictor.resolve(name, version)
    return {
        "model_spec": {"name": name, "signature_name": "", "version": str(loaded.version)},
        "metadata": {
            "signature_def": json_format.MessageToDict(
                loaded.signature_def_map(), preserving_proto_field_name=True
            )
        },
    }
