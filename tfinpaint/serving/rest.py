"""TF Serving's REST API as JSON documents: predict, model status and metadata answers.

The transport (`tfinpaint.serving.http_server`) routes a URL here; these functions turn a
decoded JSON body into predictor inputs and the outputs back into TF Serving's JSON:

- `:predict` takes `{"signature_name": …, "instances": [...]}` (row format) or
  `{"inputs": {...}}` (columnar), `{"b64": "…"}` for string inputs, and answers
  `{"predictions": …}` / `{"outputs": …}`, string outputs whose name ends in `_bytes` as
  `{"b64": "…"}`.
- status: `{"model_version_status": [...]}`; metadata: the SavedModel's signature defs.
"""

from __future__ import annotations

import base64

import numpy as np

from tfinpaint.serving.errors import ServingError
from tfinpaint.serving.predictor import Predictor


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
