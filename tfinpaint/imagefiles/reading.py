"""Image files from users, read as 8-bit RGB: anything Pillow can decode safely, or an `ImageError`.

Every reader returns 8-bit RGB (plus the alpha channel when there is one, so it can be
re-attached to the output) and every problem is either an `ImageError` naming the file, what
was found and what was expected, or an `InputWarning` (Python `warnings`) saying what was done
about it. OpenCV never opens a path here: `cv2.imread` fails on non-ASCII paths on some systems.
"""

from __future__ import annotations

import dataclasses
import io
import os
import typing
import warnings

import numpy as np
from PIL import Image, ImageOps

from tfinpaint.convention import InputWarning
from tfinpaint.imagefiles.metadata import ImageMeta, read_meta

# 100 megapixels: a 48 MP phone photo passes; a tiny file that declares a 20,000 x 20,000
# canvas (1.2 GB as RGB) does not. Pillow's own bomb check only errors at twice its 89 MP limit.
MAX_PIXELS = 100_000_000

# The formats read, and the only Pillow decoders ever asked: some others (EPS, PDF) run
# external programs such as Ghostscript on the file, which an upload must never reach.
READ_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
_ORIENTATION = 0x0112  # the EXIF tag

PathOrFile = str | os.PathLike | typing.BinaryIO


class ImageError(ValueError):
    """An image or mask file that cannot be used as given; the message names the file."""


@dataclasses.dataclass
class LoadedImage:
    """An image file decoded to 8-bit RGB.

    Attributes:
        rgb: uint8 [H, W, 3], EXIF orientation applied.
        alpha: uint8 [H, W] when the file has transparency, else None.
        path: the file it came from (for messages).
        mode: Pillow's mode of the decoded file ("RGB", "I;16", "P", …).
        meta: ICC profile, EXIF, DPI, PNG text and JPEG subsampling, for `write_image`.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    path: str
    mode: str
    meta: ImageMeta = dataclasses.field(default_factory=ImageMeta)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return self.rgb.shape[0], self.rgb.shape[1]


def source_name(source: PathOrFile, name: str | None) -> str:
    """How messages name `source`: `name` when given, else its path or its file object's name."""
    if name:
        return name
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return getattr(source, "name", "<in-memory image>")


def warn(message: str) -> None:
    """Say what was done about a file, as an `InputWarning` (callers record or show it)."""
    warnings.warn(message, InputWarning, stacklevel=3)


def open_header(source: PathOrFile, name: str, max_pixels: int) -> Image.Image:
    """Open (header only) and refuse empty files, non-images and oversize canvases."""
    if isinstance(source, (str, os.PathLike)):
        if not os.path.exists(source):
            raise ImageError(f"{name}: no such file.")
        if os.path.isdir(source):
            raise ImageError(f"{name}: is a folder; expected an image file.")
        if os.path.getsize(source) == 0:
            raise ImageError(f"{name}: the file is empty (0 bytes); expected an image.")
    elif isinstance(source, (bytes, bytearray)):
        if not source:
            raise ImageError(f"{name}: empty data (0 bytes); expected an encoded image.")
        source = io.BytesIO(source)
    try:
        with warnings.catch_warnings():
            # Our own cap below decides; Pillow's warning at 89 MP would only repeat it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(source, formats=READ_FORMATS)
    except Image.DecompressionBombError as e:
        raise ImageError(f"{name}: refused as a possible decompression bomb ({e}).") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(
            f"{name}: not an image Pillow can read ({e}); expected PNG, JPEG, WebP, BMP, TIFF or GIF."
        ) from e
    pixels = img.width * img.height
    if pixels > max_pixels:
        img.close()
        raise ImageError(
            f"{name}: declares {img.width}x{img.height} = {pixels:,} pixels, above the cap of "
            f"{max_pixels:,} (max_pixels); refused before decoding as a possible decompression "
            "bomb. Raise the cap only for files you trust."
        )
    return img


def decode(img: Image.Image, name: str) -> Image.Image:
    """First frame, decoded, EXIF orientation applied; corrupt or truncated data -> ImageError."""
    frames = getattr(img, "n_frames", 1)
    if frames > 1:
        warn(f"{name}: has {frames} frames (animated); using the first frame only.")
        img.seek(0)
    try:
        img.load()
        if img.getexif().get(_ORIENTATION, 1) == 1:
            return img  # exif_transpose would only copy it: hundreds of MB for a large photo
        # The mask gets the same call, so image and mask are rotated alike before the size check.
        return ImageOps.exif_transpose(img)
    except Exception as e:  # Pillow raises OSError, SyntaxError, struct.error… for bad data.
        raise ImageError(
            f"{name}: the image data is truncated or corrupt ({type(e).__name__}: "
            f"{e}); expected a complete image file."
        ) from e


def _scale_16bit(values: np.ndarray) -> np.ndarray:
    """0..65535 -> 0..255, rounded (v / 257), never clipped to white."""
    values = np.clip(values.astype(np.int64), 0, 65535)
    return ((values * 255 + 32767) // 65535).astype(np.uint8)


def _to_rgb(img: Image.Image, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        values = np.asarray(img)
        # PNG stores 16-bit grey as "I;16"/"I"; an "I" image whose values fit in 8 bits is 8-bit.
        if mode.startswith("I;16") or values.max(initial=0) > 255:
            warn(f"{name}: {mode} ({'16' if mode.startswith('I;16') else '32'}-bit grey) scaled to 8 bits.")
            gray = _scale_16bit(values)
        else:
            gray = values.astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1), None
    if mode == "F":
        raise ImageError(f"{name}: 32-bit floating-point image (mode F); expected an 8- or 16-bit image.")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in img.info)
    if has_alpha:
        rgba = np.asarray(img.convert("RGBA"))
        return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])
    if mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img), None  # read-only, over Pillow's bytes: read_image copies it


def read_image(source: PathOrFile, *, max_pixels: int = MAX_PIXELS, name: str | None = None) -> LoadedImage:
    """Read an image file (or bytes / a binary file object) as 8-bit RGB plus optional alpha.

    Args:
        source: a path (any characters), encoded bytes or a binary file object.
        max_pixels: canvases declaring more pixels than this are refused from the header,
            before anything is decoded.
        name: how messages refer to the input (default: the path).

    Returns:
        A `LoadedImage`: EXIF orientation applied; grayscale, palette, CMYK and 1-bit converted
        to RGB; 16-bit scaled to 8 bits; transparency kept apart in `alpha`; animated files
        reduced to their first frame (with a warning).

    Raises:
        ImageError: missing, empty, truncated, corrupt or non-image input, or a canvas above
            `max_pixels`.
    """
    label = source_name(source, name)
    img = open_header(source, label, max_pixels)
    with img:
        decoded = decode(img, label)
        mode = decoded.mode
        rgb, alpha = _to_rgb(decoded, label)
        meta = read_meta(img, decoded)
        decoded.close()
    # Copied once Pillow's own copy is freed, so a large photo is never held three times.
    rgb = rgb if rgb.flags.writeable else rgb.copy()
    return LoadedImage(rgb=rgb, alpha=alpha, path=label, mode=mode, meta=meta)


def declared_size(
    source: PathOrFile, *, max_pixels: int = MAX_PIXELS, name: str | None = None
) -> tuple[int, int]:
    """(width, height) an image file declares, read from its header alone (nothing decoded).

    Raises:
        ImageError: as `read_image`, for what can be told from the header (not an image, a
            format not read, a canvas above `max_pixels`).
    """
    with open_header(source, source_name(source, name), max_pixels) as img:
        return img.size
