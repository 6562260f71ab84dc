"""The gRPC transport: `tensorflow.serving.PredictionService` (`Predict`, `GetModelMetadata`).

Built on the stubs of `tensorflow-serving-api`; requests are checked and run by the same
`Predictor` as REST. Messages above `max_request_bytes` are refused by gRPC itself
(RESOURCE_EXHAUSTED) before they are read.
"""

from __future__ import annotations

from concurrent import futures

import grpc
import tensorflow as tf
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

from tfinpaint.serving.errors import ServingError
from tfinpaint.serving.predictor import Predictor


def _grpc_servicer(predictor: Predictor):
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
        ],
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(_grpc_servicer(predictor), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot bind gRPC to {host}:{port}")
    server.start()
    return server, bound
