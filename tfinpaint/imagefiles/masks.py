"""Mask files from users: white (>= 128) = hole, by the package's one rule, at the image's size.

A greyscale or 1-bit file is read without an RGB copy; any other is read as an image
(`reading.read_image`) and its grey level or alpha channel taken (see `read_mask`).
"""

from __future__ import annotations

import cv2
import numpy as np

from tfinpaint.convention import MASK_THRESHOLD, SOFT_HIGH, SOFT_LOW, hole_from_values
from tfinpaint.imagefiles.reading import (
    MAX_PIXELS,
    ImageError,
    LoadedImage,
    PathOrFile,
    decode,
    open_header,
    read_image,
    source_name,
    warn,
)


def _grey_mask_values(source: PathOrFile, label: str, max_pixels: int) -> np.ndarray | None:
    """A greyscale or 1-bit mask file's 0..255 values, read without an RGB copy; None for others."""
    img = open_header(source, label, max_pixels)
    with img:
        if img.mode not in ("L", "1") or getattr(img, "n_frames", 1) > 1:
            return None
        decoded = decode(img, label)
        values = np.asarray(decoded if decoded.mode == "L" else decoded.convert("L"))
        decoded.close()
    return values


def _mask_values(loaded: LoadedImage) -> np.ndarray:
    """The 0..255 mask values of a decoded mask file: grey level, or its alpha (see read_mask)."""
    rgb, alpha = loaded.rgb, loaded.alpha
    if alpha is not None and alpha.min() < 255:
        if int(rgb.max()) == int(rgb.min()):
            warn(
                f"{loaded.path}: the colour channels are uniform and the mask is in the alpha "
                "channel; using the alpha (opaque = hole)."
            )
            return alpha
        opaque_luma = _luma(rgb)[alpha >= MASK_THRESHOLD]
        grey = np.count_nonzero((opaque_luma > SOFT_LOW) & (opaque_luma < SOFT_HIGH))
        if grey > 0.25 * max(opaque_luma.size, 1):
            warn(
                f"{loaded.path}: has transparency and its opaque pixels look like a photo, not "
                "black and white: the mask looks like it is the alpha channel of an image (a "
                "cut-out). It is read as white = hole over black; to use the cut-out, save "
                "its transparent pixels as white on black."
            )
        # Painted strokes on a transparent layer: composite over black, so only opaque white
        # marks a hole, whatever colour an editor left under the transparent pixels.
        rgb = (rgb.astype(np.uint16) * alpha[..., None] + 127) // 255
    return _luma(rgb)


def _luma(rgb: np.ndarray) -> np.ndarray:
    if (rgb == rgb[..., :1]).all():
        return rgb[..., 0].astype(np.uint8)
    # Coloured masks: ITU-R 601 luma, as Pillow's convert("L").
    return np.rint(rgb @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)


def read_mask(
    source: PathOrFile,
    *,
    size: tuple[int, int] | None = None,
    resize: bool = False,
    image_name: str = "the image",
    max_pixels: int = MAX_PIXELS,
    name: str | None = None,
) -> np.ndarray:
    """Read a mask file: white (>= 128) = hole. Returns uint8 [H, W] with 1 = hole.

    Any mode is accepted (read like `read_image`, EXIF orientation applied). {0, 1} masks are
    accepted. A mask with transparency whose colour channels are uniform carries its shape in
    the alpha channel: the alpha is used (opaque = hole) and a warning says so; otherwise the
    mask is composited over black (transparent = keep).

    Args:
        source: path, bytes or binary file object.
        size: (height, width) the mask must have — the image's.
        resize: resize a mask of another size to `size` (nearest neighbour, with a warning)
            instead of raising.
        image_name: names the image in the size-mismatch message.
        max_pixels, name: as for `read_image`.

    Raises:
        ImageError: unreadable file, or a size other than `size` without `resize`.
    """
    label = source_name(source, name)
    if hasattr(source, "seek"):
        position = source.tell()
    values = _grey_mask_values(source, label, max_pixels)
    if values is None:
        if hasattr(source, "seek"):
            source.seek(position)
        values = _mask_values(read_image(source, max_pixels=max_pixels, name=name))
    hole = hole_from_values(values, label)
    if size is None:
        return hole
    return fit_mask(hole, size, resize=resize, mask_name=label, image_name=image_name)


class MaskSizeError(ImageError):
    """A mask whose size differs from its image's (and resizing was not asked for)."""


def fit_mask(
    hole: np.ndarray, size: tuple[int, int], *, resize: bool, mask_name: str, image_name: str
) -> np.ndarray:
    """`hole` (uint8 [h, w]) at the image's `size` (height, width): as is, resized or refused.

    Raises:
        MaskSizeError: the sizes differ and `resize` is False; the message names both sizes.
    """
    if hole.shape == tuple(size):
        return hole
    h, w = hole.shape
    if not resize:
        raise MaskSizeError(
            f"{mask_name}: mask is {w}x{h} but {image_name} is {size[1]}x{size[0]} "
            "(width x height, after EXIF rotation); expected the same size. Pass "
            "--resize-mask (resize=True) to resize the mask nearest-neighbour."
        )
    warn(f"{mask_name}: mask resized from {w}x{h} to {size[1]}x{size[0]} (nearest neighbour).")
    return cv2.resize(hole, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
