"""Image and mask files from users: read anything Pillow can, write atomically, say what changed.

- `reading`: `read_image` (8-bit RGB plus the alpha channel, EXIF orientation applied),
  `declared_size` (from the header alone), `LoadedImage`, `ImageError`, `MAX_PIXELS`.
- `masks`: `read_mask` (white >= 128 = hole), `fit_mask` (the image's size, or `MaskSizeError`).
- `writing`: `write_image` (format from the extension, never over a file without `overwrite`),
  `output_format`, `WRITE_FORMATS`, `write_bytes_atomic`.
- `metadata`: the ICC profile, EXIF, DPI and text kept from the input file to the output.

Every problem is an `ImageError` naming the file, what was found and what was expected, or an
`InputWarning` (Python `warnings`) saying what was done about it.
"""

from tfinpaint.imagefiles.masks import MaskSizeError, fit_mask, read_mask
from tfinpaint.imagefiles.reading import MAX_PIXELS, ImageError, LoadedImage, declared_size, read_image
from tfinpaint.imagefiles.writing import WRITE_FORMATS, output_format, write_bytes_atomic, write_image

__all__ = [
    "MAX_PIXELS",
    "WRITE_FORMATS",
    "ImageError",
    "LoadedImage",
    "MaskSizeError",
    "declared_size",
    "fit_mask",
    "output_format",
    "read_image",
    "read_mask",
    "write_bytes_atomic",
    "write_image",
]
