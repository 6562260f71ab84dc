"""The page of `tfinpaint serve` in a real browser: Debian's chromium driven by Playwright.

The server runs in-process on a free port, serving a tiny paper-2 export, with a tiny paper-1
generator as the `default` model (so "another sample" is offered; a paper-1 export would cost
a minute of tracing here). Set TFINPAINT_NO_BROWSER=1 to
skip these tests on a machine without chromium; CI installs it and runs them.
"""

import base64
import io
import os
import re

import cv2
import numpy as np
import pytest
from PIL import Image

from tfinpaint import artifacts
from tfinpaint.config import get_config
from tfinpaint.imagefiles import read_image
from tfinpaint.models import build_generator
from tfinpaint.serving.server import InpaintServer

if os.environ.get("TFINPAINT_NO_BROWSER"):
    pytest.skip("TFINPAINT_NO_BROWSER is set: no browser tests", allow_module_level=True)

CHROMIUM = os.environ.get("TFINPAINT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MAX_REQUEST_BYTES = 3_000_000
SERVED = "paper2_tiny"


@pytest.fixture(scope="module")
def server(paper2_saved_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("app")
    base = os.path.dirname(paper2_saved_model)  # the shared export, named paper2_tiny; served only
    default = str(root / "default.keras")
    paper1 = build_generator(
        get_config(1, "demo", ["model.width=4", "model.latent_channels=8", "model.max_side=64"])
    )
    paper1.save(default)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(artifacts, "DEFAULT_MODEL_PATH", default)
        with InpaintServer(
            base,
            port=0,
            grpc_port=None,
            max_request_bytes=MAX_REQUEST_BYTES,
        ) as running:  # the page's pixel cap is the default: the 12 MP photo must pass it
            yield running


@pytest.fixture(scope="module")
def browser():
    if not os.path.isfile(CHROMIUM):
        pytest.fail(
            f"{CHROMIUM}: no chromium; install it (apt-get install -y chromium), point "
            "TFINPAINT_CHROMIUM at one, or set TFINPAINT_NO_BROWSER=1 to skip the browser tests"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, server, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    opened = context.new_page()
    failures = []
    opened.on("pageerror", lambda error: failures.append(str(error)))
    opened.goto(f"http://127.0.0.1:{server.rest_port}/")
    # The list loads the served model once (seconds; minutes on a machine busy training).
    opened.wait_for_function(
        "document.querySelector('[data-testid=model-select]').value !== ''", timeout=180_000
    )
    yield opened
    opened.screenshot(path=str(tmp_path / "last.png"))
    context.close()
    assert not failures, failures


# ---- helpers ----------------------------------------------------------------------------------


def by_id(page, name):
    return page.locator(f"[data-testid={name}]")


def open_photo(page, path):
    by_id(page, "image-input").set_input_files(path)
    # The status line names the photo once it is open.
    page.wait_for_function(
        "(name) => document.getElementById('status-text').innerText.startsWith(name + ':')",
        arg=os.path.basename(path),
    )


def canvas_origin(page):
    """The mask canvas's top-left in page pixels; asserts it is shown at 1:1, on whole pixels."""
    size = page.evaluate(
        "(() => { const c = document.getElementById('mask-canvas'); return [c.width, c.height]; })()"
    )
    box = by_id(page, "mask-canvas").bounding_box()
    assert (box["width"], box["height"]) == tuple(size)
    assert box["x"] == int(box["x"]) and box["y"] == int(box["y"])
    return box["x"], box["y"]


def paint(page, points, size, tool="brush"):
    """One stroke through image points [(x, y), …] with a brush of `size` image pixels."""
    by_id(page, "brush" if tool == "brush" else "eraser").click()
    by_id(page, "brush-size").fill(str(size))
    left, top = canvas_origin(page)
    page.mouse.move(left + points[0][0], top + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(left + x, top + y)
    page.mouse.up()


def stroke_pixels(shape, points, size):
    """What the page's brush marks: pixels whose centre is within size/2 of the polyline
    (the same arithmetic as `segment` in mask.js)."""
    radius = size / 2
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]]
    px, py = xs + 0.5, ys + 0.5
    marked = np.zeros(shape[:2], bool)
    for (x0, y0), (x1, y1) in [(points[0], points[0])] + list(zip(points, points[1:])):
        dx, dy = x1 - x0, y1 - y0
        length2 = dx * dx + dy * dy
        t = ((px - x0) * dx + (py - y0) * dy) / length2 if length2 > 0 else np.zeros_like(px, float)
        t = np.clip(t, 0, 1)
        qx, qy = x0 + t * dx - px, y0 + t * dy - py
        marked |= qx * qx + qy * qy <= radius * radius
    return marked


def download(page, name) -> bytes:
    with page.expect_download() as event:
        by_id(page, name).click()
    with open(event.value.path(), "rb") as f:
        return f.read()


def downloaded_mask(page) -> np.ndarray:
    values = np.asarray(Image.open(io.BytesIO(download(page, "download-mask"))).convert("L"))
    assert set(np.unique(values)) <= {0, 255}
    return values == 255


def result_src_bytes(page) -> bytes:
    src = by_id(page, "result-image").get_attribute("src")
    encoded = page.evaluate(
        """async (src) => {
            const bytes = new Uint8Array(await (await fetch(src)).arrayBuffer());
            let text = "";
            for (let i = 0; i < bytes.length; i += 8192) {
                text += String.fromCharCode(...bytes.subarray(i, i + 8192));
            }
            return btoa(text);
        }""",
        src,
    )
    return base64.b64decode(encoded)


def run(page, model, blend="none", button="run"):
    """Press Run (or another button) and wait for a new result or an error."""
    if model is not None:
        by_id(page, "model-select").select_option(model)
        by_id(page, "blend").select_option(blend)
    before = by_id(page, "result-image").get_attribute("src")
    by_id(page, button).click()
    page.wait_for_function(
        """(before) => {
            const result = document.querySelector('[data-testid=result-image]');
            const error = document.querySelector('[data-testid=error]');
            const src = result.getAttribute('src');
            const fresh = src && src !== before && !result.hidden;
            return !document.body.dataset.busy && (fresh || !error.hidden);
        }""",
        arg=before,
        timeout=180_000,
    )


def error_text(page) -> str:
    error = by_id(page, "error")
    return "" if error.is_hidden() else error.inner_text()


def result_image(page) -> np.ndarray:
    data = download(page, "download-result")
    assert data == result_src_bytes(page)  # the shown result is the downloaded PNG
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return np.asarray(image)


def write_jpeg(path, rgb, quality=92):
    Image.fromarray(rgb).save(path, format="JPEG", quality=quality)
    return str(path)


# ---- tests ------------------------------------------------------------------------------------


def test_paint_run_and_every_pixel_outside_the_strokes_is_the_photos(page, photo_paths, tmp_path):
    photo = photo_paths[0]
    rgb = read_image(photo).rgb
    open_photo(page, photo)
    strokes = [([(40, 60), (120, 70), (150, 110)], 14), ([(200, 30), (200, 90)], 9)]
    for points, size in strokes:
        paint(page, points, size)
    painted = np.zeros(rgb.shape[:2], bool)
    for points, size in strokes:
        painted |= stroke_pixels(rgb.shape, points, size)
    np.testing.assert_array_equal(downloaded_mask(page), painted)
    page.screenshot(path=str(tmp_path / "painted.png"))

    run(page, "telea", blend="none")
    assert error_text(page) == ""
    page.screenshot(path=str(tmp_path / "result.png"))
    result = result_image(page)
    assert result.shape == rgb.shape
    np.testing.assert_array_equal(result[~painted], rgb[~painted])
    assert np.mean(np.any(result[painted] != rgb[painted], axis=-1)) > 0.5
    assert not by_id(page, "download-jpeg").is_hidden()  # a JPEG input offers a JPEG download
    jpeg = Image.open(io.BytesIO(download(page, "download-jpeg")))
    assert jpeg.format == "JPEG" and jpeg.size == (rgb.shape[1], rgb.shape[0])


def test_undo_redo_eraser_and_clear_change_the_downloaded_mask(page, photo_paths):
    open_photo(page, photo_paths[1])
    shape = (256, 256)
    first = stroke_pixels(shape, [(30, 30), (100, 40)], 12)
    second = stroke_pixels(shape, [(60, 150), (60, 220)], 20)
    paint(page, [(30, 30), (100, 40)], 12)
    paint(page, [(60, 150), (60, 220)], 20)
    np.testing.assert_array_equal(downloaded_mask(page), first | second)
    page.keyboard.press("Control+z")
    np.testing.assert_array_equal(downloaded_mask(page), first)
    by_id(page, "redo").click()
    np.testing.assert_array_equal(downloaded_mask(page), first | second)
    by_id(page, "undo").click()
    np.testing.assert_array_equal(downloaded_mask(page), first)
    page.keyboard.press("Control+Shift+z")
    np.testing.assert_array_equal(downloaded_mask(page), first | second)
    erased = stroke_pixels(shape, [(20, 35), (110, 35)], 8)
    paint(page, [(20, 35), (110, 35)], 8, tool="eraser")
    np.testing.assert_array_equal(downloaded_mask(page), (first | second) & ~erased)
    by_id(page, "clear").click()
    assert not downloaded_mask(page).any()
    page.keyboard.press("Control+z")
    np.testing.assert_array_equal(downloaded_mask(page), (first | second) & ~erased)


def test_brush_size_slider_and_keys(page, photo_paths):
    open_photo(page, photo_paths[0])
    size = by_id(page, "brush-size")
    size.fill("40")
    page.keyboard.press("]")
    assert int(size.input_value()) == 46
    page.keyboard.press("[")
    page.keyboard.press("[")
    assert int(size.input_value()) == 33
    assert page.inner_text("#brush-size-value") == "33"


@pytest.mark.parametrize("kind", ["grey", "alpha"])
def test_an_uploaded_mask_file_is_used_as_painted(page, photo_paths, tmp_path, kind):
    from tfinpaint.inference import inpaint

    photo = photo_paths[2]
    rgb = read_image(photo).rgb
    hole = np.zeros(rgb.shape[:2], np.uint8)
    cv2.ellipse(hole, (128, 120), (50, 30), 20, 0, 360, 255, -1)
    path = tmp_path / "mask.png"
    if kind == "grey":
        Image.fromarray(hole).save(path)
    else:  # painted strokes on a transparent layer, as an editor saves them
        rgba = np.zeros((*hole.shape, 4), np.uint8)
        rgba[hole > 0] = 255
        Image.fromarray(rgba, "RGBA").save(path)
    open_photo(page, photo)
    by_id(page, "mask-input").set_input_files(str(path))
    np.testing.assert_array_equal(downloaded_mask(page), hole > 0)
    grow = 3 if kind == "alpha" else 0  # the Grow field is `tfinpaint inpaint --dilate`
    by_id(page, "dilate").fill(str(grow))
    run(page, "telea", blend="none")
    expected = inpaint(rgb, hole > 0, model="telea", blend="none", dilate=grow)
    np.testing.assert_array_equal(result_image(page), expected)


def test_errors_show_the_servers_message(page, photo_paths, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    open_photo_input = by_id(page, "image-input")
    open_photo_input.set_input_files(str(notes))
    expect_message = "image 'notes.txt': not an image Pillow can read"
    page.wait_for_function("!document.querySelector('[data-testid=error]').hidden")
    assert error_text(page).startswith(expect_message)

    # A real photo above the request cap: the browser shows it, the server refuses it.
    noise = np.random.default_rng(1).integers(0, 256, (1100, 1100, 3), np.uint8)
    big = tmp_path / "big.png"
    Image.fromarray(noise).save(big)
    assert big.stat().st_size > MAX_REQUEST_BYTES
    open_photo(page, str(big))
    assert error_text(page) == ""  # opening a new photo clears the last error
    by_id(page, "zoom").select_option("1")
    page.evaluate("document.getElementById('viewport').scrollTo(0, 0)")
    paint(page, [(50, 50), (90, 60)], 10)
    run(page, "telea")
    message = error_text(page)
    assert re.fullmatch(
        rf"request body of \d+ bytes exceeds this server's limit of {MAX_REQUEST_BYTES} bytes "
        r"\(--max-request-bytes\)",
        message,
    ), message

    # A mask of another size is refused with the sizes, before anything is sent.
    open_photo(page, photo_paths[0])
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(small)
    by_id(page, "mask-input").set_input_files(str(small))
    page.wait_for_function("!document.querySelector('[data-testid=error]').hidden")
    assert "mask is 12x10 but the photo is 256x256" in error_text(page)
    by_id(page, "run").click()
    page.wait_for_function(
        "document.querySelector('[data-testid=error]').innerText.includes('mask is empty')"
    )


def test_a_12_megapixel_photo_comes_back_at_full_size(page, photo_paths, tmp_path):
    rgb = cv2.resize(read_image(photo_paths[3]).rgb, (4000, 3000), interpolation=cv2.INTER_CUBIC)
    photo = write_jpeg(tmp_path / "large.jpg", rgb)
    rgb = read_image(photo).rgb  # the JPEG's own pixels
    open_photo(page, photo)
    box = by_id(page, "mask-canvas").bounding_box()
    assert box["width"] < 4000  # shown scaled to fit, painted at full resolution
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.52)
    page.mouse.up()
    hole = downloaded_mask(page)
    assert hole.shape == (3000, 4000) and 0 < hole.mean() < 0.01
    run(page, "telea", blend="none")
    assert error_text(page) == ""
    result = result_image(page)
    assert result.shape == (3000, 4000, 3)
    np.testing.assert_array_equal(result[~hole], rgb[~hole])


def test_another_sample_compare_and_painting_on_the_result(page, photo_paths, tmp_path):
    photo = photo_paths[4]
    rgb = read_image(photo).rgb
    open_photo(page, photo)
    points, size = [(80, 80), (160, 120)], 24
    first_hole = stroke_pixels(rgb.shape, points, size)
    paint(page, points, size)
    assert by_id(page, "another-sample").is_hidden()
    run(page, "default", blend="none")  # a paper-1 model here
    first = result_image(page)
    np.testing.assert_array_equal(first[~first_hole], rgb[~first_hole])

    # A paper-1 model draws another sample for the same photo and mask.
    assert by_id(page, "another-sample").is_visible()
    run(page, None, button="another-sample")
    sample = result_image(page)
    np.testing.assert_array_equal(sample[~first_hole], rgb[~first_hole])
    assert np.any(sample[first_hole] != first[first_hole])
    assert "sample 1" in page.inner_text("#status")

    # Hold the compare button (or C) to see the original.
    compare = by_id(page, "compare")
    compare.hover()
    page.mouse.down()
    assert by_id(page, "result-image").is_hidden() and page.locator("#photo").is_visible()
    page.mouse.up()
    assert by_id(page, "result-image").is_visible()
    page.keyboard.down("c")
    assert by_id(page, "result-image").is_hidden()
    page.keyboard.up("c")
    assert by_id(page, "result-image").is_visible()

    # Paint on the result and run again: the second run starts from the first result.
    second_hole = stroke_pixels(rgb.shape, [(30, 200), (60, 230)], 16)
    paint(page, [(30, 200), (60, 230)], 16)
    np.testing.assert_array_equal(downloaded_mask(page), second_hole)
    run(page, "telea", blend="none")
    again = result_image(page)
    np.testing.assert_array_equal(again[~second_hole], sample[~second_hole])
    page.screenshot(path=str(tmp_path / "again.png"))

    # Undo the run: the first result and the strokes painted on it come back.
    page.keyboard.press("Control+z")
    np.testing.assert_array_equal(downloaded_mask(page), second_hole)
    np.testing.assert_array_equal(result_image(page), sample)


def test_default_is_picked_blending_follows_the_model_and_a_served_model_runs(page, photo_paths):
    assert by_id(page, "model-select").input_value() == "default"
    # The blend starts as each model's own: Poisson for paper 2's, none for paper 1's and for
    # the classical fills.
    assert by_id(page, "blend").input_value() == "none"
    by_id(page, "model-select").select_option(SERVED)
    assert by_id(page, "blend").input_value() == "poisson"
    by_id(page, "model-select").select_option("telea")
    assert by_id(page, "blend").input_value() == "none"
    photo = photo_paths[5]
    rgb = read_image(photo).rgb
    open_photo(page, photo)
    paint(page, [(100, 100), (140, 150)], 30)
    hole = stroke_pixels(rgb.shape, [(100, 100), (140, 150)], 30)
    run(page, SERVED, blend="poisson")
    result = result_image(page)
    assert result.shape == rgb.shape
    # Poisson blending changes nothing outside the hole (4 px of slack: the page's brush edge
    # may differ from stroke_pixels' by a pixel or two).
    near = cv2.dilate(hole.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    np.testing.assert_array_equal(result[~near], rgb[~near])
    assert np.any(result[hole] != rgb[hole])


def test_drop_paste_and_a_format_the_browser_cannot_show(page, photo_paths, tmp_path):
    with open(photo_paths[6], "rb") as f:
        encoded = base64.b64encode(f.read()).decode()
    for how in ("drop", "paste"):
        page.evaluate(
            """([encoded, how]) => {
                const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
                const transfer = new DataTransfer();
                transfer.items.add(new File([bytes], how + ".jpg", { type: "image/jpeg" }));
                const options = { bubbles: true, cancelable: true };
                const event = how === "drop"
                    ? new DragEvent("drop", { dataTransfer: transfer, ...options })
                    : new ClipboardEvent("paste", { clipboardData: transfer, ...options });
                document.getElementById("viewport").dispatchEvent(event);
            }""",
            [encoded, how],
        )
        page.wait_for_function(f"document.getElementById('status-text').innerText.startsWith('{how}.jpg')")
        assert page.locator("#photo").is_visible()
        assert page.evaluate("document.getElementById('mask-canvas').width") == 256

    # TIFF: the browser cannot show it, the server reads it (EXIF rotation included).
    rgb = read_image(photo_paths[6]).rgb[:, :200]
    tiff = tmp_path / "scan.tif"
    Image.fromarray(rgb).save(tiff, format="TIFF")
    open_photo(page, str(tiff))
    assert page.evaluate(
        "[document.getElementById('mask-canvas').width, document.getElementById('mask-canvas').height]"
    ) == [200, 256]
    paint(page, [(50, 50), (120, 60)], 12)
    hole = stroke_pixels(rgb.shape, [(50, 50), (120, 60)], 12)
    run(page, "telea", blend="none")
    result = result_image(page)
    np.testing.assert_array_equal(result[~hole], rgb[~hole])


def test_an_exif_rotated_photo_is_painted_as_shown(page, photo_paths, tmp_path):
    stored = read_image(photo_paths[7]).rgb[:120, :200]
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: shown rotated 90° clockwise
    path = tmp_path / "phone.jpg"
    Image.fromarray(stored).save(path, format="JPEG", quality=95, exif=exif)
    rgb = read_image(str(path)).rgb  # upright, as the server reads it
    assert rgb.shape == (200, 120, 3)
    open_photo(page, str(path))
    points = [(30, 40), (90, 150)]
    paint(page, points, 14)
    hole = stroke_pixels(rgb.shape, points, 14)
    np.testing.assert_array_equal(downloaded_mask(page), hole)
    run(page, "telea", blend="none")
    result = result_image(page)
    assert result.shape == rgb.shape
    np.testing.assert_array_equal(result[~hole], rgb[~hole])
