"""What the page answers: JSON, its own files (`static/`), a result image as PNG or JPEG."""

from __future__ import annotations

import io
import json
import os
import re

import numpy as np
from PIL import Image

from tfinpaint.serving.app.form import FormField
from tfinpaint.serving.errors import ServingError

# (HTTP status, response headers including Content-Type, body)
Response = tuple[int, dict, bytes]

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


def json_response(status: int, payload: dict, headers: dict | None = None) -> Response:
    body = json.dumps(payload).encode("utf-8")
    return status, {"Content-Type": "application/json", **(headers or {})}, body


def static_file(name: str) -> Response:
    """One of the page's own files; 404 for any other name (no path leaves `static/`)."""
    path = os.path.join(STATIC_DIR, name)
    extension = os.path.splitext(name)[1]
    if not _STATIC_NAME.match(name) or extension not in _CONTENT_TYPES or not os.path.isfile(path):
        raise ServingError("NOT_FOUND", f"no file {name!r} in the page's files")
    with open(path, "rb") as f:
        body = f.read()
    return 200, {"Content-Type": _CONTENT_TYPES[extension], "Cache-Control": "no-cache"}, body


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


def image_response(rgb, alpha, fmt: str, stem: str, warned: list[str]) -> Response:
    """The result image, named `<stem>.png|jpg`; what the server warned about in
    `X-Tfinpaint-Warnings`."""
    extension = "jpg" if fmt == "jpeg" else "png"
    headers = {
        "Content-Type": f"image/{fmt}",
        "Content-Disposition": f'inline; filename="{stem}.{extension}"',
    }
    body = _encode(rgb, alpha, fmt)
    if warned:  # JSON's escapes keep the header ASCII and on one line
        headers["X-Tfinpaint-Warnings"] = json.dumps(warned)
    return 200, headers, body


def file_stem(field: FormField, default: str) -> str:
    """The uploaded file's name without its extension, safe in a header; `default` if none."""
    stem = os.path.splitext(os.path.basename(field.filename or ""))[0]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem) or default
