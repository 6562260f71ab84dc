"""The browser page's endpoint (`tfinpaint.serving.app.handle`), called directly."""

import copy
import io
import json
import uuid

import numpy as np
import pytest
from PIL import Image

from tfinpaint import artifacts
from tfinpaint.config import get_config
from tfinpaint.imagefiles import read_image
from tfinpaint.inference import KerasInpainter, inpaint
from tfinpaint.inference.baselines import BASELINES
from tfinpaint.models import build_generator
from tfinpaint.serving import app
from tfinpaint.serving.app import routes
from tfinpaint.serving.app.form import parse_form


def multipart(fields: dict) -> tuple[dict, bytes]:
    """(headers, body) of a multipart/form-data request; a bytes value is sent as a file."""
    boundary = uuid.uuid4().hex
    body = b""
    for name, value in fields.items():
        if isinstance(value, tuple):
            filename, data = value
            head = f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            head += "Content-Type: application/octet-stream\r\n"
        else:
            data = str(value).encode()
            head = f'Content-Disposition: form-data; name="{name}"\r\n'
        body += f"--{boundary}\r\n{head}\r\n".encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return {"Content-Type": f"multipart/form-data; boundary={boundary}"}, body


def png(array) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def decoded(body: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(body)))


@pytest.fixture(scope="module")
def paper1():
    return KerasInpainter(
        build_generator(
            get_config(1, "demo", ["model.width=4", "model.latent_channels=8", "model.max_side=64"])
        ),
        name="paper1_tiny",
    )


@pytest.fixture
def context(paper1):
    return app.AppContext(
        max_request_bytes=10_000_000, max_pixels=200_000, served={"paper1_tiny": lambda: paper1}
    )


@pytest.fixture
def no_default(monkeypatch, tmp_path):
    monkeypatch.setattr(artifacts, "DEFAULT_MODEL_PATH", str(tmp_path / "missing.keras"))


@pytest.fixture
def photo(photo_paths):
    with open(photo_paths[0], "rb") as f:
        return photo_paths[0], f.read()


def hole_mask(shape, box=(100, 140, 60, 120)) -> np.ndarray:
    hole = np.zeros(shape[:2], np.uint8)
    y0, y1, x0, x1 = box
    hole[y0:y1, x0:x1] = 255
    return hole


def installed_baselines() -> list[str]:
    """telea, ns, biharmonic, and patchmatch when its optional package is installed."""
    names = []
    for name, make in BASELINES.items():
        try:
            make()
        except ValueError:  # patchmatch without pypatchmatch: not offered
            continue
        names.append(name)
    assert names[:3] == ["telea", "ns", "biharmonic"]
    return names


def post(context, fields, path="/v1/app/inpaint"):
    headers, body = multipart(fields)
    return app.handle("POST", path, headers, body, context)


def error_of(answer) -> tuple[int, str]:
    status, headers, body = answer
    assert headers["Content-Type"] == "application/json"
    return status, json.loads(body)["error"]


def test_other_paths_are_not_the_pages(context):
    assert app.handle("GET", "/v1/models/paper1_tiny", {}, b"", context) is None
    assert app.handle("POST", "/v1/models/paper1_tiny:predict", {}, b"{}", context) is None


def test_page_and_its_files(context):
    status, headers, body = app.handle("GET", "/", {}, b"", context)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    for testid in (
        "image-input",
        "mask-canvas",
        "brush-size",
        "undo",
        "redo",
        "clear",
        "model-select",
        "run",
        "result-image",
        "download-result",
        "download-mask",
        "error",
    ):
        assert f'data-testid="{testid}"'.encode() in body
    for name, kind in (
        ("app.js", "text/javascript"),
        ("mask.js", "text/javascript"),
        ("server.js", "text/javascript"),
        ("files.js", "text/javascript"),
        ("app.css", "text/css"),
    ):
        status, headers, body = app.handle("GET", f"/app/{name}?v=1", {}, b"", context)
        assert status == 200 and headers["Content-Type"].startswith(kind) and body
    for bad in ("../__init__.py", "..%2F__init__.py", "form.py", "missing.js", ".hidden.js"):
        assert error_of(app.handle("GET", f"/app/{bad}", {}, b"", context))[0] == 404


def test_models_list_served_default_and_classical(context, monkeypatch, tmp_path, no_default):
    status, _, body = app.handle("GET", "/v1/app/models", {}, b"", context)
    listed = json.loads(body)
    assert status == 200
    assert [(m["name"], m["kind"], m["can_sample"], m["blend"]) for m in listed["models"]] == [
        ("paper1_tiny", "served", True, "none"),
        *[(name, "classical", False, "none") for name in installed_baselines()],
    ]
    assert listed["selected"] == "paper1_tiny"
    assert listed["limits"] == {"max_request_bytes": 10_000_000, "max_pixels": 200_000}
    # With the shipped model present, `default` is offered and picked first.
    path = str(tmp_path / "default.keras")
    build_generator(get_config(2, "demo", ["model.generator_width=8"])).save(path)
    monkeypatch.setattr(artifacts, "DEFAULT_MODEL_PATH", path)
    listed = json.loads(app.handle("GET", "/v1/app/models", {}, b"", context)[2])
    assert ("default", "default", False, "poisson") in [
        (m["name"], m["kind"], m["can_sample"], m["blend"]) for m in listed["models"]
    ]
    assert listed["selected"] == "default"


@pytest.mark.parametrize("model", ["telea", "ns", "biharmonic", "paper1_tiny"])
def test_inpaint_is_the_python_api_and_keeps_pixels_outside_the_hole(context, photo, model, paper1):
    path, data = photo
    image = read_image(path).rgb
    hole = hole_mask(image.shape)
    status, headers, body = post(
        context,
        {"image": ("photo.jpg", data), "mask": ("mask.png", png(hole)), "model": model, "blend": "none"},
    )
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert 'filename="photo_inpainted.png"' in headers["Content-Disposition"]
    result = decoded(body)
    assert result.shape == image.shape
    outside = hole == 0
    np.testing.assert_array_equal(result[outside], image[outside])
    assert np.any(result[~outside] != image[~outside])
    inpainter = paper1 if model == "paper1_tiny" else BASELINES[model]()
    np.testing.assert_array_equal(result, inpaint(image, hole, model=inpainter, blend="none"))


def test_seeded_samples_blending_and_jpeg(context, photo, paper1):
    path, data = photo
    image = read_image(path).rgb
    hole = hole_mask(image.shape)
    fields = {
        "image": ("photo.jpg", data),
        "mask": ("m.png", png(hole)),
        "model": "paper1_tiny",
        "blend": "none",
    }
    first = decoded(post(context, {**fields, "seed": "1"})[2])
    second = decoded(post(context, {**fields, "seed": "2"})[2])
    np.testing.assert_array_equal(
        first, inpaint(image, hole, model=paper1, blend="none", seed=1, sample=True)
    )
    assert np.any(first != second)
    classical = {**fields, "model": "telea"}  # the same code path, without a network's cost
    blended = decoded(post(context, {**classical, "blend": "poisson"})[2])
    np.testing.assert_array_equal(blended, inpaint(image, hole, model="telea", blend="poisson"))
    patched = decoded(post(context, {**classical, "blend": "patches"})[2])
    np.testing.assert_array_equal(patched, inpaint(image, hole, model="telea", blend="patches"))
    assert np.any(patched != blended)
    unsaid = decoded(post(context, {**classical, "blend": ""})[2])  # the model's own default
    np.testing.assert_array_equal(unsaid, inpaint(image, hole, model="telea"))
    status, headers, body = post(context, {**classical, "format": "jpeg"})
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(body)).format == "JPEG"


def test_alpha_is_kept(context):
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (64, 80, 4), np.uint8)
    hole = hole_mask(rgba.shape, (10, 30, 20, 50))
    status, _, body = post(
        context, {"image": ("a.png", png(rgba)), "mask": ("m.png", png(hole)), "model": "telea"}
    )
    result = decoded(body)
    assert status == 200 and result.shape == (64, 80, 4)
    np.testing.assert_array_equal(result[..., 3], rgba[..., 3])


def test_decode_answers_what_the_server_reads(context):
    rgba = np.zeros((6, 5, 4), np.uint8)
    rgba[..., 1] = 200
    rgba[2:, :, 3] = 255
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="TIFF")
    status, headers, body = post(context, {"image": ("scan.tif", buffer.getvalue())}, "/v1/app/decode")
    assert status == 200 and headers["Content-Type"] == "image/png"
    np.testing.assert_array_equal(decoded(body), rgba)


def test_errors_are_json_with_the_reason(context, photo):
    _, data = photo
    hole = png(hole_mask((256, 256)))
    cases = [
        ({"image": ("notes.txt", b"hello"), "mask": ("m.png", hole)}, 400, "image 'notes.txt': not an image"),
        ({"mask": ("m.png", hole)}, 400, "form field 'image': missing or empty"),
        ({"image": ("p.jpg", data), "mask": ("m.png", png(np.zeros((8, 8))))}, 400, "mask is 8x8 but image"),
        (
            {"image": ("p.jpg", data), "mask": ("m.png", hole), "model": "nope"},
            404,
            "model 'nope' is not offered",
        ),
        ({"image": ("p.jpg", data), "mask": ("m.png", hole), "blend": "soft"}, 400, "blend 'soft'"),
        ({"image": ("p.jpg", data), "mask": ("m.png", hole), "seed": "x"}, 400, "form field 'seed'"),
        (
            {"image": ("p.jpg", data), "mask": ("m.png", hole), "model": "telea", "seed": "3"},
            400,
            "cannot draw",
        ),
        ({"image": ("p.jpg", data), "mask": ("m.png", hole), "format": "gif"}, 400, "form field 'format'"),
    ]
    for fields, status, message in cases:
        answer = post(context, fields)
        assert error_of(answer)[0] == status, fields
        assert message in error_of(answer)[1], error_of(answer)
    big = png(np.zeros((500, 500, 3)))  # 250,000 pixels, above the context's 200,000
    status, message = error_of(post(context, {"image": ("big.png", big), "mask": ("m.png", hole)}))
    assert status == 400 and "500x500" in message and "above the cap of 200,000" in message
    status, message = error_of(
        app.handle("POST", "/v1/app/inpaint", {"content-type": "text/plain"}, b"x", context)
    )
    assert status == 400 and "expected multipart/form-data" in message
    answer = app.handle("GET", "/v1/app/inpaint", {}, b"", context)
    status, message = error_of(answer)
    assert status == 405 and "expected POST" in message and answer[1]["Allow"] == "POST"
    assert error_of(app.handle("GET", "/v1/app/nothing", {}, b"", context))[0] == 404


def test_form_parser_keeps_binary_parts_and_names():
    data = bytes(range(256)) * 40 + b"\r\n--not-the-boundary\r\n"
    headers, body = multipart({"image": ("café.png", data), "model": " telea "})
    form = parse_form(headers["Content-Type"], body)
    assert form["image"].data == data and form["image"].filename == "café.png"
    assert form["model"].text == "telea" and form["model"].filename is None


def test_a_model_that_cannot_load_is_listed_with_the_reason(no_default):
    def broken():
        raise OSError("saved_model.pb is truncated")

    context = app.AppContext(max_request_bytes=1000, max_pixels=1000, served={"broken": broken})
    listed = json.loads(app.handle("GET", "/v1/app/models", {}, b"", context)[2])
    assert listed["models"][0] == {
        "name": "broken",
        "kind": "served",
        "can_sample": False,
        "blend": "none",
        "error": "OSError: saved_model.pb is truncated",
    }
    assert [m["name"] for m in listed["models"][1:]] == installed_baselines()


def test_dilate_and_feather_change_only_what_they_say(context, photo):
    from tfinpaint import maskops

    path, data = photo
    image = read_image(path).rgb
    hole = hole_mask(image.shape) > 0
    fields = {"image": ("p.jpg", data), "mask": ("m.png", png(hole * 255)), "model": "telea", "blend": "none"}
    grown = maskops.dilate(hole, 6)
    result = decoded(post(context, {**fields, "dilate": "6"})[2])
    np.testing.assert_array_equal(result[~grown], image[~grown])
    assert np.any(result[grown & ~hole] != image[grown & ~hole])
    np.testing.assert_array_equal(result, inpaint(image, hole, model="telea", blend="none", dilate=6))
    feathered = decoded(post(context, {**fields, "feather": "4"})[2])
    ring = maskops.dilate(hole, 4)
    np.testing.assert_array_equal(feathered[~ring], image[~ring])
    np.testing.assert_array_equal(feathered, inpaint(image, hole, model="telea", blend="none", feather=4))
    for bad in ("-1", "2.5", "x"):
        status, message = error_of(post(context, {**fields, "dilate": bad}))
        assert status == 400 and message.startswith("form field 'dilate'")


def test_careless_inputs_get_400_naming_the_field(context, photo):
    _, data = photo
    hole = png(hole_mask((256, 256)))
    base = {"image": ("p.jpg", data), "mask": ("m.png", hole), "model": "telea"}
    cases = [
        ({**base, "dilate": "²"}, "form field 'dilate': '²'"),
        ({**base, "feather": "9" * 5000}, "form field 'feather'"),
        ({**base, "model": "paper1_tiny", "seed": "9" * 5000}, "form field 'seed'"),
        ({**base, "image": ("one.png", png(np.zeros((1, 1, 3))))}, "image 'one.png': 1x1 pixels"),
        (
            {**base, "image": ("drawing.eps", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 9 9\n")},
            "not an image",
        ),
    ]
    for fields, message in cases:
        status, error = error_of(post(context, fields))
        assert status == 400 and message in error, (fields.get("image")[0], error)
    status, error = error_of(post(context, {**base, "mask": ("m.png", png(np.zeros((8, 8))))}))
    assert status == 400 and "paint the mask on this photo" in error and "--resize-mask" not in error
    status, error = error_of(post(context, {"a": "b", **{f"f{i}": "x" for i in range(40)}}))
    assert status == 400 and "expected at most 32 fields" in error


def test_the_pages_warnings_reach_the_answer(context):
    deep = np.linspace(0, 65535, 64 * 80).reshape(64, 80).astype(np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(deep).save(buffer, format="PNG")
    status, headers, _ = post(context, {"image": ("deep.png", buffer.getvalue())}, "/v1/app/decode")
    assert status == 200
    assert any("scaled to 8 bits" in note for note in json.loads(headers["X-Tfinpaint-Warnings"]))
    empty = png(np.zeros((64, 80)))
    status, headers, _ = post(
        context, {"image": ("deep.png", buffer.getvalue()), "mask": ("m.png", empty), "model": "telea"}
    )
    notes = json.loads(headers["X-Tfinpaint-Warnings"])
    assert status == 200 and any("the mask is empty" in note for note in notes), notes


def test_work_beyond_the_budget_is_413_naming_the_limit(context, monkeypatch):
    rgb = np.random.default_rng(1).integers(0, 256, (400, 400, 3), np.uint8)
    huge_hole = png(hole_mask(rgb.shape, (10, 390, 10, 390)))  # 144,400 hole pixels
    status, error = error_of(
        post(context, {"image": ("a.png", png(rgb)), "mask": ("m.png", huge_hole), "model": "biharmonic"})
    )
    assert status == 413 and "model 'biharmonic' on a hole of 144,400 pixels" in error
    small = app.AppContext(
        max_request_bytes=10_000_000, max_pixels=200_000, budget=app.WorkBudget(1, 10 * 2**20, 1)
    )
    assert post(small, {"image": ("a.png", png(rgb))}, "/v1/app/decode")[0] == 200  # 1.6 MB fits
    status, error = error_of(
        post(small, {"image": ("a.png", png(rgb)), "mask": ("m.png", huge_hole), "model": "telea"})
    )
    assert (
        status == 413 and "inpainting a 400x400 image with 'telea'" in error and "--max-work-memory" in error
    )


def test_an_empty_blend_is_estimated_as_the_models_own(paper1):
    # A model whose own blend is patches: a request that leaves the blend empty gets patches, so
    # its estimate counts the patch search (a 400x400 photo: ~770 MB without it, ~789 MB with).
    patched = copy.copy(paper1)
    patched.blend = "patches"
    tight = app.AppContext(
        max_request_bytes=10_000_000,
        max_pixels=200_000,
        served={"patched": lambda: patched},
        budget=app.WorkBudget(1, 780 * 2**20, 1),
    )
    rgb = np.random.default_rng(2).integers(0, 256, (400, 400, 3), np.uint8)
    fields = {"image": ("a.png", png(rgb)), "mask": ("m.png", png(hole_mask(rgb.shape))), "model": "patched"}
    status, error = error_of(post(tight, {**fields, "blend": ""}))
    assert status == 413 and "inpainting a 400x400 image with 'patched'" in error
    assert post(tight, {**fields, "blend": "poisson"})[0] == 200


def test_an_internal_error_is_500_without_its_text(context, monkeypatch, photo, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret path /home/user/.cache")

    monkeypatch.setattr(routes, "inpaint", broken)
    _, data = photo
    status, error = error_of(
        post(
            context,
            {"image": ("p.jpg", data), "mask": ("m.png", png(hole_mask((256, 256)))), "model": "telea"},
        )
    )
    assert status == 500 and "secret" not in error and "server's log" in error
    # The details are the server's: its log has the exception, the client never sees it.
    assert "secret path /home/user/.cache" in caplog.text
