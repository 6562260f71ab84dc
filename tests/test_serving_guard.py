"""What a web page or a careless client cannot make `tfinpaint serve` do: the work budget,
same-origin checks, bind errors, undocumented formats (issue 22)."""

import socket
import threading

import numpy as np
import pytest
from PIL import Image

from tfinpaint.imagefiles import ImageError, read_image
from tfinpaint.postprocess import PATCH_WINDOW
from tfinpaint.serving import estimates
from tfinpaint.serving.budget import DEFAULT_MAX_WORK_BYTES, ClientGone, WorkBudget
from tfinpaint.serving.errors import ServingError
from tfinpaint.serving.grpc_service import start_grpc_server
from tfinpaint.serving.http_server import RestServer
from tfinpaint.serving.origin import Refusal, check_request, normalise_origin

EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n0 0 moveto 10 10 lineto stroke\n%%EOF\n"


def test_work_above_the_budget_is_413_and_a_full_queue_503():
    budget = WorkBudget(slots=1, memory_bytes=1000, max_waiting=0)
    with pytest.raises(ServingError) as error:
        with budget.reserve(1001, "a 10000x10000 image"):
            pass
    assert error.value.http_status == 413 and "a 10000x10000 image" in error.value.message
    assert "--max-work-memory" in error.value.message
    with budget.reserve(600, "first"):
        with pytest.raises(ServingError) as error:
            with budget.reserve(10, "second"):
                pass
    assert error.value.http_status == 503 and error.value.headers()["Retry-After"] == "5"
    assert (budget.running, budget.reserved) == (0, 0)


def test_a_waiting_request_whose_client_left_leaves_the_queue():
    budget = WorkBudget(slots=2, memory_bytes=1000, max_waiting=4)
    left = threading.Event()
    outcome = []

    def wait_then_leave():
        try:
            with budget.reserve(600, "second", gone=left.is_set):
                outcome.append("ran")
        except ClientGone:
            outcome.append("dropped")

    with budget.reserve(600, "first"):  # memory, not slots, makes the second one wait
        waiter = threading.Thread(target=wait_then_leave)
        waiter.start()
        left.set()
        waiter.join(30)
    assert outcome == ["dropped"] and budget.reserved == 0 and not budget._queue
    with budget.reserve(1000, "the whole budget, once free"):
        assert budget.running == 1


def test_requests_from_other_sites_and_hosts_are_refused():
    def check(headers, method="POST", host="127.0.0.1", allowed=()):
        return check_request(headers, method, host, 8501, allowed)

    own = {"Host": "127.0.0.1:8501"}
    assert check(own) is None
    assert check({**own, "Origin": "http://127.0.0.1:8501", "Sec-Fetch-Site": "same-origin"}) is None
    assert check({"Host": "localhost:8501", "Origin": "http://localhost:8501"}) is None
    assert check({}) is None  # curl, Python clients: neither header
    refused = [
        ({**own, "Origin": "http://evil.example"}, 403),
        ({**own, "Origin": "null"}, 403),
        ({**own, "Sec-Fetch-Site": "cross-site"}, 403),
        ({"Host": "evil.example:8501"}, 421),  # DNS rebinding
        ({"Host": "127.0.0.1:9999"}, 421),
    ]
    for headers, status in refused:
        with pytest.raises(Refusal) as error:
            check(headers)
        assert error.value.status == status, headers
    # A link from another site still opens the page; --allow-origin lets a named page in.
    assert check({**own, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, "GET") is None
    allowed = (normalise_origin("http://LOCALHOST:3000/"),)
    assert check({**own, "Origin": "http://localhost:3000"}, allowed=allowed) == "http://localhost:3000"
    # Bound to every interface: the machine's addresses are its names, a domain is not.
    assert check({"Host": "192.168.1.7:8501"}, host="0.0.0.0") is None
    with pytest.raises(Refusal):
        check({"Host": "rebind.evil.example:8501"}, host="0.0.0.0")
    with pytest.raises(ValueError, match="--allow-origin"):
        normalise_origin("localhost:3000")


def test_a_grpc_port_in_use_is_an_error_naming_it():
    first, port = start_grpc_server("127.0.0.1", 0, predictor=None, max_request_bytes=1000, workers=1)
    try:
        with pytest.raises(OSError, match=f"127.0.0.1:{port}.*--grpc-port"):
            start_grpc_server("127.0.0.1", port, predictor=None, max_request_bytes=1000, workers=1)
    finally:
        first.stop(grace=None)


def test_eps_is_refused_without_running_any_program(monkeypatch, tmp_path):
    import subprocess

    def no_programs(*args, **kwargs):
        raise AssertionError(f"a program was started: {args}")

    monkeypatch.setattr(subprocess, "Popen", no_programs)
    path = tmp_path / "drawing.eps"
    path.write_bytes(EPS)
    for source in (str(path), EPS):
        with pytest.raises(ImageError, match="expected PNG, JPEG, WebP, BMP, TIFF or GIF"):
            read_image(source, name="drawing.eps")


def test_the_documented_formats_still_read(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (9, 11, 3), np.uint8)
    for fmt in ("PNG", "BMP", "TIFF", "WEBP", "GIF", "JPEG"):
        path = tmp_path / f"x.{fmt.lower()}"
        Image.fromarray(rgb).save(path, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
        assert read_image(str(path)).rgb.shape == (9, 11, 3), fmt


def test_a_rest_port_in_use_is_an_error_naming_it():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        with pytest.raises(OSError, match=f"127.0.0.1:{port}.*--port"):
            RestServer(
                ("127.0.0.1", port), predictor=None, max_request_bytes=1000, budget=WorkBudget.default()
            )
    finally:
        holder.close()


def test_the_patches_blend_is_counted_in_the_pages_estimate_one_window_at_a_time():
    def extra(pixels):
        return estimates.page_inpaint_bytes(pixels, classical=True, blend="patches") - (
            estimates.page_inpaint_bytes(pixels, classical=True, blend="poisson")
        )

    assert extra(1_000_000) == 1_000_000 * estimates.PATCHES_BYTES_PER_PIXEL
    assert extra(48_000_000) == PATCH_WINDOW**2 * estimates.PATCHES_BYTES_PER_PIXEL
    # The default model's own blend on a 48-megapixel photo fits the default budget.
    assert (
        estimates.page_inpaint_bytes(48_000_000, classical=False, blend="patches") <= DEFAULT_MAX_WORK_BYTES
    )
