"""`tfinpaint serve` and friends as a user runs them: separate processes, real sockets, their
memory and their terminal output."""

import base64
import http.client
import json
import os
import queue
import re
import resource
import subprocess
import sys
import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc
from test_serving_limits import BOMBS, OVERSIZED, SMALL_IMAGE, SMALL_MASK, bytes_body

from tfinpaint.imagefiles import MAX_PIXELS
from tfinpaint.serving.server import DEFAULT_MAX_PIXELS

# A hard cap on the server's heap: a bomb that slipped through would need gigabytes, and must
# fail the test, not the machine. A healthy server stays near 0.6 GB.
DATA_LIMIT = 2 << 30
# TensorFlow's native log lines: "I0000 00:00:1796041219.686270   11475 port.cc:153] …".
NATIVE_LOG_LINE = re.compile(
    r"^(?:[IWEF]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\]|WARNING: All log messages before absl)", re.M
)


@pytest.fixture(scope="module")
def keras_file(paper2_generator, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("process") / "tiny.keras")
    paper2_generator.save(path)
    return path


@pytest.fixture(scope="module")
def base_path(paper2_saved_model):
    """The shared tiny export's base path (model name `paper2_tiny`); served, never added to."""
    return os.path.dirname(paper2_saved_model)


def quiet_env() -> dict:
    """This environment minus the test session's own TensorFlow log level."""
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return env


class ServerProcess:
    """`python -m tfinpaint.cli serve ARGS`, started and read until its banner names its ports."""

    def __init__(self, args, stderr_path, data_limit=None):
        self.stderr_path = stderr_path
        with open(stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tfinpaint.cli", "serve", *args],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=quiet_env(),
            )
        if data_limit:
            # Set from here, not by a preexec_fn: Python code between fork and exec can meet
            # gRPC's fork handlers (this test process holds channels) and hang the child.
            resource.prlimit(self.process.pid, resource.RLIMIT_DATA, (data_limit, data_limit))
        lines = queue.Queue()
        threading.Thread(
            target=lambda: [lines.put(line) for line in self.process.stdout], daemon=True
        ).start()
        self.banner = ""
        deadline = time.monotonic() + 300
        while "Ctrl-C stops" not in self.banner:
            try:
                self.banner += lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise AssertionError(f"no banner; stdout {self.banner!r}; stderr {self.stderr()!r}") from None
            if self.process.poll() is not None and lines.empty():
                raise AssertionError(f"server exited; stdout {self.banner!r}; stderr {self.stderr()!r}")
        self.rest_port = int(re.search(r"http://127\.0\.0\.1:(\d+)/v1/models", self.banner)[1])
        self.grpc_port = int(re.search(r"gRPC +127\.0\.0\.1:(\d+)", self.banner)[1])

    def stderr(self) -> str:
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def status(self, field: str) -> int:
        """A /proc/<pid>/status figure in MB (VmRSS, VmHWM)."""
        with open(f"/proc/{self.process.pid}/status") as f:
            return int(next(line.split()[1] for line in f if line.startswith(field + ":"))) / 1024

    def reset_peak(self) -> None:
        with open(f"/proc/{self.process.pid}/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current resident size

    def request(self, method, path, body=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.rest_port, timeout=120)
        try:
            connection.request(method, path, body)
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()

    def stop(self) -> int:
        self.process.terminate()
        return self.process.wait(timeout=60)


def stub_for(server):
    channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    return channel, prediction_service_pb2_grpc.PredictionServiceStub(channel)


def good_grpc_request(name, signature="serving_default"):
    rng = np.random.default_rng(0)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = signature
    request.inputs["image"].CopyFrom(tf.make_tensor_proto(rng.integers(0, 256, (1, 20, 28, 3), np.uint8)))
    request.inputs["mask"].CopyFrom(tf.make_tensor_proto(np.full((1, 20, 28, 1), 255, np.uint8)))
    return request


def test_server_survives_20_bombs_and_20_oversized_grpc_shapes(base_path, tmp_path):
    server = ServerProcess(
        ["--model-base-path", base_path, "--port", "0", "--grpc-port", "0", "--max-pixels", "65536",
         "--max-request-bytes", "8000000", "--poll-seconds", "3600"],
        str(tmp_path / "stderr.txt"),
        data_limit=DATA_LIMIT,
    )  # fmt: skip
    channel, stub = stub_for(server)
    predict = "/v1/models/paper2_tiny:predict"
    try:
        assert server.request("GET", "/v1/app/models")[1]["limits"]["max_pixels"] == 65536  # page too
        for _ in range(3):  # warm up both paths before measuring
            assert server.request("POST", predict, bytes_body(SMALL_IMAGE, SMALL_MASK))[0] == 200
            stub.Predict(good_grpc_request("paper2_tiny"), timeout=120)
        time.sleep(1)
        start = server.status("VmRSS")
        server.reset_peak()
        bombs = [make() for make, _ in BOMBS.values()]
        for index in range(20):
            status, answer = server.request(
                "POST", predict, bytes_body(bombs[index % len(bombs)], SMALL_MASK)
            )
            assert status == 400 and "image pixels; this server's limit is 65536" in answer["error"], answer
        cases = sorted(OVERSIZED)
        for index in range(20):
            oversized = predict_pb2.PredictRequest()
            oversized.CopyFrom(OVERSIZED[cases[index % len(cases)]])
            oversized.model_spec.name = "paper2_tiny"
            with pytest.raises(grpc.RpcError) as error:
                stub.Predict(oversized, timeout=120)
            assert error.value.code() in (
                grpc.StatusCode.INVALID_ARGUMENT,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
            )
        peak = server.status("VmHWM")
        assert server.request("POST", predict, bytes_body(SMALL_IMAGE, SMALL_MASK))[0] == 200
        stub.Predict(good_grpc_request("paper2_tiny"), timeout=120)
        time.sleep(1)
        end = server.status("VmRSS")
        assert peak - start < 150, f"memory peaked at {peak:.0f} MB from {start:.0f} MB"
        assert end <= 1.10 * start, f"memory went from {start:.0f} MB to {end:.0f} MB"
    finally:
        channel.close()
        server.stop()


def run_cli(args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "tfinpaint.cli", *args],
        capture_output=True,
        text=True,
        env=quiet_env(),
        cwd=cwd,
    )


def test_tensorflow_native_lines_are_hidden_unless_verbose(keras_file, tmp_path):
    quiet = run_cli(["export", keras_file, "--out", str(tmp_path / "a"), "--tflite", "fp32"], tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert not NATIVE_LOG_LINE.search(quiet.stderr), quiet.stderr
    assert "cuInit" not in quiet.stderr and "tf_tfl_flatbuffer_helpers" not in quiet.stderr
    assert "SavedModel:" in quiet.stdout
    # --verbose shows them: here the lines TensorFlow prints as it loads, before any command work.
    verbose = run_cli(["serve", "--model-base-path", str(tmp_path / "none"), "--verbose"], tmp_path)
    assert verbose.returncode == 2 and "no such folder" in verbose.stderr
    assert NATIVE_LOG_LINE.search(verbose.stderr), verbose.stderr


def signature_summary(signature_defs) -> dict:
    return {
        key: {
            "inputs": {k: (v.dtype, [d.size for d in v.tensor_shape.dim]) for k, v in value.inputs.items()},
            "outputs": {k: (v.dtype, [d.size for d in v.tensor_shape.dim]) for k, v in value.outputs.items()},
        }
        for key, value in signature_defs.items()
    }


def test_serve_without_a_model_serves_the_shipped_default_model(base_path, tmp_path, photo_paths):
    # Only free ports and a fresh cache folder are given: the model is the shipped one, served
    # from its shipped export (nothing exported, nothing cached).
    args = ["--port", "0", "--grpc-port", "0", "--cache-dir", str(tmp_path / "cache")]
    server = ServerProcess(args, str(tmp_path / "stderr.txt"))
    channel, stub = stub_for(server)
    try:
        assert "exporting" not in server.banner and not (tmp_path / "cache").exists()
        assert "serving default version 1" in server.banner
        assert f"REST  http://127.0.0.1:{server.rest_port}/v1/models/default" in server.banner
        assert f"page  http://127.0.0.1:{server.rest_port}/" in server.banner
        page = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=60)
        page.request("GET", "/")
        response = page.getresponse()
        assert response.status == 200 and response.getheader("Content-Type").startswith("text/html")
        page.close()
        status, body = server.request("GET", "/v1/models/default")
        assert status == 200 and body["model_version_status"][0]["state"] == "AVAILABLE"
        # No --max-pixels: the API keeps its whole-image cap, the page (windowed) takes what
        # `tfinpaint inpaint` takes, so a 12 MP photo is not refused.
        status, body = server.request("GET", "/v1/app/models")
        assert status == 200 and body["limits"]["max_pixels"] == MAX_PIXELS
        big = [tf.io.encode_png(np.zeros((2100, 2100, c), np.uint8)).numpy() for c in (3, 1)]
        status, body = server.request("POST", "/v1/models/default:predict", bytes_body(*big))
        assert status == 400 and f"limit is {DEFAULT_MAX_PIXELS}" in body["error"], body
        full = np.asarray(Image.open(photo_paths[2]).convert("RGB"))  # sky over a ridge
        top, left = full.shape[0] // 2 - 48, full.shape[1] // 2 - 64
        photo = full[top : top + 96, left : left + 128]
        mask = np.zeros((96, 128, 1), np.uint8)
        mask[32:64, 40:88] = 255
        png = lambda array: tf.io.encode_png(array).numpy()
        status, body = server.request("POST", "/v1/models/default:predict", bytes_body(png(photo), png(mask)))
        assert status == 200, body
        out = tf.io.decode_png(base64.b64decode(body["predictions"][0]["b64"])).numpy()
        hole = mask[..., 0] > 0
        assert out.shape == photo.shape and np.array_equal(out[~hole], photo[~hole])
        assert np.abs(out[hole].astype(int) - photo[hole]).mean() < 30  # a fill, not noise
        assert stub.Predict(good_grpc_request("default"), timeout=120).model_spec.name == "default"
        metadata_request = get_model_metadata_pb2.GetModelMetadataRequest()
        metadata_request.model_spec.name = "default"
        metadata_request.metadata_field.append("signature_def")
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        stub.GetModelMetadata(metadata_request, timeout=60).metadata["signature_def"].Unpack(signature_map)
        from tensorflow.core.protobuf import saved_model_pb2

        proto = saved_model_pb2.SavedModel()
        with open(os.path.join(base_path, "1", "saved_model.pb"), "rb") as f:
            proto.ParseFromString(f.read())
        served = signature_summary(signature_map.signature_def)
        assert {"serving_default", "bytes"} <= set(served)
        assert served == signature_summary(proto.meta_graphs[0].signature_def)
    finally:
        channel.close()
        assert server.stop() == 0
    assert not NATIVE_LOG_LINE.search(server.stderr()), server.stderr()


def test_a_second_serve_on_the_same_grpc_port_exits_naming_it(base_path, tmp_path):
    from tfinpaint.serving.server import InpaintServer

    with InpaintServer(base_path, port=None, grpc_port=0, poll_seconds=3600) as first:
        second = run_cli(
            ["serve", "--model-base-path", base_path, "--port", "0", "--grpc-port", str(first.grpc_port)],
            tmp_path,
        )
    assert second.returncode == 2, second.stderr
    assert f"127.0.0.1:{first.grpc_port}" in second.stderr and "--grpc-port" in second.stderr
    assert "Traceback" not in second.stderr


def solid_png(side: int) -> bytes:
    buffer = __import__("io").BytesIO()
    Image.new("RGB", (side, side), (90, 120, 200)).save(buffer, format="PNG", compress_level=9)
    return buffer.getvalue()


@pytest.mark.large
def test_eight_parallel_100_megapixel_uploads_stay_within_the_budget(base_path, tmp_path):
    from test_app import multipart

    server = ServerProcess(
        ["--model-base-path", base_path, "--port", "0", "--grpc-port", "0", "--poll-seconds", "3600"],
        str(tmp_path / "stderr.txt"),
    )
    side = 10000
    photo = solid_png(side)
    hole = np.zeros((side, side), np.uint8)
    hole[5000:5100, 5000:5200] = 255
    buffer = __import__("io").BytesIO()
    Image.fromarray(hole).save(buffer, format="PNG", compress_level=9)
    decode = multipart({"image": ("big.png", photo)})
    inpaint = multipart({"image": ("big.png", photo), "mask": ("m.png", buffer.getvalue()), "model": "telea"})
    statuses = []

    def send(path, headers_body):
        headers, body = headers_body
        connection = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=3600)
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        response.read()
        statuses.append((path, response.status))
        connection.close()

    try:
        time.sleep(2)
        idle = server.status("VmRSS")
        server.reset_peak()
        threads = [threading.Thread(target=send, args=("/v1/app/decode", decode)) for _ in range(4)]
        threads += [threading.Thread(target=send, args=("/v1/app/inpaint", inpaint)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        peak = server.status("VmHWM")
        print(f"idle {idle:.0f} MB, peak {peak:.0f} MB (+{peak - idle:.0f} MB); answers {sorted(statuses)}")
        assert peak - idle < 1500, f"memory peaked at {peak:.0f} MB from {idle:.0f} MB"
        assert all(status in (200, 413, 503) for _, status in statuses), statuses
        assert server.request("GET", "/v1/app/models")[0] == 200
    finally:
        server.stop()
