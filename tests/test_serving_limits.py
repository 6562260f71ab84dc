"""`tfinpaint serve` under hostile and careless clients: sizes from headers, declared gRPC
shapes, disconnects and odd HTTP, in a server on 127.0.0.1 in this process."""

import base64
import http.client
import io
import json
import socket
import struct
import time
import zlib

import grpc
import numpy as np
import pytest
import tensorflow as tf
from helpers import served_copy
from PIL import Image
from tensorflow.core.framework import tensor_pb2
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from tfinpaint.serving.image_size import declared_pixels
from tfinpaint.serving.server import InpaintServer

NAME = "limits"
MAX_BODY = 2_000_000
MAX_PIXELS = 128 * 128


# ---------------------------------------------------------------------------------------------
# Image files, real and crafted.
# ---------------------------------------------------------------------------------------------


def encoded(fmt: str, width: int = 37, height: int = 23, frames: int = 1, **options) -> bytes:
    rng = np.random.default_rng(width * height + frames)
    images = [Image.fromarray(rng.integers(0, 256, (height, width, 3), np.uint8)) for _ in range(frames)]
    buffer = io.BytesIO()
    if frames > 1:
        options.update(save_all=True, append_images=images[1:], duration=100)
    images[0].save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_bomb(side: int = 20000) -> bytes:
    """A valid 1-bit PNG of side x side black pixels: ~50 kB on the wire, 1.2 GB as RGB."""
    row = b"\0" * (1 + (side + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")
    )


def jpeg_bomb(side: int = 65000) -> bytes:
    """A JPEG frame header declaring side x side (baseline, 3 components), no scan."""
    components = b"".join(bytes([i, 0x11, 0]) for i in (1, 2, 3))
    sof = struct.pack(">BHHB", 8, side, side, 3) + components
    return (
        b"\xff\xd8"
        + b"\xff\xe0"
        + struct.pack(">H", 16)
        + b"JFIF\0"
        + bytes(9)
        + (b"\xff\xc0" + struct.pack(">H", 2 + len(sof)) + sof + b"\xff\xd9")
    )


def gif_bomb(side: int = 60000) -> bytes:
    """A 16x16 logical screen holding one side x side frame (the decoder's canvas is the frame)."""
    screen = b"GIF89a" + struct.pack("<HHBBB", 16, 16, 0, 0, 0)
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, side, side, 0) + b"\x02\x02\x4c\x01\x00"
    return screen + frame + b"\x3b"


def webp_bomb(side: int = 16384) -> bytes:
    """A lossless WebP header declaring side x side, then noise."""
    bits = (side - 1) | ((side - 1) << 14)
    chunk = b"\x2f" + struct.pack("<I", bits) + bytes(range(64))
    body = b"WEBP" + b"VP8L" + struct.pack("<I", len(chunk)) + chunk
    return b"RIFF" + struct.pack("<I", len(body)) + body


BOMBS = {
    "png": (png_bomb, 20000 * 20000),
    "jpeg": (jpeg_bomb, 65000 * 65000),
    "gif": (gif_bomb, 60000 * 60000),
    "webp": (webp_bomb, 16384 * 16384),
}


@pytest.mark.parametrize(
    "fmt, options",
    [
        ("PNG", {}),
        ("JPEG", {}),
        ("JPEG", {"progressive": True}),
        ("GIF", {}),
        ("WEBP", {}),
        ("WEBP", {"lossless": True}),
        ("BMP", {}),
    ],
)
def test_declared_pixels_of_real_files(fmt, options):
    assert declared_pixels(encoded(fmt, **options)) == 37 * 23


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animations_count_every_frame(fmt):
    assert declared_pixels(encoded(fmt, frames=3)) == 3 * 37 * 23


@pytest.mark.parametrize("fmt", sorted(BOMBS))
def test_declared_pixels_of_bombs(fmt):
    make, pixels = BOMBS[fmt]
    assert declared_pixels(make()) == pixels


def test_png_bomb_is_a_real_png_of_that_size():
    bomb = png_bomb(3000)  # small enough to decode here
    assert len(bomb) < 5000
    assert tf.io.decode_png(bomb).shape == (3000, 3000, 1)
    assert declared_pixels(bomb) == 3000 * 3000


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"AAAA",
        b"not an image at all",
        encoded("PNG")[:20],  # cut inside IHDR
        b"\xff\xd8\xff\xda\x00\x08" + bytes(6),  # scan data before any frame header
        jpeg_bomb()[:27],  # cut inside the frame header
        jpeg_bomb().replace(struct.pack(">HH", 65000, 65000), struct.pack(">HH", 0, 65000)),  # DNL height
        b"GIF89a" + struct.pack("<HHBBB", 16, 16, 0, 0, 0) + b"\x3b",  # no frame
        b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(20),  # no VP8 start code
        encoded("TIFF"),  # a format the check does not read
    ],
)
def test_unknown_sizes_are_none(data):
    assert declared_pixels(data) is None


# ---------------------------------------------------------------------------------------------
# A server in this process.
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(paper2_saved_model, tmp_path_factory):
    base = served_copy(paper2_saved_model, tmp_path_factory.mktemp("limits") / NAME)
    with InpaintServer(
        base, port=0, grpc_port=0, max_request_bytes=MAX_BODY, max_pixels=MAX_PIXELS, poll_seconds=3600
    ) as server:
        yield server


def request(server, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=120)
    try:
        connection.request(method, path, body, headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


def b64(data: bytes) -> dict:
    return {"b64": base64.b64encode(data).decode("ascii")}


def bytes_body(image: bytes, mask: bytes) -> bytes:
    body = {"signature_name": "bytes", "instances": [{"image_bytes": b64(image), "mask_bytes": b64(mask)}]}
    return json.dumps(body).encode()


SMALL_MASK = tf.io.encode_png(np.full((20, 28, 1), 255, np.uint8)).numpy()
SMALL_IMAGE = tf.io.encode_png(np.zeros((20, 28, 3), np.uint8)).numpy()


@pytest.mark.parametrize("fmt", sorted(BOMBS))
def test_bombs_are_refused_from_their_headers(server, fmt):
    make, pixels = BOMBS[fmt]
    status, _, answer = request(server, "POST", f"/v1/models/{NAME}:predict", bytes_body(make(), SMALL_MASK))
    assert status == 400
    assert json.loads(answer)["error"] == (
        f"request carries {pixels} image pixels; this server's limit is {MAX_PIXELS} (--max-pixels)"
    )


def test_an_image_of_unknown_size_is_refused_undecoded(server):
    status, _, answer = request(
        server, "POST", f"/v1/models/{NAME}:predict", bytes_body(encoded("TIFF"), SMALL_MASK)
    )
    assert status == 400
    message = json.loads(answer)["error"]
    assert "input 'image_bytes'[0]" in message and "size cannot be read from its header" in message


def test_small_images_still_pass(server):
    status, _, answer = request(
        server, "POST", f"/v1/models/{NAME}:predict", bytes_body(SMALL_IMAGE, SMALL_MASK)
    )
    assert status == 200, answer
    out = tf.io.decode_png(base64.b64decode(json.loads(answer)["predictions"][0]["b64"])).numpy()
    assert out.shape == (20, 28, 3)


@pytest.fixture(scope="module")
def stub(server):
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        yield prediction_service_pb2_grpc.PredictionServiceStub(channel)


def tensor(dtype, shape, **values):
    """A TensorProto declaring `shape`, holding exactly the `values` given (by field name)."""
    proto = tensor_pb2.TensorProto(dtype=dtype.as_datatype_enum)
    for size in shape:
        proto.tensor_shape.dim.add(size=size)
    for field, content in values.items():
        if field == "tensor_content":
            proto.tensor_content = content
        else:
            getattr(proto, field).extend(content)
    return proto


def grpc_request(signature, **inputs):
    message = predict_pb2.PredictRequest()
    message.model_spec.name = NAME
    message.model_spec.signature_name = signature
    for key, proto in inputs.items():
        message.inputs[key].CopyFrom(proto)
    return message


HUGE = [1, 20000, 20000]
OVERSIZED = {
    "one int_val": grpc_request(
        "serving_default",
        image=tensor(tf.uint8, HUGE + [3], int_val=[7]),
        mask=tensor(tf.uint8, HUGE + [1], int_val=[1]),
    ),
    "no values": grpc_request(
        "serving_default",
        image=tensor(tf.uint8, [1, 30000, 30000, 3]),
        mask=tensor(tf.uint8, [1, 30000, 30000, 1]),
    ),
    "short tensor_content": grpc_request(
        "serving_default",
        image=tensor(tf.uint8, HUGE + [3], tensor_content=bytes(12)),
        mask=tensor(tf.uint8, HUGE + [1], tensor_content=bytes(4)),
    ),
    "float_val": grpc_request(
        "serving_default",
        image=tensor(tf.float32, [1, 16000, 16000, 3], float_val=[0.5]),
        mask=tensor(tf.float32, [1, 16000, 16000, 1], float_val=[1.0]),
    ),
    "a billion strings": grpc_request(
        "bytes",
        image_bytes=tensor(tf.string, [10**9], string_val=[SMALL_IMAGE]),
        mask_bytes=tensor(tf.string, [10**9], string_val=[SMALL_MASK]),
    ),
}


@pytest.mark.parametrize("case", sorted(OVERSIZED))
def test_grpc_declared_shapes_are_checked_before_any_tensor_exists(stub, case):
    with pytest.raises(grpc.RpcError) as error:
        stub.Predict(OVERSIZED[case], timeout=60)
    if case == "a billion strings":
        assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "takes 8000000000 bytes" in error.value.details()
    else:
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "image pixels; this server's limit is 16384" in error.value.details()


@pytest.mark.parametrize(
    "image, message",
    [
        (tensor(tf.uint8, [1, 20, 28, 3], tensor_content=bytes(100)), "tensor_content holds 100 bytes"),
        (tensor(tf.uint8, [1, 2, 2, 3], int_val=list(range(13))), "13 values for shape [1, 2, 2, 3]"),
        (tensor(tf.uint8, [1, -1, 28, 3], int_val=[1]), "fully known shape"),
        (tensor(tf.complex64, [1, 20, 28, 3]), "dtype complex64 is not accepted"),
    ],
)
def test_grpc_tensors_must_fit_their_shapes(stub, image, message):
    mask = tensor(tf.uint8, [1, 20, 28, 1], int_val=[1])
    with pytest.raises(grpc.RpcError) as error:
        stub.Predict(grpc_request("serving_default", image=image, mask=mask), timeout=60)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in error.value.details()


def test_grpc_fill_values_within_the_caps_still_work(stub):
    # TensorFlow's own encoding of a constant tensor: one value, padded out to the shape.
    image = tensor(tf.uint8, [1, 20, 28, 3], int_val=[90])
    mask = tensor(tf.uint8, [1, 20, 28, 1], int_val=[0])
    response = stub.Predict(grpc_request("serving_default", image=image, mask=mask), timeout=60)
    assert np.array_equal(
        tf.make_ndarray(response.outputs["inpainted"]), np.full((1, 20, 28, 3), 90, np.uint8)
    )


# ---------------------------------------------------------------------------------------------
# Odd HTTP: disconnects, other methods, over-long URLs.
# ---------------------------------------------------------------------------------------------


def reset_after(server, data: bytes, wait: float = 0.3) -> None:
    """Send `data`, then drop the connection with a TCP reset (SO_LINGER 0)."""
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=30) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.sendall(data)
        time.sleep(wait)


def test_client_disconnects_print_no_tracebacks(server, capfd):
    good = bytes_body(SMALL_IMAGE, SMALL_MASK)
    path = f"/v1/models/{NAME}:predict"
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(good)}\r\n\r\n".encode()
    capfd.readouterr()
    for _ in range(3):
        reset_after(server, b"GET /v1/mod", wait=0.1)  # inside the request line
        reset_after(server, head + good[:100], wait=0.1)  # inside the body
        reset_after(server, head + good, wait=0.0)  # before the answer is written
        reset_after(server, head + good, wait=1.0)  # while the answer is written
    time.sleep(1.0)
    assert request(server, "POST", path, good)[0] == 200
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err + captured.out, captured.err


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"])
def test_other_methods_answer_json(server, method):
    status, content_type, answer = request(server, method, f"/v1/models/{NAME}", b"{}")
    assert status in (405, 501) and content_type == "application/json"
    assert method in json.loads(answer)["error"]


def test_over_long_url_and_broken_request_line_answer_json(server):
    status, content_type, answer = request(server, "GET", "/v1/models/" + "x" * 70_000)
    assert status == 414 and content_type == "application/json" and json.loads(answer)["error"]
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=30) as sock:
        sock.sendall(b"GET / HTTP/9.9\r\n\r\n")
        reply = sock.makefile("rb").read()
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 505") and b"application/json" in head
    assert "error" in json.loads(body)


# ---------------------------------------------------------------------------------------------
# Issue 22: other sites and hosts, smuggled lengths, trickles, connections, abandoned work.
# ---------------------------------------------------------------------------------------------


def test_other_sites_and_hosts_get_json_refusals(server):
    predict = f"/v1/models/{NAME}:predict"
    body = bytes_body(SMALL_IMAGE, SMALL_MASK)
    for headers, status in (
        ({"Origin": "http://evil.example"}, 403),
        ({"Origin": "http://evil.example", "Content-Type": "text/plain"}, 403),
        ({"Host": "evil.example"}, 421),
    ):
        answer = request(server, "POST", predict, body, headers)
        assert answer[:2] == (status, "application/json"), headers
        assert "this server" in json.loads(answer[2])["error"]
    own = {"Origin": f"http://127.0.0.1:{server.rest_port}"}
    assert request(server, "POST", predict, body, own)[0] == 200


def raw(server, data: bytes, timeout: float = 60) -> bytes:
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=timeout) as sock:
        sock.sendall(data)
        return sock.makefile("rb").read()


def test_conflicting_lengths_and_huge_versions_are_400(server):
    reply = raw(
        server, b"POST /v1/models/x:predict HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}"
    )
    assert reply.startswith(b"HTTP/1.1 400") and b"conflicting Content-Length" in reply
    status, _, answer = request(server, "GET", f"/v1/models/{NAME}/versions/{'9' * 5000}")
    assert status == 400 and "must be an integer" in json.loads(answer)["error"]


def test_a_trickling_body_is_cut_off(server, monkeypatch):
    monkeypatch.setattr(server._http, "body_seconds", 1.0)
    head = f"POST /v1/models/{NAME}:predict HTTP/1.1\r\nContent-Length: 1000\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=30) as sock:
        sock.sendall(head + b"{")
        try:
            for _ in range(40):  # one byte every 0.25 s: each read is quick, the whole is not
                time.sleep(0.25)
                sock.sendall(b" ")
            closed = sock.recv(1) == b""
        except OSError:
            closed = True
    assert closed


def test_connections_above_the_cap_get_503(server):
    connections = server._http._connections
    taken = 0
    while connections.acquire(blocking=False):  # every free place but one, taken by the test
        taken += 1
    connections.release()
    idle = socket.create_connection(("127.0.0.1", server.rest_port), timeout=30)  # the last one
    try:
        time.sleep(0.5)
        reply = raw(server, b"GET /v1/models/x HTTP/1.1\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 503") and b"Retry-After: 5" in reply
    finally:
        idle.close()
        for _ in range(taken - 1):
            connections.release()


def test_an_abandoned_request_leaves_the_queue_and_the_next_one_runs(server):
    body = bytes_body(SMALL_IMAGE, SMALL_MASK)
    head = f"POST /v1/models/{NAME}:predict HTTP/1.1\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    budget = server.budget
    with budget.reserve(budget.memory_bytes, "the test, holding the whole budget"):
        with socket.create_connection(("127.0.0.1", server.rest_port), timeout=30) as sock:
            sock.sendall(head + body)
            deadline = time.monotonic() + 30
            while not budget._queue and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(budget._queue) == 1  # it waits for the budget
        while budget._queue and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not budget._queue  # its client left: it is dropped while the budget is still held
    assert request(server, "POST", f"/v1/models/{NAME}:predict", body)[0] == 200
