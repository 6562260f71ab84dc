"""`tfinpaint serve`: TF Serving's REST and gRPC APIs over real sockets on 127.0.0.1."""

import base64
import http.client
import json
import os
import shutil
import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from helpers import served_copy
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

from tfinpaint.serving.server import InpaintServer

NAME = "paper2_test"
MAX_BODY = 1_000_000
MAX_PIXELS = 128 * 128


@pytest.fixture(scope="module")
def base_path(paper2_saved_model, tmp_path_factory):
    """The shared tiny export as version 1 of a base path of this module's own (a test adds a
    version to it)."""
    return served_copy(paper2_saved_model, tmp_path_factory.mktemp("serving") / NAME)


@pytest.fixture(scope="module")
def server(base_path):
    with InpaintServer(
        base_path, port=0, grpc_port=0, max_request_bytes=MAX_BODY, max_pixels=MAX_PIXELS, poll_seconds=0.2
    ) as server:
        yield server


@pytest.fixture(scope="module")
def reference(base_path):
    """The SavedModel's own answer, loaded without the server."""
    signature = tf.saved_model.load(os.path.join(base_path, "1")).signatures["serving_default"]
    return lambda image, mask: signature(image=image, mask=mask)["inpainted"].numpy()


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (2, 20, 28, 3), np.uint8)
    mask = np.zeros((2, 20, 28, 1), np.uint8)
    mask[:, 5:15, 6:20] = 255
    return image, mask


def request(server, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=120)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        connection.request(method, path, body, headers or {})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def predict(server, body, version=None, name=NAME):
    path = f"/v1/models/{name}" + (f"/versions/{version}" if version else "") + ":predict"
    return request(server, "POST", path, body)


def png_b64(array):
    return {"b64": base64.b64encode(tf.io.encode_png(array).numpy()).decode("ascii")}


def test_version_status(server):
    status, body = request(server, "GET", f"/v1/models/{NAME}")
    assert status == 200
    assert body == {
        "model_version_status": [
            {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        ]
    }
    assert request(server, "GET", f"/v1/models/{NAME}/versions/1")[0] == 200


def test_metadata_lists_the_signature_defs(server):
    status, body = request(server, "GET", f"/v1/models/{NAME}/metadata")
    assert status == 200
    assert body["model_spec"] == {"name": NAME, "signature_name": "", "version": "1"}
    defs = body["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "bytes"} <= set(defs)
    image = defs["serving_default"]["inputs"]["image"]
    assert image["dtype"] == "DT_UINT8"
    assert [d["size"] for d in image["tensor_shape"]["dim"]] == ["-1", "-1", "-1", "3"]
    assert defs["bytes"]["outputs"]["inpainted_bytes"]["dtype"] == "DT_STRING"
    assert defs["serving_default"]["method_name"] == "tensorflow/serving/predict"


def test_predict_columnar_inputs(server, sample, reference):
    image, mask = sample
    status, body = predict(server, {"inputs": {"image": image.tolist(), "mask": mask.tolist()}})
    assert status == 200, body
    out = np.array(body["outputs"], np.uint8)
    assert np.array_equal(out, reference(image, mask))


def test_predict_row_instances_and_version_url(server, sample, reference):
    image, mask = sample
    instances = [{"image": i.tolist(), "mask": m.tolist()} for i, m in zip(image, mask)]
    status, body = predict(server, {"signature_name": "serving_default", "instances": instances}, version=1)
    assert status == 200, body
    assert len(body["predictions"]) == 2
    assert np.array_equal(np.array(body["predictions"], np.uint8), reference(image, mask))


def test_predict_bytes_signature_with_b64(server, sample, reference):
    image, mask = sample
    instances = [{"image_bytes": png_b64(i), "mask_bytes": png_b64(m)} for i, m in zip(image, mask)]
    status, body = predict(server, {"signature_name": "bytes", "instances": instances})
    assert status == 200, body
    decoded = [tf.io.decode_png(base64.b64decode(p["b64"])).numpy() for p in body["predictions"]]
    assert np.array_equal(np.stack(decoded), reference(image, mask))


@pytest.mark.parametrize(
    "body, status, message",
    [
        (b"{not json", 400, "JSON Parse error"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "JSON Parse error"),
        ({"instances": [], "inputs": {}}, 400, "exactly one of"),
        ({"inputs": {"image": [[[[1, 2, 3]]]]}}, 400, "missing ['mask']"),
        ({"inputs": {"image": [[[[1, 2]]]], "mask": [[[[1]]]]}}, 400, "expected shape [-1, -1, -1, 3]"),
        ({"inputs": {"image": [[[[1, 2, 3]], [[1, 2]]]], "mask": [[[[1]]]]}}, 400, "rectangular"),
        ({"inputs": {"image": [[[[1, 2, 300]]]], "mask": [[[[1]]]]}}, 400, "[0, 255]"),
        (
            {
                "inputs": {
                    "image": np.zeros((1, 8, 8, 3), int).tolist(),
                    "mask": np.zeros((1, 8, 12, 1), int).tolist(),
                }
            },
            400,
            "same batch size",
        ),
        (
            {
                "inputs": {
                    "image": np.zeros((1, 2, 8, 3), int).tolist(),
                    "mask": np.zeros((1, 2, 8, 1), int).tolist(),
                }
            },
            400,
            "image too small",
        ),
        ({"signature_name": "nope", "inputs": {}}, 400, "not found in signature def"),
        (
            {
                "signature_name": "bytes",
                "instances": [{"image_bytes": {"b64": "***"}, "mask_bytes": {"b64": "AAAA"}}],
            },
            400,
            "base64",
        ),
        (
            {
                "signature_name": "bytes",
                "instances": [{"image_bytes": {"b64": "AAAA"}, "mask_bytes": {"b64": "AAAA"}}],
            },
            400,
            "",
        ),
        (
            {
                "inputs": {
                    "image": np.zeros((1, 129, 129, 3), int).tolist(),
                    "mask": np.zeros((1, 129, 129, 1), int).tolist(),
                }
            },
            400,
            "--max-pixels",
        ),
    ],
)
def test_bad_requests_get_tf_serving_errors(server, body, status, message):
    got, answer = predict(server, body)
    assert got == status and set(answer) == {"error"}, answer
    assert message in answer["error"]


def test_unknown_model_version_or_route_is_404(server, sample):
    image, mask = sample
    body = {"inputs": {"image": image.tolist(), "mask": mask.tolist()}}
    status, answer = predict(server, body, name="other")
    assert status == 404 and "Servable not found" in answer["error"]
    assert predict(server, body, version=9)[0] == 404
    assert request(server, "GET", "/v1/nothing")[0] == 404
    assert request(server, "GET", "/v1/models/other/metadata")[0] == 404


def test_decompression_bomb_refused_from_the_header(server):
    # A 4000x4000 all-zero PNG is ~16 kB on the wire: the header, not the decoder, refuses it.
    bomb = png_b64(np.zeros((4000, 4000, 1), np.uint8))
    body = {"signature_name": "bytes", "instances": [{"image_bytes": bomb, "mask_bytes": bomb}]}
    assert len(json.dumps(body)) < MAX_BODY
    status, answer = predict(server, body)
    assert status == 400 and "16000000 image pixels" in answer["error"]


def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def test_huge_and_bad_requests_leave_the_server_serving(server, sample, reference):
    image, mask = sample
    good = {"inputs": {"image": image.tolist(), "mask": mask.tolist()}}
    assert predict(server, good)[0] == 200
    before = rss_mb()
    huge = b"[" + b"0," * (MAX_BODY // 2 + 10) + b"0]"
    for _ in range(10):
        status, answer = predict(server, huge)
        assert status == 413 and "--max-request-bytes" in answer["error"]
        assert predict(server, b'{"inputs": [')[0] == 400
        assert predict(server, {"inputs": {"image": [[[[1, 2]]]], "mask": [[[[1]]]]}})[0] == 400
    # A client that announces the size and waits (curl's Expect: 100-continue) is refused unsent.
    connection = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=30)
    connection.putrequest("POST", f"/v1/models/{NAME}:predict")
    connection.putheader("Content-Length", str(50 * MAX_BODY))
    connection.putheader("Expect", "100-continue")
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413
    connection.close()
    status, answer = request(server, "POST", f"/v1/models/{NAME}:predict", b"{}", {"Content-Length": "-5"})
    assert status == 400 and "Content-Length" in answer["error"]
    status, body = predict(server, good)
    assert status == 200 and np.array_equal(np.array(body["outputs"], np.uint8), reference(image, mask))
    assert rss_mb() - before < 100, f"memory grew from {before:.0f} MB to {rss_mb():.0f} MB"


def test_concurrent_requests(server, sample, reference):
    image, mask = sample
    good = {"inputs": {"image": image.tolist(), "mask": mask.tolist()}}
    results = []
    threads = [threading.Thread(target=lambda: results.append(predict(server, good))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [status for status, _ in results] == [200] * 6
    expected = reference(image, mask)
    assert all(np.array_equal(np.array(b["outputs"], np.uint8), expected) for _, b in results)


@pytest.fixture(scope="module")
def stub(server):
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        yield prediction_service_pb2_grpc.PredictionServiceStub(channel)


def predict_request(image, mask, name=NAME):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.inputs["image"].CopyFrom(tf.make_tensor_proto(image))
    request.inputs["mask"].CopyFrom(tf.make_tensor_proto(mask))
    return request


def test_grpc_predict_and_metadata(stub, sample, reference):
    image, mask = sample
    response = stub.Predict(predict_request(image, mask), timeout=120)
    assert response.model_spec.version.value == 1
    assert response.model_spec.signature_name == "serving_default"
    assert np.array_equal(tf.make_ndarray(response.outputs["inpainted"]), reference(image, mask))

    request = predict_pb2.PredictRequest()
    request.model_spec.name = NAME
    request.model_spec.signature_name = "bytes"
    request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto([tf.io.encode_png(image[0]).numpy()]))
    request.inputs["mask_bytes"].CopyFrom(tf.make_tensor_proto([tf.io.encode_png(mask[0]).numpy()]))
    encoded = tf.make_ndarray(stub.Predict(request, timeout=120).outputs["inpainted_bytes"])
    assert np.array_equal(tf.io.decode_png(encoded[0]).numpy(), reference(image, mask)[0])

    metadata_request = get_model_metadata_pb2.GetModelMetadataRequest()
    metadata_request.model_spec.name = NAME
    metadata_request.metadata_field.append("signature_def")
    metadata = stub.GetModelMetadata(metadata_request, timeout=60)
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    assert metadata.metadata["signature_def"].Unpack(signature_map)
    assert {"serving_default", "bytes"} <= set(signature_map.signature_def)
    assert metadata.model_spec.version.value == 1


def test_grpc_errors(stub, sample):
    image, mask = sample
    with pytest.raises(grpc.RpcError) as error:
        stub.Predict(predict_request(image, mask[:, :8]), timeout=60)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "same batch size" in error.value.details()
    with pytest.raises(grpc.RpcError) as error:
        stub.Predict(predict_request(image, mask, name="other"), timeout=60)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    big = np.zeros((1, 600, 600, 3), np.uint8)  # 1.08 MB > the 1 MB body limit
    with pytest.raises(grpc.RpcError) as error:
        stub.Predict(predict_request(big, big[..., :1]), timeout=60)
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert stub.Predict(predict_request(image, mask), timeout=60).outputs["inpainted"].dtype


def test_new_version_is_picked_up_without_restart(server, base_path, stub, sample):
    # Published the way TF Serving expects: filled under a hidden name, then renamed.
    temp = os.path.join(base_path, ".incoming")
    shutil.copytree(os.path.join(base_path, "1"), temp)
    os.replace(temp, os.path.join(base_path, "2"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, body = request(server, "GET", f"/v1/models/{NAME}")
        if body["model_version_status"][0]["version"] == "2":
            break
        time.sleep(0.2)
    assert body["model_version_status"][0]["version"] == "2"
    image, mask = sample
    assert stub.Predict(predict_request(image, mask), timeout=60).model_spec.version.value == 2
    assert predict(server, {"inputs": {"image": image.tolist(), "mask": mask.tolist()}}, version=2)[0] == 200


def test_rest_client(server, sample, reference):
    from tfinpaint.serving.client import InpaintClient, ServingClientError

    image, mask = sample
    client = InpaintClient(NAME, f"http://127.0.0.1:{server.rest_port}")
    assert client.version() >= 1
    assert np.array_equal(client.inpaint(image[0], mask[0]), reference(image[:1], mask[:1])[0])
    with pytest.raises(ServingClientError, match="image too small") as error:
        client.inpaint(image[0, :2], mask[0, :2])
    assert error.value.status == 400
    with pytest.raises(ServingClientError) as error:
        InpaintClient("other", f"http://127.0.0.1:{server.rest_port}").version()
    assert error.value.status == 404
