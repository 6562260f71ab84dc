"""Image and mask files from users: read anything Pillow can, write atomically, say what changed.

Every reader returns 8-bit RGB (plus the alpha channel when there is one, so it can be
re-attached to the output) and every problem is either an `ImageError` naming the file, what
was found and what was expected, or an `InputWarning` (Python `warnings`) saying what was done
about it. OpenCV never opens a path here: `cv2.imread` fails on non-ASCII paths on some systems.
"""

from __future__ import annotations

import dataclasses
import io as _io
import os
import tempfile
import typing
import uuid
import warnings

import cv2
import numpy as np
from PIL import Image, ImageOps

from tfinpaint.convention import MASK_THRESHOLD, SOFT_HIGH, SOFT_LOW, InputWarning, hole_from_values
from tfinpaint.imagemeta import ImageMeta, read_meta, save_options

# 100 megapixels: a 48 MP phone photo passes; a tiny file that declares a 20,000 x 20,000
# canvas (1.2 GB as RGB) does not. Pillow's own bomb check only errors at twice its 89 MP limit.
MAX_PIXELS = 100_000_000

# Output formats by extension; anything else is refused rather than guessed.
WRITE_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
_NO_ALPHA_FORMATS = ("JPEG", "BMP")
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


def _name(source: PathOrFile, name: str | None) -> str:
    if name:
        return name
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return getattr(source, "name", "<in-memory image>")


def _warn(message: str) -> None:
    warnings.warn(message, InputWarning, stacklevel=3)


def _open(source: PathOrFile, name: str, max_pixels: int) -> Image.Image:
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
        source = _io.BytesIO(source)
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


def _decode(img: Image.Image, name: str) -> Image.Image:
    """First frame, decoded, EXIF orientation applied; corrupt or truncated data -> ImageError."""
    frames = getattr(img, "n_frames", 1)
    if frames > 1:
        _warn(f"{name}: has {frames} frames (animated); using the first frame only.")
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
            _warn(f"{name}: {mode} ({'16' if mode.startswith('I;16') else '32'}-bit grey) scaled to 8 bits.")
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
    label = _name(source, name)
    img = _open(source, label, max_pixels)
    with img:
        decoded = _decode(img, label)
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
    with _open(source, _name(source, name), max_pixels) as img:
        return img.size


def _grey_mask_values(source: PathOrFile, label: str, max_pixels: int) -> np.ndarray | None:
    """A greyscale or 1-bit mask file's 0..255 values, read without an RGB copy; None for others."""
    img = _open(source, label, max_pixels)
    with img:
        if img.mode not in ("L", "1") or getattr(img, "n_frames", 1) > 1:
            return None
        decoded = _decode(img, label)
        values = np.asarray(decoded if decoded.mode == "L" else decoded.convert("L"))
        decoded.close()
    return values


def _mask_values(loaded: LoadedImage) -> np.ndarray:
    """The 0..255 mask values of a decoded mask file: grey level, or its alpha (see read_mask)."""
    rgb, alpha = loaded.rgb, loaded.alpha
    if alpha is not None and alpha.min() < 255:
        if int(rgb.max()) == int(rgb.min()):
            _warn(
                f"{loaded.path}: the colour channels are uniform and the mask is in the alpha "
                "channel; using the alpha (opaque = hole)."
            )
            return alpha
        opaque_luma = _luma(rgb)[alpha >= MASK_THRESHOLD]
        grey = np.count_nonzero((opaque_luma > SOFT_LOW) & (opaque_luma < SOFT_HIGH))
        if grey > 0.25 * max(opaque_luma.size, 1):
            _warn(
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
    label = _name(source, name)
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
    _warn(f"{mask_name}: mask resized from {w}x{h} to {size[1]}x{size[0]} (nearest neighbour).")
    return cv2.resize(hole, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)


def output_format(path: str | os.PathLike) -> str:
    """Pillow format name for `path`'s extension; ImageError for one we do not write."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in WRITE_FORMATS:
        raise ImageError(
            f"{os.fspath(path)}: cannot write a {ext or 'extension-less'} file; "
            f"expected one of {', '.join(sorted(WRITE_FORMATS))}."
        )
    return WRITE_FORMATS[ext]


def write_image(
    path: str | os.PathLike,
    rgb: np.ndarray,
    alpha: np.ndarray | None = None,
    *,
    overwrite: bool = False,
    quality: int = 95,
    meta: ImageMeta | None = None,
) -> str:
    """Write uint8 RGB (+ optional alpha) atomically; the format comes from the extension.

    The file is written to a temporary name in the same folder and moved into place, so a
    crash never leaves a half-written file where a good one was. Without `overwrite`, an
    existing file is never replaced — even one created while this call runs.

    Args:
        path: output path (any characters); its extension picks the format.
        rgb: uint8 [H, W, 3].
        alpha: uint8 [H, W] or None. Formats without alpha (JPEG, BMP) drop it with a warning.
        overwrite: replace an existing file.
        quality: JPEG / WebP quality (1-95; Pillow advises against more).
        meta: the input's metadata (`LoadedImage.meta`): its ICC profile, EXIF, DPI, PNG text
            and JPEG subsampling are written as far as the format stores them.

    Returns:
        The path written.

    Raises:
        FileExistsError: `path` exists and `overwrite` is False.
        ImageError: unknown extension, wrong array shape or dtype, or missing folder.
    """
    path = os.fspath(path)
    fmt = output_format(path)
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ImageError(
            f"{path}: expected uint8 [H, W, 3] pixels to write, got {rgb.dtype} {list(rgb.shape)}."
        )
    if alpha is not None and np.asarray(alpha).shape != rgb.shape[:2]:
        raise ImageError(
            f"{path}: alpha {list(np.asarray(alpha).shape)} does not match the image {list(rgb.shape[:2])}."
        )
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path}: already exists; pass --overwrite (overwrite=True) to replace it.")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ImageError(f"{path}: the folder {folder} does not exist.")
    if alpha is not None and fmt in _NO_ALPHA_FORMATS:
        _warn(
            f"{path}: {fmt} cannot store transparency; the alpha channel is dropped (write .png to keep it)."
        )
        alpha = None
    img = Image.fromarray(rgb, "RGB")
    if alpha is not None:
        img.putalpha(Image.fromarray(np.asarray(alpha, np.uint8), "L"))
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    options.update(save_options(meta, fmt))
    for what in meta.dropped if meta is not None else ():
        _warn(f"{path}: not written: {what}.")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=folder)
        with os.fdopen(fd, "wb") as f:
            img.save(f, format=fmt, **options)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes 0600 files; give the output the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        _move_into_place(tmp, path, overwrite)
    except OSError as e:
        _remove(tmp)
        if type(e) is FileExistsError:
            raise
        # Name the file asked for, not the temporary one (a read-only folder, a full disk).
        raise type(e)(e.errno, e.strerror, os.fspath(path)) from None
    except BaseException:
        _remove(tmp)
        raise
    return path


def _remove(tmp: str | None) -> None:
    if tmp is not None and os.path.exists(tmp):
        os.unlink(tmp)


def _move_into_place(tmp: str, path: str, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        # A hard link fails if `path` appeared meanwhile, which os.replace would clobber.
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(
            f"{path}: already exists; pass --overwrite (overwrite=True) to replace it."
        ) from None
    except OSError:
        # File systems without hard links: the exists-check above is the best we can do.
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def write_bytes_atomic(path: str, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and `os.replace`.

    A reader never sees a half-written file. The temporary file is opened with the umask's
    usual permissions (not mkstemp's 0600), so a TF Serving container or another user can read
    the result.
    """
    folder, name = os.path.split(os.path.abspath(path))
    temp = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temp, "xb") as f:
            f.write(data)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise
