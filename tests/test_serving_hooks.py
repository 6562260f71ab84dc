"""The server's hooks: the browser page's handler on the REST port (its contract, its caps)
and the default model's one-time export."""

import http.client
import json
import sys

import numpy as np
import pytest
from helpers import served_copy

from tfinpaint import artifacts
from tfinpaint.serving import default_model
from tfinpaint.serving import server as server_module
from tfinpaint.serving.server import InpaintServer

NAME = "hooks"
MAX_BODY = 100_000


@pytest.fixture(scope="module")
def base_path(paper2_saved_model, tmp_path_factory):
    """The shared tiny export, served under this module's model name."""
    return served_copy(paper2_saved_model, tmp_path_factory.mktemp("hooks") / NAME)


class FakePage:
    """A page handler keeping to the contract: answers `/` and `/v1/app/…`, None elsewhere."""

    def __init__(self):
        self.calls = []

    def handle(self, method, path, headers, body, context, gone):
        self.calls.append((method, path, body))
        if path == "/":
            return 200, {"Content-Type": "text/html", "Content-Length": "999"}, b"<p>page</p>"
        if path == "/v1/app/echo":
            answer = {
                "method": method,
                "body": len(body),
                "type": {k.lower(): v for k, v in headers.items()}.get("content-type"),
                "max_request_bytes": context.max_request_bytes,
                "max_pixels": context.max_pixels,
                "served": sorted(context.served),
            }
            return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()
        if path == "/v1/app/inpaint":
            inpainter = context.served[NAME]()
            image = np.full((1, 40, 40, 3), 0.5, np.float32)
            mask = np.zeros((1, 40, 40, 1), np.float32)
            mask[:, 10:20, 10:20] = 1
            with context.budget.reserve(1000, "the fake page's fill", gone):
                out = inpainter.inpaint_batch(image, mask)
            return 200, {"Content-Type": "application/json"}, json.dumps(list(out.shape)).encode()
        return None


@pytest.fixture(scope="module")
def page():
    return FakePage()


@pytest.fixture(scope="module")
def server(base_path, page):
    server = InpaintServer(
        base_path,
        port=0,
        grpc_port=None,
        max_request_bytes=MAX_BODY,
        max_pixels=4000,
        page_max_pixels=5000,
        poll_seconds=3600,
    )
    with pytest.MonkeyPatch.context() as patch:  # the page is looked up once, at start
        patch.setattr(server_module, "browser_page", lambda: page)
        server.start()
    yield server
    server.stop()


def request(server, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=120)
    try:
        connection.request(method, path, body, headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_page_routes_come_first(server, page):
    status, headers, body = request(server, "GET", "/")
    assert (status, headers["Content-Type"], body) == (200, "text/html", b"<p>page</p>")
    assert headers["Content-Length"] == str(len(body))  # the server's, not the handler's
    assert server.page_url == f"http://127.0.0.1:{server.rest_port}/"
    status, _, body = request(
        server, "POST", "/v1/app/echo", b"x" * 1234, {"Content-Type": "multipart/form-data"}
    )
    assert status == 200
    assert json.loads(body) == {
        "method": "POST",
        "body": 1234,
        "type": "multipart/form-data",
        "max_request_bytes": MAX_BODY,
        "max_pixels": 5000,
        "served": [NAME],
    }


def test_tf_serving_routes_still_answer(server, page):
    before = len(page.calls)
    status, _, body = request(server, "GET", f"/v1/models/{NAME}")
    assert status == 200 and json.loads(body)["model_version_status"][0]["state"] == "AVAILABLE"
    assert page.calls[before][1] == f"/v1/models/{NAME}"  # asked first, it declined


def test_page_routes_keep_the_request_caps(server, page):
    before = len(page.calls)
    status, headers, body = request(server, "POST", "/v1/app/echo", b"x" * (MAX_BODY + 1))
    assert status == 413 and headers["Content-Type"] == "application/json"
    assert "--max-request-bytes" in json.loads(body)["error"]
    assert len(page.calls) == before  # refused before the handler saw it


def test_page_gets_the_served_model_and_the_budget(server):
    status, _, body = request(server, "POST", "/v1/app/inpaint", b"")
    assert status == 200 and json.loads(body) == [1, 40, 40, 3]
    assert server.app_context().budget is server.predictor.budget is server.budget


def test_no_page_module_means_no_page_routes(base_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tfinpaint.serving.app", None)  # as if not installed
    assert server_module.browser_page() is None
    with InpaintServer(base_path, port=0, grpc_port=None, poll_seconds=3600) as server:
        assert server.page_url is None
        status, _, body = request(server, "GET", "/")
        assert status == 404 and "Malformed request" in json.loads(body)["error"]


def test_a_page_missing_a_dependency_is_an_error(monkeypatch):
    def fail(name, *args, **kwargs):
        raise ModuleNotFoundError("No module named 'PIL'", name="PIL")

    monkeypatch.setattr(server_module.importlib, "import_module", fail)
    with pytest.raises(ModuleNotFoundError, match="PIL"):
        server_module.browser_page()


def test_default_model_is_exported_once(paper2_generator, tmp_path, monkeypatch):
    keras_path = str(tmp_path / "default.keras")
    paper2_generator.save(keras_path)
    monkeypatch.setattr(artifacts, "DEFAULT_MODEL_PATH", keras_path)
    said = []
    base = default_model.default_base_path(str(tmp_path / "cache"), say=said.append)
    assert len(said) == 1 and "exporting the default model" in said[0]
    assert sorted(p.name for p in (tmp_path / "cache" / "serving").iterdir()) == [base.split("/")[-1]]
    assert default_model.default_base_path(str(tmp_path / "cache"), say=said.append) == base
    assert len(said) == 1  # reused, not exported again
    monkeypatch.setattr(artifacts, "DEFAULT_MODEL_PATH", str(tmp_path / "missing.keras"))
    with pytest.raises(FileNotFoundError, match="--model-base-path"):
        default_model.default_base_path(str(tmp_path / "cache"))
