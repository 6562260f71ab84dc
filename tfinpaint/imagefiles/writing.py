"""Files written atomically: an image (format from its extension, the input's metadata kept)
or raw bytes, through a temporary file in the same folder moved into place.
"""

from __future__ import annotations

import os
import tempfile
import uuid

import numpy as np
from PIL import Image

from tfinpaint.imagefiles.metadata import ImageMeta, save_options
from tfinpaint.imagefiles.reading import ImageError, warn

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
        warn(
            f"{path}: {fmt} cannot store transparency; the alpha channel is dropped (write .png to keep it)."
        )
        alpha = None
    img = Image.fromarray(rgb, "RGB")
    if alpha is not None:
        img.putalpha(Image.fromarray(np.asarray(alpha, np.uint8), "L"))
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    options.update(save_options(meta, fmt))
    for what in meta.dropped if meta is not None else ():
        warn(f"{path}: not written: {what}.")
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
