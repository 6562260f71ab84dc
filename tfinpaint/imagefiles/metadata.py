"""What a photo carries besides its pixels, kept from the input file to the output file.

An inpainted photo written without its colour profile looks colour-shifted in every viewer that
manages colour (a Display P3 or Adobe RGB photo shown as sRGB), and one written without its EXIF
loses the camera, date and GPS data its owner expects to keep. `ImageMeta` holds what
`tfinpaint.imagefiles.read_image` found and `save_options` turns it into Pillow's save arguments for the
output's format, so `tfinpaint.imagefiles.write_image` writes it back.
"""

from __future__ import annotations

import dataclasses

from PIL import Image, JpegImagePlugin, PngImagePlugin

# The colour space an ICC profile describes: bytes 16..19 of its header.
_ICC_COLOUR_SPACE = slice(16, 20)
# What each output format can store (Pillow's save arguments).
_KEEPS = {
    "JPEG": ("icc_profile", "exif", "dpi"),
    "PNG": ("icc_profile", "exif", "dpi"),
    "WEBP": ("icc_profile", "exif"),
    "TIFF": ("icc_profile", "exif", "dpi"),
    "BMP": ("dpi",),
}
# Pillow's JPEG subsampling codes; -1 = not a JPEG (or a grey / CMYK one).
SUBSAMPLING_NAMES = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}


@dataclasses.dataclass
class ImageMeta:
    """Metadata of a decoded image file, ready to be written with the output.

    Attributes:
        icc_profile: the embedded ICC profile (bytes) when it describes RGB, else None.
        exif: raw EXIF bytes with the Orientation tag removed (the rotation is applied to the
            pixels on reading, so "normal" is what the output must say), or None.
        dpi: (x, y) dots per inch, swapped when the EXIF rotation turned the image, or None.
        text: PNG text chunks (tEXt / zTXt / iTXt) by keyword.
        subsampling: the JPEG input's chroma subsampling (0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0),
            or None for other inputs.
        dropped: what could not be kept and why (for a warning), e.g. a CMYK ICC profile.
    """

    icc_profile: bytes | None = None
    exif: bytes | None = None
    dpi: tuple[float, float] | None = None
    text: dict[str, str] = dataclasses.field(default_factory=dict)
    subsampling: int | None = None
    dropped: list[str] = dataclasses.field(default_factory=list)


def read_meta(opened: Image.Image, decoded: Image.Image) -> ImageMeta:
    """The metadata of `opened` (the file as opened) after `decoded` (EXIF-rotated) was made from it.

    Args:
        opened: the Pillow image as opened from the file (its format and JPEG layers).
        decoded: the result of `ImageOps.exif_transpose(opened)`, whose `info` carries the EXIF
            and XMP with the orientation already removed.
    """
    meta = ImageMeta()
    icc = decoded.info.get("icc_profile") or None
    if icc:
        space = bytes(icc[_ICC_COLOUR_SPACE]).decode("latin-1").strip()
        if space == "RGB":
            meta.icc_profile = icc
        else:
            # Pixels are converted to RGB without colour management; a CMYK or grey profile
            # would be wrong on the RGB output.
            meta.dropped.append(f"its {space or 'unknown'} ICC profile (the output is RGB)")
    exif = decoded.getexif()
    if len(exif):
        exif.pop(0x0112, None)  # Orientation: exif_transpose applied it (and Pillow removes it).
        meta.exif = exif.tobytes()
    dpi = decoded.info.get("dpi")
    if dpi:
        rotated = decoded.size != opened.size
        meta.dpi = (float(dpi[1]), float(dpi[0])) if rotated else (float(dpi[0]), float(dpi[1]))
    if isinstance(opened, PngImagePlugin.PngImageFile):
        # decoded.info holds the chunks after exif_transpose removed an XMP orientation.
        meta.text = {key: decoded.info.get(key, value) for key, value in opened.text.items()}
    sampling = JpegImagePlugin.get_sampling(opened)
    meta.subsampling = sampling if sampling in SUBSAMPLING_NAMES else None
    return meta


def save_options(meta: ImageMeta | None, fmt: str) -> dict:
    """Pillow `Image.save` keyword arguments that write `meta` into a `fmt` file ("JPEG", "PNG", …).

    What a format cannot store is left out (WebP has no DPI, BMP no profile); PNG text chunks go
    to PNG outputs only, the JPEG subsampling to JPEG outputs only.
    """
    if meta is None:
        return {}
    options = {}
    for key in _KEEPS.get(fmt, ()):
        value = getattr(meta, key)
        if value:
            options[key] = value
    if fmt == "PNG" and meta.text:
        info = PngImagePlugin.PngInfo()
        for key, value in meta.text.items():
            info.add_text(key, value)
        options["pnginfo"] = info
    if fmt == "JPEG" and meta.subsampling is not None:
        options["subsampling"] = meta.subsampling
    return options
