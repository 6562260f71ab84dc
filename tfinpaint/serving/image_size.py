"""The pixels an encoded image will take once decoded, read from its header alone.

A 48 kB PNG can declare 20000x20000 pixels (a decompression bomb): decoding it to find out
takes gigabytes. These readers parse only the fields that declare the size — PNG's IHDR,
JPEG's SOF segment, GIF's screen and frame descriptors, WebP's VP8/VP8L/VP8X chunks, BMP's
info header — and never decompress anything. A file whose size cannot be established this
way gets `None`, which callers must treat as too large.

References:
    PNG: https://www.w3.org/TR/png/#11IHDR
    JPEG: ITU-T T.81, B.2.2 (frame header)
    GIF: https://www.w3.org/Graphics/GIF/spec-gif89a.txt (sections 18, 20)
    WebP: https://developers.google.com/speed/webp/docs/riff_container
    BMP: https://learn.microsoft.com/windows/win32/gdi/bitmap-header-types
"""

from __future__ import annotations

import struct

FORMATS = "PNG, JPEG, GIF, WebP or BMP"

# JPEG markers that start a frame (SOF0-SOF15 except DHT, JPG and DAC) and standalone markers
# (no length field: TEM, RST0-7, SOI).
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD9)}


def _png(data: bytes) -> int | None:
    # Signature (8), then the first chunk must be IHDR: length (4), type (4), width, height.
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width * height


def _jpeg(data: bytes) -> int | None:
    position = 2  # after SOI
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker in _JPEG_STANDALONE:
            position += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, or scan data before any frame header
            return None
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if length < 2:
            return None
        if marker in _JPEG_SOF:
            if position + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            # Height 0 means "defined later by a DNL marker": not established by the header.
            return width * height if height else None
        position += 2 + length
    return None


def _gif_skip_sub_blocks(data: bytes, position: int) -> int | None:
    while position < len(data):
        size = data[position]
        position += 1 + size
        if size == 0:
            return position
    return None


def _gif(data: bytes) -> int | None:
    """Every frame's area summed (the decoder holds them all), at least the canvas' area.

    The decoder reads every frame into memory before it returns the first, and sizes its
    canvas by the largest frame, not by the logical screen: a small screen does not make a
    huge frame small.
    """
    if len(data) < 13:
        return None
    screen_width, screen_height, flags = struct.unpack("<HHB", data[6:11])
    position = 13
    if flags & 0x80:  # global colour table
        position += 3 * (2 << (flags & 7))
    frames, widest, tallest = 0, 0, 0
    while position < len(data):
        block = data[position]
        if block == 0x3B:  # trailer
            break
        if block == 0x21:  # extension: label, then sub-blocks
            position = _gif_skip_sub_blocks(data, position + 2)
        elif block == 0x2C:  # image descriptor: left, top, width, height, flags
            if position + 10 > len(data):
                return None
            width, height, frame_flags = struct.unpack("<HHB", data[position + 5 : position + 10])
            frames += width * height
            widest, tallest = max(widest, width), max(tallest, height)
            position += 10
            if frame_flags & 0x80:  # local colour table
                position += 3 * (2 << (frame_flags & 7))
            position = _gif_skip_sub_blocks(data, position + 1)  # after the LZW code size
        else:
            return None
        if position is None:  # truncated: the frames read so far are what a decoder holds
            break
    if not frames:
        return None
    return max(frames, widest * tallest, screen_width * screen_height)


def _webp(data: bytes) -> int | None:
    """The canvas' area; an animation counts its canvas once per frame."""
    if len(data) < 30:
        return None
    chunk = data[12:16]
    if chunk == b"VP8 ":
        # Frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height.
        if data[23:26] != b"\x9d\x01\x2a":
            return None
        width, height = struct.unpack("<HH", data[26:30])
        return (width & 0x3FFF) * (height & 0x3FFF)
    if chunk == b"VP8L":
        if data[20] != 0x2F:
            return None
        (bits,) = struct.unpack("<I", data[21:25])
        return ((bits & 0x3FFF) + 1) * (((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        frames = 0
        if data[20] & 0x02:  # animation: count the ANMF chunks
            position = 12
            while position + 8 <= len(data):
                name = data[position : position + 4]
                (size,) = struct.unpack("<I", data[position + 4 : position + 8])
                frames += name == b"ANMF"
                position += 8 + size + (size & 1)
        return width * height * max(frames, 1)
    return None


def _bmp(data: bytes) -> int | None:
    if len(data) < 26:
        return None
    (header_size,) = struct.unpack("<I", data[14:18])
    if header_size == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sides
        width, height = struct.unpack("<HH", data[18:22])
    else:
        width, height = struct.unpack("<ii", data[18:26])  # height < 0: stored top-down
    return abs(width) * abs(height)


def declared_pixels(data: bytes) -> int | None:
    """Pixels `data` declares (width x height, see the readers for animations), or None.

    Args:
        data: an encoded image file's bytes (the whole file, or at least its header).

    Returns:
        The pixel count the header declares, or None when the format is not one of
        `FORMATS` or its header is missing, truncated or malformed.
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png(data)
    if data.startswith(b"\xff\xd8"):
        return _jpeg(data)
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return _gif(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    if data[:2] == b"BM":
        return _bmp(data)
    return None
