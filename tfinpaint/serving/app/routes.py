"""The page's routes: its files, the model list, inpaint and decode (`tfinpaint.serving.app`
describes each). A refusal is a `ServingError`, the REST API's error type, or a `FormError` /
`ImageError` naming the field or file (400).
"""

from __future__ import annotations

import numpy as np

from tfinpaint import maskops
from tfinpaint.imagefiles import LoadedImage, declared_size, read_image, read_mask
from tfinpaint.inference import inpaint
from tfinpaint.inference.baselines import hole_window
from tfinpaint.serving import estimates
from tfinpaint.serving.app import notes
from tfinpaint.serving.app.form import (
    FormField,
    file_field,
    format_field,
    label,
    parse_form,
    pixels_field,
    seed_field,
    text_field,
)
from tfinpaint.serving.app.models import CLASSICAL_NAMES, ModelCatalog, UnknownModelError
from tfinpaint.serving.app.responses import Response, file_stem, image_response, json_response, static_file
from tfinpaint.serving.app_context import AppContext
from tfinpaint.serving.budget import ClientGone, megabytes
from tfinpaint.serving.errors import ServingError

# Smaller photos leave a network no context (its graph fails on a 1x1 input): refused by name.
_MIN_SIDE = 8


def _models(context: AppContext) -> Response:
    catalog = ModelCatalog(context.served)
    return json_response(
        200,
        {
            "models": catalog.names(),
            "selected": catalog.preferred(),
            "limits": {"max_request_bytes": context.max_request_bytes, "max_pixels": context.max_pixels},
        },
    )


def _size(field: FormField, context: AppContext) -> tuple[int, int]:
    """(width, height) a file declares, from its header: refused here, undecoded, if too large."""
    return declared_size(field.data, max_pixels=context.max_pixels, name=label(field))


def _read_image(field: FormField, context: AppContext) -> LoadedImage:
    return read_image(field.data, max_pixels=context.max_pixels, name=label(field))


def _check_gone(gone) -> None:
    if gone():
        raise ClientGone("the client closed the connection; the request is dropped")


def _check_side(image: FormField, width: int, height: int) -> None:
    if min(width, height) < _MIN_SIDE:
        raise ServingError(
            "INVALID_ARGUMENT",
            f"{label(image)}: {width}x{height} pixels; expected at least {_MIN_SIDE}x{_MIN_SIDE} to inpaint",
        )


def _mask_fits(hole: np.ndarray, loaded: LoadedImage, image: FormField, mask: FormField) -> None:
    if hole.shape != loaded.size:
        raise ServingError(
            "INVALID_ARGUMENT",
            f"{label(mask)}: mask is {hole.shape[1]}x{hole.shape[0]} but {label(image)} is "
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
        raise ServingError(
            "RESOURCE_EXHAUSTED",
            f"model {name!r} on a hole of {hole_pixels:,} pixels needs about {megabytes(need)}; "
            f"this server lets a classical fill use {megabytes(estimates.CLASSICAL_WORK_BYTES)}: "
            "paint a smaller hole, or pick telea or a network model",
            http_status=413,
        )


def _offered_model(form: dict[str, FormField], catalog: ModelCatalog) -> str:
    """The `model` field (empty: the catalog's preferred one); 404 for a name not offered."""
    name = text_field(form, "model") or catalog.preferred()
    try:
        catalog.check_offered(name)
    except UnknownModelError as error:
        raise ServingError("NOT_FOUND", str(error)) from None
    return name


def _inpaint(headers: dict, body: bytes, context: AppContext, gone) -> Response:
    form = parse_form(headers.get("content-type", ""), body)
    fmt = format_field(form)
    blend = text_field(form, "blend")
    seed = seed_field(form)
    dilate, feather = pixels_field(form, "dilate"), pixels_field(form, "feather")
    catalog = ModelCatalog(context.served)
    name = _offered_model(form, catalog)
    inpainter = catalog.inpainter(name)
    # An empty field is the model's own blend, named here so the memory estimate counts it.
    blend = blend or inpainter.default_blend
    image, mask = file_field(form, "image"), file_field(form, "mask")
    width, height = _size(image, context)
    _check_side(image, width, height)
    pixels = max(width * height, np.prod(_size(mask, context)))
    work = estimates.page_inpaint_bytes(int(pixels), classical=name in CLASSICAL_NAMES, blend=blend)
    with context.budget.reserve(work, f"inpainting a {width}x{height} image with {name!r}", gone):
        loaded = _read_image(image, context)
        _check_gone(gone)
        hole = read_mask(mask.data, max_pixels=context.max_pixels, name=label(mask)).astype(bool)
        _mask_fits(hole, loaded, image, mask)
        _check_classical_fill(name, hole, dilate + feather)
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
        stem = f"{file_stem(image, 'image')}_inpainted"
        return image_response(result, loaded.alpha, fmt, stem, notes.current())


def _decode(headers: dict, body: bytes, context: AppContext, gone) -> Response:
    form = parse_form(headers.get("content-type", ""), body)
    image = file_field(form, "image")
    width, height = _size(image, context)
    work = estimates.page_decode_bytes(width * height)
    with context.budget.reserve(work, f"decoding a {width}x{height} image", gone):
        loaded = _read_image(image, context)
        return image_response(loaded.rgb, loaded.alpha, "png", file_stem(image, "image"), notes.current())


_ROUTES = {
    ("GET", "/v1/app/models"): lambda headers, body, context, gone: _models(context),
    ("POST", "/v1/app/inpaint"): _inpaint,
    ("POST", "/v1/app/decode"): _decode,
}


def answer(method: str, path: str, headers: dict, body: bytes, context: AppContext, gone) -> Response:
    """The route's answer to a page path (no query string; `headers` with lower-case keys)."""
    if path == "/" and method == "GET":
        return static_file("index.html")
    if path.startswith("/app/") and method == "GET":
        return static_file(path[len("/app/") :])
    route = _ROUTES.get((method, path))
    if route is not None:
        return route(headers, body, context, gone)
    methods = tuple(sorted(m for m, p in _ROUTES if p == path))
    if methods:
        expected = f"{method} {path}: expected {' or '.join(methods)}"
        raise ServingError("UNIMPLEMENTED", expected, http_status=405, allow=methods)
    raise ServingError("NOT_FOUND", f"no page route {method} {path}")
