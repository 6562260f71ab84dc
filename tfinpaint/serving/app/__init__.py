"""The browser page of `tfinpaint serve`: open a photo, paint the mask, get the result.

`handle(method, path, headers, body, context)` answers the page's routes and returns None for
every other path, so the server's TF Serving routes stay as they are:

- `GET  /` -> the page; `GET /app/<file>` -> its script and style (shipped in `static/`).
- `GET  /v1/app/models` -> `{"models": [{"name", "kind", "can_sample", "blend"}, …], "selected": name,
  "limits": {"max_request_bytes", "max_pixels"}}`: the served models, `default` (when this
  install ships it) and the classical fills telea, ns, biharmonic (patchmatch when installed).
- `POST /v1/app/inpaint`, multipart/form-data: `image` (any file `tfinpaint inpaint` reads),
  `mask` (white = hole, the image's size), `model` (a name from the list; default `selected`),
  `blend` (`poisson` | `none`; empty = the model's default), `seed` (empty = the model's deterministic
  completion, an integer = that random sample, for models that can sample), `dilate` and
  `feather` (pixels, default 0: grow the hole; blend the fill in over a ring, as
  `tfinpaint inpaint --dilate/--feather`), `format` (`png`, default, or `jpeg`). Answers the
  completed image — PNG keeps the input's alpha — through `tfinpaint.inference.inpaint`, the
  code of `tfinpaint inpaint`.
- `POST /v1/app/decode`, multipart `image` -> the image as the server reads it, as PNG (for
  formats a browser cannot show, such as TIFF).

Errors answer `{"error": "…"}` with 400 (bad input, images above `max_pixels`), 404 (unknown
model or route), 405 or 500. The caller enforces `max_request_bytes` (413) before it reads a
body, as for its own routes.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re

import numpy as np
from PIL import Image

from tfinpaint.inference import inpaint
from tfinpaint.io import ImageError, LoadedImage, read_image, read_mask
from tfinpaint.serving.app.form import FormError, FormField, parse_form
from tfinpaint.serving.app.models import ModelCatalog, UnknownModelError
from tfinpaint.serving.app_context import AppContext

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


def _read_image(form: dict[str, FormField], context: AppContext) -> LoadedImage:
    field = _file(form, "image")
    return read_image(field.data, max_pixels=context.max_pixels, name=_label(field))


def _seed(form: dict[str, FormField]) -> int | None:
    text = form["seed"].text if "seed" in form else ""
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise _AppError(400, f"form field 'seed': {text!r}; expected an integer or nothing") from None


def _pixels(form: dict[str, FormField], name: str) -> int:
    text = form[name].text if name in form else ""
    if not text:
        return 0
    if not text.isdigit():
        raise _AppError(400, f"form field {name!r}: {text!r}; expected a whole number of pixels >= 0")
    return int(text)


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


def _image_response(rgb, alpha, fmt: str, stem: str) -> Response:
    extension = "jpg" if fmt == "jpeg" else "png"
    headers = {
        "Content-Type": f"image/{fmt}",
        "Content-Disposition": f'inline; filename="{stem}.{extension}"',
    }
    return 200, headers, _encode(rgb, alpha, fmt)


def _stem(field: FormField, default: str) -> str:
    stem = os.path.splitext(os.path.basename(field.filename or ""))[0]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem) or default


def _inpaint(headers: dict, body: bytes, context: AppContext) -> Response:
    form = parse_form(headers.get("content-type", ""), body)
    fmt = form["format"].text.lower() if "format" in form else ""
    fmt = {"": "png", "png": "png", "jpeg": "jpeg", "jpg": "jpeg"}.get(fmt)
    if fmt is None:
        raise _AppError(400, f"form field 'format': {form['format'].text!r}; expected png or jpeg")
    blend = (form["blend"].text if "blend" in form else "") or None  # None: the model's default
    seed = _seed(form)
    dilate, feather = _pixels(form, "dilate"), _pixels(form, "feather")
    catalog = ModelCatalog(context.served)
    name = form["model"].text if "model" in form and form["model"].text else catalog.preferred()
    loaded = _read_image(form, context)
    mask = _file(form, "mask")
    hole = read_mask(
        mask.data,
        size=loaded.size,
        image_name=_label(form["image"]),
        max_pixels=context.max_pixels,
        name=_label(mask),
    )
    try:
        inpainter = catalog.inpainter(name)
    except UnknownModelError as error:
        raise _AppError(404, str(error)) from None
    with context.slots:
        result = inpaint(
            loaded.rgb,
            hole.astype(bool),
            model=inpainter,
            blend=blend,
            seed=seed or 0,
            sample=seed is not None,
            dilate=dilate,
            feather=feather,
        )
    stem = f"{_stem(form['image'], 'image')}_inpainted"
    return _image_response(result, loaded.alpha, fmt, stem)


def _decode(headers: dict, body: bytes, context: AppContext) -> Response:
    form = parse_form(headers.get("content-type", ""), body)
    loaded = _read_image(form, context)
    return _image_response(loaded.rgb, loaded.alpha, "png", _stem(form["image"], "image"))


_ROUTES = {
    ("GET", "/v1/app/models"): lambda headers, body, context: _models(context),
    ("POST", "/v1/app/inpaint"): _inpaint,
    ("POST", "/v1/app/decode"): _decode,
}


def _answer(method: str, path: str, headers: dict, body: bytes, context: AppContext) -> Response:
    if path == "/" and method == "GET":
        return _static("index.html")
    if path.startswith("/app/") and method == "GET":
        return _static(path[len("/app/") :])
    route = _ROUTES.get((method, path))
    if route is not None:
        return route(headers, body, context)
    methods = sorted(m for m, p in _ROUTES if p == path)
    if methods:
        raise _AppError(405, f"{method} {path}: expected {' or '.join(methods)}")
    raise _AppError(404, f"no page route {method} {path}")


def is_page_path(path: str) -> bool:
    """Whether a request path (query string allowed) belongs to the page, not to TF Serving's API."""
    path = path.split("?", 1)[0]
    return path == "/" or path.startswith("/app/") or path.startswith("/v1/app/")


def handle(method: str, path: str, headers: dict, body: bytes, context: AppContext) -> Response | None:
    """Answer a request to the page's routes; None for any other path (not the page's).

    Args:
        method: "GET", "POST", … path: the request path (a query string is ignored).
        headers: the request headers (any case). body: the request body (the caller has
            refused bodies above `context.max_request_bytes`).
        context: the server's `AppContext`.

    Returns:
        (HTTP status, response headers including Content-Type, body), or None.
    """
    if not is_page_path(path):
        return None
    path = path.split("?", 1)[0]
    headers = {key.lower(): value for key, value in headers.items()}
    try:
        return _answer(method, path, headers, body, context)
    except _AppError as error:
        return _json(error.status, {"error": error.message})
    except (FormError, ImageError, ValueError) as error:
        return _json(400, {"error": str(error)})
    except Exception as error:  # the page shows every failure; the server keeps serving
        log.exception("internal error on %s %s", method, path)
        return _json(500, {"error": f"internal error: {type(error).__name__}: {error}"})
