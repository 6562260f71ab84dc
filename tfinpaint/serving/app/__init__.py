"""The browser page of `tfinpaint serve`: open a photo, paint the mask, get the result.

`handle(method, path, headers, body, context)` answers the page's routes and returns None for
every other path, so the server's TF Serving routes stay as they are:

- `GET  /` -> the page; `GET /app/<file>` -> its script and style (shipped in `static/`).
- `GET  /v1/app/models` -> `{"models": [{"name", "kind", "can_sample", "blend"}, …], "selected": name,
  "limits": {"max_request_bytes", "max_pixels"}}`: the served models, `default` (when this
  install ships it) and the classical fills telea, ns, biharmonic (patchmatch when installed).
- `POST /v1/app/inpaint`, multipart/form-data: `image` (any file `tfinpaint inpaint` reads),
  `mask` (white = hole, the image's size), `model` (a name from the list; default `selected`),
  `blend` (`poisson` | `patches` | `none`; empty = the model's default), `seed` (empty = the
  model's deterministic completion, an integer = that random sample, for models that can sample), `dilate` and
  `feather` (pixels, default 0: grow the hole; blend the fill in over a ring, as
  `tfinpaint inpaint --dilate/--feather`), `format` (`png`, default, or `jpeg`). Answers the
  completed image — PNG keeps the input's alpha — through `tfinpaint.inference.inpaint`, the
  code of `tfinpaint inpaint`.
- `POST /v1/app/decode`, multipart `image` -> the image as the server reads it, as PNG (for
  formats a browser cannot show, such as TIFF).

Both POSTs take a place in the server's `WorkBudget` before they decode anything (their
estimate from the pixels the files' headers declare) and stop at the next stage once the
client has gone. What the server warns about (16-bit scaled, animated, nothing changed)
comes back in the header `X-Tfinpaint-Warnings`, a JSON list of messages.

Errors answer `{"error": "…"}` with 400 (bad input, images above `max_pixels`), 404 (unknown
model or route), 405, 413 (work above the budget), 503 with `Retry-After` (busy) or 500 (a
generic message; the details go to the server's log). The caller enforces
`max_request_bytes` (413) before it reads a body, as for its own routes.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re

import numpy as np
from PIL import Image

from tfinpaint import maskops
from tfinpaint.imagefiles import ImageError, LoadedImage, declared_size, read_image, read_mask
from tfinpaint.inference import inpaint
from tfinpaint.inference.baselines import hole_window
from tfinpaint.serving import estimates
from tfinpaint.serving.app import notes
from tfinpaint.serving.app.form import FormError, FormField, parse_form
from tfinpaint.serving.app.models import CLASSICAL_NAMES, ModelCatalog, UnknownModelError
from tfinpaint.serving.app_context import AppContext
from tfinpaint.serving.budget import ClientGone, WorkBudget, megabytes
from tfinpaint.serving.errors import ServingError

__all__ = ["AppContext", "WorkBudget", "handle", "is_page_path"]

log = logging.getLogger("tfinpaint.serve.app")

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
_STATIC_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
# PNG level 3 writes a 12-megapixel result in a third of level 6's time for ~1 % more bytes.
_PNG_COMPRESS_LEVEL = 3
_JPEG_QUALITY = 95
# `dilate` and `feather` beyond this many pixels are refused: the page's slider stops far below.
_MAX_GROW_PIXELS = 1000
_MAX_SEED = 2**31 - 1
_DIGITS = re.compile(r"^-?[0-9]{1,12}$")
# Smaller photos leave a network no context (its graph fails on a 1x1 input): refused by name.
_MIN_SIDE = 8

Response = tuple[int, dict, bytes]


class _AppError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _json(status: int, payload: dict) -> Response:
    return status, {"Content-Type": "application/json"}, json.dumps(payload).encode("utf-8")


def _static(name: str) -> Response:
    path = os.path.join(STATIC_DIR, name)
    extension = os.path.splitext(name)[1]
    if not _STATIC_NAME.match(name) or extension not in _CONTENT_TYPES or not os.path.isfile(path):
        raise _AppError(404, f"no file {name!r} in the page's files")
    with open(path, "rb") as f:
        body = f.read()
    return 200, {"Content-Type": _CONTENT_TYPES[extension], "Cache-Control": "no-cache"}, body


def _models(context: AppContext) -> Response:
    catalog = ModelCatalog(context.served)
    return _json(
        200,
        {
            "models": catalog.names(),
            "selected": catalog.preferred(),
            "limits": {"max_request_bytes": context.max_request_bytes, "max_pixels": context.max_pixels},
        },
    )


def _file(form: dict[str, FormField], name: str) -> FormField:
    field = form.get(name)
    if field is None or not field.data:
        raise _AppError(400, f"form field {name!r}: missing or empty; expected an uploaded file")
    return field


def _label(field: FormField) -> str:
    return f"{field.name} {field.filename!r}" if field.filename else field.name


def _size(field: FormField, context: AppContext) -> tuple[int, int]:
    """(width, height) a file declares, from its header: refused here, undecoded, if too large."""
    return declared_size(field.data, max_pixels=context.max_pixels, name=_label(field))


def _read_image(form: dict[str, FormField], context: AppContext) -> LoadedImage:
    field = _file(form, "image")
    return read_image(field.data, max_pixels=context.max_pixels, name=_label(field))


def _integer(form: dict[str, FormField], name: str, low: int, high: int, expected: str) -> int | None:
    """A form field's integer in [low, high]; None when empty; 400 naming the field otherwise."""
    text = form[name].text if name in form else ""
    if not text:
        return None
    if not _DIGITS.match(text) or not low <= int(text) <= high:
        raise _AppError(400, f"form field {name!r}: {text[:40]!r}; expected {expected}")
    return int(text)


def _seed(form: dict[str, FormField]) -> int | None:
    return _integer(form, "seed", 0, _MAX_SEED, f"an integer from 0 to {_MAX_SEED}, or nothing")


def _pixels(form: dict[str, FormField], name: str) -> int:
    expected = f"a whole number of pixels from 0 to {_MAX_GROW_PIXELS}"
    return _integer(form, name, 0, _MAX_GROW_PIXELS, expected) or 0


def _encode(rgb: np.ndarray, alpha: np.ndarray | None, fmt: str) -> bytes:
    """PNG (with the input's alpha) or JPEG bytes of a uint8 [H, W, 3] result."""
    image = Image.fromarray(rgb, "RGB")
    buffer = io.BytesIO()
    if fmt == "jpeg":
        image.save(buffer, format="JPEG", quality=_JPEG_QUALITY)
    else:
        if alpha is not None:
            image.putalpha(Image.fromarray(alpha, "L"))
        image.save(buffer, format="PNG", compress_level=_PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def _image_response(rgb, alpha, fmt: str, stem: str, warned: list[str]) -> Response:
    extension = "jpg" if fmt == "jpeg" else "png"
    headers = {
        "Content-Type": f"image/{fmt}",
        "Content-Disposition": f'inline; filename="{stem}.{extension}"',
    }
    body = _encode(rgb, alpha, fmt)
    if warned:  # JSON's escapes keep the header ASCII and on one line
        headers["X-Tfinpaint-Warnings"] = json.dumps(warned)
    return 200, headers, body


def _stem(field: FormField, default: str) -> str:
    stem = os.path.splitext(os.path.basename(field.filename or ""))[0]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem) or default


def _check_gone(gone) -> None:
    if gone():
        raise ClientGone("the client closed the connection; the request is dropped")


def _mask_fits(hole: np.ndarray, loaded: LoadedImage, image: FormField, mask: FormField) -> None:
    if hole.shape != loaded.size:
        raise _AppError(
            400,
            f"{_label(mask)}: mask is {hole.shape[1]}x{hole.shape[0]} but {_label(image)} is "
            f"{loaded.size[1]}x{loaded.size[0]} (width x height); paint the mask on this photo "
            "in the page, or open a mask of the photo's size",
        )


def _check_classical_fill(name: str, hole: np.ndarray, grow: int) -> None:
    """413 for a classical fill whose own memory (its hole, its window) is above its share.

    `grow`: the pixels `dilate` and `feather` add around the hole (the fill covers them too).
    """
    if name not in CLASSICAL_NAMES:
        return
    window = hole_window(hole, grow)
    if window is None:
        return
    region = maskops.dilate(hole[window], grow)  # in the window only: cheap for a small hole
    hole_pixels = int(np.count_nonzero(region))
    window_pixels = (region.shape[0] + 32) * (region.shape[1] + 32)  # the fill's own margin
    need = estimates.classical_fill_bytes(name, hole_pixels, window_pixels)
    if need > estimates.CLASSICAL_WORK_BYTES:
        raise _AppError(
            413,
            f"model {name!r} on a hole of {hole_pixels:,} pixels needs about {megabytes(need)}; "
            f"this server lets a classical fill use {megabytes(estimates.CLASSICAL_WORK_BYTES)}: "
            "paint a smaller hole, or pick telea or a network model",
        )


def _inpaint(headers: dict, body: bytes, context: AppContext, gone) -> Response:
    form = parse_form(headers.get("content-type", ""), body)
    fmt = form["format"].text.lower() if "format" in form else ""
    fmt = {"": "png", "png": "png", "jpeg": "jpeg", "jpg": "jpeg"}.get(fmt)
    if fmt is None:
        raise _AppError(400, f"form field 'format': {form['format'].text[:40]!r}; expected png or jpeg")
    blend = (form["blend"].text if "blend" in form else "") or None  # None: the model's default
    seed = _seed(form)
    dilate, feather = _pixels(form, "dilate"), _pixels(form, "feather")
    catalog = ModelCatalog(context.served)
    name = form["model"].text if "model" in form and form["model"].text else catalog.preferred()
    try:
        catalog.check_offered(name)
    except UnknownModelError as error:
        raise _AppError(404, str(error)) from None
    image, mask = _file(form, "image"), _file(form, "mask")
    width, height = _size(image, context)
    if min(width, height) < _MIN_SIDE:
        raise _AppError(
            400,
            f"{_label(image)}: {width}x{height} pixels; expected at least {_MIN_SIDE}x{_MIN_SIDE} to inpaint",
        )
    pixels = max(width * height, np.prod(_size(mask, context)))
    work = estimates.page_inpaint_bytes(int(pixels), classical=name in CLASSICAL_NAMES, blend=blend)
    with context.budget.reserve(work, f"inpainting a {width}x{height} image with {name!r}", gone):
        loaded = _read_image(form, context)
        _check_gone(gone)
        hole = read_mask(mask.data, max_pixels=context.max_pixels, name=_label(mask)).astype(bool)
        _mask_fits(hole, loaded, image, mask)
        _check_classical_fill(name, hole, dilate + feather)
        inpainter = catalog.inpainter(name)
        _check_gone(gone)
        result = inpaint(
            loaded.rgb,
            hole,
            model=inpainter,
            blend=blend,
            seed=seed or 0,
            sample=seed is not None,
            dilate=dilate,
            feather=feather,
        )
        del hole
        _check_gone(gone)
        stem = f"{_stem(image, 'image')}_inpainted"
        return _image_response(result, loaded.alpha, fmt, stem, notes.current())


def _decode(headers: dict, body: bytes, context: AppContext, gone) -> Response:
    form = parse_form(headers.get("content-type", ""), body)
    image = _file(form, "image")
    width, height = _size(image, context)
    work = estimates.page_decode_bytes(width * height)
    with context.budget.reserve(work, f"decoding a {width}x{height} image", gone):
        loaded = _read_image(form, context)
        return _image_response(loaded.rgb, loaded.alpha, "png", _stem(image, "image"), notes.current())


_ROUTES = {
    ("GET", "/v1/app/models"): lambda headers, body, context, gone: _models(context),
    ("POST", "/v1/app/inpaint"): _inpaint,
    ("POST", "/v1/app/decode"): _decode,
}


def _answer(method: str, path: str, headers: dict, body: bytes, context: AppContext, gone) -> Response:
    if path == "/" and method == "GET":
        return _static("index.html")
    if path.startswith("/app/") and method == "GET":
        return _static(path[len("/app/") :])
    route = _ROUTES.get((method, path))
    if route is not None:
        return route(headers, body, context, gone)
    methods = sorted(m for m, p in _ROUTES if p == path)
    if methods:
        raise _AppError(405, f"{method} {path}: expected {' or '.join(methods)}")
    raise _AppError(404, f"no page route {method} {path}")


def is_page_path(path: str) -> bool:
    """Whether a request path (query string allowed) belongs to the page, not to TF Serving's API."""
    path = path.split("?", 1)[0]
    return path == "/" or path.startswith("/app/") or path.startswith("/v1/app/")


def handle(
    method: str, path: str, headers: dict, body: bytes, context: AppContext, gone=lambda: False
) -> Response | None:
    """Answer a request to the page's routes; None for any other path (not the page's).

    Args:
        method: "GET", "POST", … path: the request path (a query string is ignored).
        headers: the request headers (any case). body: the request body (the caller has
            refused bodies above `context.max_request_bytes`).
        context: the server's `AppContext`.
        gone: returns True once the client has disconnected; the work stops at its next stage.

    Returns:
        (HTTP status, response headers including Content-Type, body), or None.

    Raises:
        ClientGone: the client went away (nobody to answer).
    """
    if not is_page_path(path):
        return None
    path = path.split("?", 1)[0]
    headers = {key.lower(): value for key, value in headers.items()}
    try:
        with notes.collected():
            return _answer(method, path, headers, body, context, gone)
    except _AppError as error:
        return _json(error.status, {"error": error.message})
    except ServingError as error:  # the budget's 413 and 503
        status, _, content = _json(error.http_status, {"error": error.message})
        return status, {"Content-Type": "application/json", **error.headers()}, content
    except ClientGone:
        raise
    except (FormError, ImageError, ValueError) as error:
        return _json(400, {"error": str(error)})
    except Exception:  # the page shows every failure; the server keeps serving
        log.exception("internal error on %s %s", method, path)
        return _json(500, {"error": "internal error; the server's log has the details"})
