"""Running a signature of the served version: request checks, size caps, concurrency.

Shared by the REST and gRPC transports: they decode a request into name -> array, the
`Predictor` checks it against the signature (names, dtypes, shapes) and the server's limits
(`max_pixels`, the input bytes), runs it, and hands back name -> numpy array. The transports
hold a place in the server's `WorkBudget` (`Predictor.budget`) while they decode and predict.
"""

from __future__ import annotations

import base64
import binascii
import math

import numpy as np
import tensorflow as tf

from tfinpaint.serving.budget import WorkBudget
from tfinpaint.serving.errors import ServingError, from_tf_error
from tfinpaint.serving.image_size import FORMATS, declared_pixels
from tfinpaint.serving.versions import LoadedVersion, ModelSource

# The API's cap: a request is held whole (its body, the decoded arrays, the graph's full-size
# copies), while the exported graph runs the network window by window (export/signatures.py).
DEFAULT_MAX_PIXELS = 2048 * 2048
DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024


def _shape_text(shape) -> str:
    return "[" + ", ".join("-1" if d is None else str(d) for d in shape) + "]"


def _encoded_pixels(array: np.ndarray, name: str) -> int:
    """Pixels the encoded images of a string input declare in their headers, summed."""
    total = 0
    for index, item in enumerate(array.reshape(-1)):
        pixels = declared_pixels(item) if isinstance(item, bytes) else None
        if pixels is None:
            # Unknown is refused: only a decoder could tell, and it may be a decompression bomb.
            raise ServingError(
                "INVALID_ARGUMENT",
                f"input {name!r}[{index}]: the image size cannot be read from its header "
                f"(expected a {FORMATS} file); refused without decoding it",
            )
        total += pixels
    return total


def _check_names(signature_name: str, specs: dict, names) -> None:
    missing = sorted(set(specs) - set(names))
    extra = sorted(set(names) - set(specs))
    if missing or extra:
        raise ServingError(
            "INVALID_ARGUMENT",
            f"signature {signature_name!r} takes inputs {sorted(specs)}; "
            f"missing {missing}, unexpected {extra}",
        )


class Predictor:
    """Checks requests against a model's signatures and limits, then runs them.

    Args:
        source: the `ModelSource` served.
        max_pixels: cap on image pixels a request may carry (the largest input: an image and
            its mask cover the same pixels; encoded images measured from their headers).
        budget: the server's `WorkBudget` (shared with the page): the transports hold a place
            in it around `predict` (default: 2 slots, 1.5 GB).
        max_input_bytes: cap on the memory one input takes once materialised as an array,
            checked from its declared shape before it exists (a gRPC tensor can declare a
            shape far larger than its message).
    """

    def __init__(
        self,
        source: ModelSource,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        budget: WorkBudget | None = None,
        max_input_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    ):
        self.source = source
        self.max_pixels = max_pixels
        self.budget = budget or WorkBudget.default()
        self.max_input_bytes = max_input_bytes

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

    def _check_pixels(self, pixels: int) -> None:
        if pixels > self.max_pixels:
            raise ServingError(
                "INVALID_ARGUMENT",
                f"request carries {pixels} image pixels; this server's limit is "
                f"{self.max_pixels} (--max-pixels)",
            )

    def check_declared(self, loaded: LoadedVersion, signature_name: str, declared: dict) -> int:
        """Names, shapes and both size caps from declared shapes, before any array exists.

        Args:
            declared: input name -> (shape as a tuple of ints, numpy dtype its values arrive in).

        Returns:
            The bytes the inputs will take as arrays.
        """
        specs = loaded.input_specs[signature_name]
        _check_names(signature_name, specs, declared)
        for name, spec in specs.items():
            if not spec.shape.is_compatible_with(declared[name][0]):
                raise ServingError(
                    "INVALID_ARGUMENT",
                    f"input {name!r}: expected shape {_shape_text(spec.shape)}, "
                    f"got {_shape_text(declared[name][0])}",
                )
        # Image and mask cover the same pixels: the largest input is the request's size.
        self._check_pixels(max((s[0] * s[1] * s[2] for s, _ in declared.values() if len(s) == 4), default=0))
        total = 0
        for name, spec in specs.items():
            shape, dtype = declared[name]
            itemsize = max(np.dtype(dtype).itemsize, np.dtype(spec.dtype.as_numpy_dtype).itemsize)
            size = math.prod(shape) * itemsize
            if size > self.max_input_bytes:
                raise ServingError(
                    "RESOURCE_EXHAUSTED",
                    f"input {name!r}: shape {_shape_text(shape)} of {np.dtype(dtype).name} takes "
                    f"{size} bytes; this server's limit is {self.max_input_bytes} (--max-request-bytes)",
                )
            total += size
        return total

    def check_inputs(self, loaded: LoadedVersion, signature_name: str, inputs: dict) -> dict:
        """Name, dtype, shape and size checks of decoded values; returns name -> array."""
        specs = loaded.input_specs[signature_name]
        _check_names(signature_name, specs, inputs)
        arrays = {name: _as_dtype(inputs[name], spec.dtype, name) for name, spec in specs.items()}
        self.check_declared(loaded, signature_name, {k: (a.shape, a.dtype) for k, a in arrays.items()})
        self._check_pixels(
            max((_encoded_pixels(a, k) for k, a in arrays.items() if a.dtype == object), default=0)
        )
        return arrays

    def predict(
        self, name: str, version: int | None, signature_name: str | None, inputs: dict, output_filter=()
    ):
        """Run a signature. Returns (loaded version, signature name, output name -> array).

        The caller holds a place in `self.budget` (the transports take it before decoding)."""
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
        try:
            outputs = loaded.signatures[signature_name](**{k: tf.constant(v) for k, v in tensors.items()})
        except tf.errors.OpError as error:
            raise from_tf_error(error) from None
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
