"""The gRPC transport: `tensorflow.serving.PredictionService` (`Predict`, `GetModelMetadata`).

Built on the stubs of `tensorflow-serving-api`; requests are checked and run by the same
`Predictor` as REST. Messages above `max_request_bytes` are refused by gRPC itself
(RESOURCE_EXHAUSTED) before they are read; a tensor's declared shape is checked against the
caps before the tensor is materialised, since a TensorProto can declare far more values than
it carries (`*_val` fields are padded out to the shape).
"""

from __future__ import annotations

import math
from concurrent import futures

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

from tfinpaint.serving import estimates
from tfinpaint.serving.budget import ClientGone
from tfinpaint.serving.errors import ServingError
from tfinpaint.serving.predictor import Predictor

# Where a TensorProto keeps its values when `tensor_content` is empty, per dtype accepted.
_VALUE_FIELDS = {
    tf.uint8: "int_val",
    tf.int8: "int_val",
    tf.uint16: "int_val",
    tf.int16: "int_val",
    tf.int32: "int_val",
    tf.int64: "int64_val",
    tf.uint32: "uint32_val",
    tf.uint64: "uint64_val",
    tf.float16: "half_val",
    tf.bfloat16: "half_val",
    tf.float32: "float_val",
    tf.float64: "double_val",
    tf.bool: "bool_val",
    tf.string: "string_val",
}


def _dtype(proto, name: str) -> tf.DType:
    try:
        dtype = tf.as_dtype(proto.dtype)
    except TypeError:
        dtype = None
    if dtype not in _VALUE_FIELDS:
        raise ServingError(
            "INVALID_ARGUMENT",
            f"input {name!r}: dtype {dtype.name if dtype else proto.dtype} is not accepted; "
            f"expected one of {sorted(d.name for d in _VALUE_FIELDS)}",
        )
    return dtype


def declared_tensor(proto, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, numpy dtype) a TensorProto declares, read without materialising it."""
    dtype = _dtype(proto, name)
    dims = tuple(d.size for d in proto.tensor_shape.dim)
    if proto.tensor_shape.unknown_rank or any(d < 0 for d in dims):
        raise ServingError(
            "INVALID_ARGUMENT", f"input {name!r}: the TensorProto must give a fully known shape"
        )
    return dims, np.dtype(dtype.as_numpy_dtype)


def tensor_array(proto, name: str) -> np.ndarray:
    """A TensorProto whose declared shape has passed the caps -> numpy array.

    The values must fit the shape: `tensor_content` exactly, `*_val` no more values than
    elements (fewer are padded with the last one, as TensorFlow does).
    """
    shape, dtype = declared_tensor(proto, name)
    count = math.prod(shape)
    if proto.tensor_content:
        if dtype.kind == "O" or len(proto.tensor_content) != count * dtype.itemsize:
            raise ServingError(
                "INVALID_ARGUMENT",
                f"input {name!r}: tensor_content holds {len(proto.tensor_content)} bytes; shape "
                f"{list(shape)} of {dtype.name} needs {count * dtype.itemsize}",
            )
    else:
        values = len(getattr(proto, _VALUE_FIELDS[_dtype(proto, name)]))
        if values > count:
            raise ServingError(
                "INVALID_ARGUMENT",
                f"input {name!r}: {values} values for shape {list(shape)} ({count} elements)",
            )
    try:
        return tf.make_ndarray(proto)
    except (TypeError, ValueError) as error:
        raise ServingError("INVALID_ARGUMENT", f"input {name!r}: bad TensorProto ({error})") from None


def _grpc_servicer(predictor: Predictor):
    def abort(context, error: ServingError):
        context.abort(getattr(grpc.StatusCode, error.code, grpc.StatusCode.UNKNOWN), error.message)

    class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
        """tensorflow.serving.PredictionService: Predict and GetModelMetadata."""

        def Predict(self, request, context):  # the proto's method name
            try:
                version = request.model_spec.version.value if request.model_spec.HasField("version") else None
                loaded = predictor.resolve(request.model_spec.name, version)
                signature_name = predictor.signature(loaded, request.model_spec.signature_name)
                declared = {key: declared_tensor(proto, key) for key, proto in request.inputs.items()}
                # Shapes and caps first: a 361-byte message can declare a 1.2 GB tensor.
                input_bytes = predictor.check_declared(loaded, signature_name, declared)
                pixels = max((s[0] * s[1] * s[2] for s, _ in declared.values() if len(s) == 4), default=0)
                work = estimates.grpc_predict_bytes(input_bytes, pixels or predictor.max_pixels)
                gone = lambda: not context.is_active()
                with predictor.budget.reserve(work, "this Predict request", gone):
                    inputs = {key: tensor_array(proto, key) for key, proto in request.inputs.items()}
                    loaded, signature_name, outputs = predictor.predict(
                        request.model_spec.name,
                        version,
                        request.model_spec.signature_name,
                        inputs,
                        tuple(request.output_filter),
                    )
            except ServingError as error:
                abort(context, error)
            except ClientGone:
                context.abort(grpc.StatusCode.CANCELLED, "the client cancelled the request")
            response = predict_pb2.PredictResponse()
            response.model_spec.name = request.model_spec.name
            response.model_spec.version.value = loaded.version
            response.model_spec.signature_name = signature_name
            for key, array in outputs.items():
                response.outputs[key].CopyFrom(tf.make_tensor_proto(array))
            return response

        def GetModelMetadata(self, request, context):
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
            response.metadata["signature_def"].Pack(loaded.signature_def_map())
            return response

    return PredictionService()


def start_grpc_server(host: str, port: int, predictor: Predictor, max_request_bytes: int, workers: int):
    """Serve `predictor` over gRPC on host:port (0 = a free port). Returns (server, bound port)."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers),
        options=[
            ("grpc.max_receive_message_length", max_request_bytes),
            ("grpc.max_send_message_length", -1),
            # Never share a port with another server (Linux's SO_REUSEPORT, grpc's default):
            # its clients would be answered by whichever process the kernel picks.
            ("grpc.so_reuseport", 0),
        ],
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(_grpc_servicer(predictor), server)
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:  # newer grpc raises where older ones returned 0
        bound = 0
    if bound == 0:
        raise OSError(
            f"cannot listen for gRPC on {host}:{port}: the port is in use (another `tfinpaint "
            "serve`?) or not available; pick another with --grpc-port (0 = any free port)"
        )
    server.start()
    return server, bound
