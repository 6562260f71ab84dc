"""How much memory a request's work will take, estimated before anything is decoded.

The `WorkBudget` admits work by these figures, so they are measured, not guessed (peak
resident memory over idle, this project's CPU, Pillow 13, measured for issue 22):
- the page's decode of a 10000x10000 PNG: +0.95 GB, about 10 bytes per pixel (the file's
  decoded copy, the RGB array, the PNG answer);
- the page's inpaint of the same photo with a small hole and telea: +1.06 GB (image, mask,
  result, answer), with the shipped network +1.8 GB (its windows, the model loaded);
- biharmonic on a 1200x800 hole: +3.6 GB, about 3.7 KB per hole pixel (sparse systems);
- `blend="patches"` on a 2000x2000 photo with a 1000x1000 hole: +393 MB, about 100 bytes per
  pixel of the image searched (its padded planes, blur and estimate; the search itself works in
  blocks), which is a window of at most `PATCH_WINDOW` a side (measured before the windows).
"""

from __future__ import annotations

from tfinpaint.postprocess import PATCH_WINDOW

DECODE_BYTES_PER_PIXEL = 10
INPAINT_BYTES_PER_PIXEL = 12
# What a network's windows take, whatever the photo's size (the size policy caps them).
NETWORK_WORK_BYTES = 768 * 2**20
# What a classical fill may take; `classical_fill_bytes` says what one needs.
CLASSICAL_WORK_BYTES = 512 * 2**20
_BIHARMONIC_BYTES_PER_HOLE_PIXEL = 4096
# telea, ns, patchmatch: float copies of their window (image, fill, composite, mask).
_CLASSICAL_BYTES_PER_WINDOW_PIXEL = 48
# blend="patches" (`tfinpaint.patch_synthesis`), per pixel of its window; measured 100.
PATCHES_BYTES_PER_PIXEL = 128
# REST :predict: JSON lists of numbers become Python lists, then arrays: ~10x the body.
_JSON_BYTES_PER_BODY_BYTE = 10
# The exported graph's activations per pixel of the largest input (paper 2 at 2048x2048).
GRAPH_BYTES_PER_PIXEL = 150


def page_decode_bytes(pixels: int) -> int:
    return pixels * DECODE_BYTES_PER_PIXEL


def page_inpaint_bytes(pixels: int, classical: bool, blend: str | None = None) -> int:
    work = pixels * INPAINT_BYTES_PER_PIXEL + (CLASSICAL_WORK_BYTES if classical else NETWORK_WORK_BYTES)
    # blend="patches" searches one window at a time.
    return work + (min(pixels, PATCH_WINDOW**2) * PATCHES_BYTES_PER_PIXEL if blend == "patches" else 0)


def classical_fill_bytes(model: str, hole_pixels: int, window_pixels: int) -> int:
    """A classical fill's own memory: biharmonic by its hole, the others by their window."""
    if model == "biharmonic":
        return hole_pixels * _BIHARMONIC_BYTES_PER_HOLE_PIXEL
    return window_pixels * _CLASSICAL_BYTES_PER_WINDOW_PIXEL


def rest_predict_bytes(body_bytes: int, max_pixels: int) -> int:
    """REST's :predict, before its JSON is parsed: the parse, and the graph at the pixel cap."""
    return body_bytes * _JSON_BYTES_PER_BODY_BYTE + max_pixels * GRAPH_BYTES_PER_PIXEL


def grpc_predict_bytes(input_bytes: int, pixels: int) -> int:
    """gRPC's Predict from its declared shapes: the arrays (twice: proto and array), the graph."""
    return 2 * input_bytes + pixels * GRAPH_BYTES_PER_PIXEL
