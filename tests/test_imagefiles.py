"""Image and mask files from users: one test (or more) per kind of file users bring."""

import functools
import io
import os
import struct
import warnings
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from tfinpaint.convention import InputWarning, hole_from_values
from tfinpaint.imagefiles import ImageError, read_image, read_mask, write_image


def _gradient(h=24, w=32):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) % 256], -1).astype(np.uint8)


def _no_warnings(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        return fn(*args, **kwargs)


# -- images -----------------------------------------------------------------------------------


def test_rgb_png_round_trip_without_warnings(tmp_path):
    rgb = _gradient()
    path = write_image(tmp_path / "a.png", rgb)
    loaded = _no_warnings(read_image, path)
    np.testing.assert_array_equal(loaded.rgb, rgb)
    assert loaded.alpha is None and loaded.size == (24, 32)


def test_rgba_keeps_alpha_apart_and_writes_it_back(tmp_path):
    rgb, alpha = _gradient(), np.tile(np.arange(32, dtype=np.uint8) * 8, (24, 1))
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(tmp_path / "in.png")
    loaded = read_image(tmp_path / "in.png")
    np.testing.assert_array_equal(loaded.rgb, rgb)
    np.testing.assert_array_equal(loaded.alpha, alpha)
    write_image(tmp_path / "out.png", loaded.rgb, loaded.alpha)
    back = np.asarray(Image.open(tmp_path / "out.png"))
    assert back.shape == (24, 32, 4)
    np.testing.assert_array_equal(back[..., 3], alpha)


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "1", "LA"])
def test_other_modes_become_rgb(tmp_path, mode):
    source = Image.fromarray(_gradient(), "RGB").convert(mode)
    ext = ".jpg" if mode == "CMYK" else ".png"
    source.save(tmp_path / f"in{ext}")
    loaded = read_image(tmp_path / f"in{ext}")
    assert loaded.rgb.dtype == np.uint8 and loaded.rgb.shape == (24, 32, 3)
    expected = np.asarray(source.convert("RGB"))
    tolerance = 8 if mode == "CMYK" else 0  # JPEG
    assert np.abs(loaded.rgb.astype(int) - expected).max() <= tolerance
    if mode == "1":
        assert set(np.unique(loaded.rgb)) <= {0, 255}
    assert (loaded.alpha is not None) == (mode == "LA")


def test_palette_with_transparency_keeps_alpha(tmp_path):
    img = Image.fromarray(_gradient(), "RGB").convert("P")
    img.info["transparency"] = 0
    img.save(tmp_path / "p.png", transparency=0)
    loaded = read_image(tmp_path / "p.png")
    assert loaded.alpha is not None and loaded.alpha.min() == 0 and loaded.alpha.max() == 255


def test_16bit_gray_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16).repeat(4, 0)
    Image.fromarray(values).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    with pytest.warns(InputWarning, match="scaled to 8 bits"):
        loaded = read_image(tmp_path / "g16.png")
    np.testing.assert_array_equal(loaded.rgb[0, :, 0], [0, 1, 128, 255])
    assert (loaded.rgb[..., 0] == loaded.rgb[..., 2]).all()


def test_16bit_rgb_keeps_its_values(tmp_path):
    rgb16 = _gradient().astype(np.uint16) * 257
    ok, data = cv2.imencode(".png", rgb16[..., ::-1])  # in memory: cv2 never touches a path
    (tmp_path / "c16.png").write_bytes(data.tobytes())
    loaded = read_image(tmp_path / "c16.png")
    assert np.abs(loaded.rgb.astype(int) - _gradient()).max() <= 1


def _exif_rotated_jpeg(path, array, orientation=6):
    img = Image.fromarray(array)
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.save(path, exif=exif.tobytes(), quality=98)


def test_exif_orientation_is_applied_to_image_and_mask(tmp_path):
    array = np.zeros((20, 40, 3), np.uint8)
    array[:5, :5] = 255  # a white corner, top-left as stored
    _exif_rotated_jpeg(tmp_path / "photo.jpg", array)
    loaded = read_image(tmp_path / "photo.jpg")
    assert loaded.size == (40, 20)  # rotated 90 degrees: portrait
    assert loaded.rgb[:5, -5:].mean() > 200  # orientation 6 = rotate clockwise
    mask = np.zeros((20, 40), np.uint8)
    mask[:5, :5] = 255
    _exif_rotated_jpeg(tmp_path / "mask.jpg", np.dstack([mask] * 3))
    hole = read_mask(tmp_path / "mask.jpg", size=loaded.size)
    assert hole.shape == (40, 20) and hole[:5, -5:].mean() > 0.8
    # The same mask stored upright without EXIF no longer fits the rotated photo.
    Image.fromarray(mask).save(tmp_path / "plain.png")
    with pytest.raises(ImageError, match="40x20.*20x40"):
        read_mask(tmp_path / "plain.png", size=loaded.size, image_name="photo.jpg")


def test_animated_gif_uses_first_frame_and_says_so(tmp_path):
    frames = [Image.fromarray(np.full((16, 16, 3), v, np.uint8)) for v in (10, 200)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    with pytest.warns(InputWarning, match="first frame"):
        loaded = read_image(tmp_path / "anim.gif")
    assert loaded.rgb.shape == (16, 16, 3) and abs(int(loaded.rgb.mean()) - 10) <= 2


def _png_header_only(width, height):
    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def test_decompression_bomb_refused_from_header(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(30_000, 30_000))  # ~100 bytes declaring 900 MP
    assert path.stat().st_size < 200
    with pytest.raises(ImageError, match="bomb"):
        read_image(path)
    # The cap is configurable; a small one refuses an ordinary image before decoding it.
    write_image(tmp_path / "ok.png", _gradient())
    with pytest.raises(ImageError, match=r"768 pixels.*cap of 500"):
        read_image(tmp_path / "ok.png", max_pixels=500)
    assert read_image(tmp_path / "ok.png", max_pixels=768).size == (24, 32)


@pytest.mark.parametrize("kind", ["truncated_jpeg", "truncated_png", "text", "empty", "missing", "folder"])
def test_unreadable_inputs_give_a_clear_error_with_the_path(tmp_path, kind):
    path = tmp_path / f"bad_{kind}.png"
    if kind.startswith("truncated"):
        fmt = "JPEG" if kind.endswith("jpeg") else "PNG"
        buffer = io.BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(
            buffer, format=fmt
        )
        path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    elif kind == "text":
        path.write_text("not an image at all")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "folder":
        path.mkdir()
    with pytest.raises(ImageError) as error:
        read_image(path)
    message = str(error.value)
    assert str(path) in message and "\n" not in message
    assert {
        "truncated_jpeg": "truncated",
        "truncated_png": "truncated",
        "text": "not an image",
        "empty": "empty",
        "missing": "no such file",
        "folder": "folder",
    }[kind] in message


def test_non_ascii_paths_read_and_write(tmp_path):
    folder = tmp_path / "фото 写真"
    folder.mkdir()
    path = folder / "ñandú é.png"
    write_image(path, _gradient())
    np.testing.assert_array_equal(read_image(path).rgb, _gradient())
    Image.fromarray(np.full((24, 32), 255, np.uint8)).save(folder / "máscara.png")
    assert read_mask(folder / "máscara.png", size=(24, 32)).all()


def test_read_image_from_bytes():
    buffer = io.BytesIO()
    Image.fromarray(_gradient()).save(buffer, format="PNG")
    np.testing.assert_array_equal(read_image(buffer.getvalue()).rgb, _gradient())
    with pytest.raises(ImageError, match="empty"):
        read_image(b"", name="upload")


# -- masks ------------------------------------------------------------------------------------


def _rect_mask(h=32, w=32, value=255):
    mask = np.zeros((h, w), np.uint8)
    mask[8:24, 10:22] = value
    return mask


def test_mask_threshold_is_mid_grey_not_nonzero(tmp_path):
    values = np.array([[0, 1, 60, 127, 128, 200, 255]], np.uint8)
    Image.fromarray(values).save(tmp_path / "m.png")
    with pytest.warns(InputWarning, match="grey"):
        hole = read_mask(tmp_path / "m.png")
    np.testing.assert_array_equal(hole[0], [0, 0, 0, 0, 1, 1, 1])


def test_mask_in_0_1_is_accepted(tmp_path):
    Image.fromarray(_rect_mask(value=1)).save(tmp_path / "m01.png")
    hole = _no_warnings(read_mask, tmp_path / "m01.png", size=(32, 32))
    np.testing.assert_array_equal(hole, _rect_mask(value=1))


def test_soft_jpeg_mask_is_thresholded_with_a_warning(tmp_path):
    disk = np.zeros((48, 48), np.uint8)
    cv2.circle(disk, (24, 24), 12, 255, -1)
    soft = cv2.GaussianBlur(disk, (0, 0), 2.0)  # a soft brush
    Image.fromarray(soft).save(tmp_path / "soft.jpg", quality=60)
    with pytest.warns(InputWarning, match="thresholded at 128"):
        hole = read_mask(tmp_path / "soft.jpg")
    # Mid-grey decides the edge; `> 0` would have grown the hole by the whole blur.
    assert np.abs(hole.astype(int) - (soft >= 128)).sum() <= 24
    assert hole.sum() < np.count_nonzero(soft > 0) * 0.8
    Image.fromarray(_rect_mask()).save(tmp_path / "sharp.png")
    _no_warnings(read_mask, tmp_path / "sharp.png")


def test_mask_in_alpha_channel_is_used_and_said(tmp_path):
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., 3] = _rect_mask()  # black everywhere, the shape only in the alpha
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha_mask.png")
    with pytest.warns(InputWarning, match="alpha"):
        hole = read_mask(tmp_path / "alpha_mask.png")
    np.testing.assert_array_equal(hole, _rect_mask(value=1))


def test_white_strokes_on_transparent_layer(tmp_path):
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., :3] = 255  # editors often keep white under fully transparent pixels
    rgba[:, :16, :3] = 0
    rgba[..., 3] = _rect_mask()
    Image.fromarray(rgba, "RGBA").save(tmp_path / "strokes.png")
    hole = read_mask(tmp_path / "strokes.png")
    expected = _rect_mask(value=1)
    expected[:, :16] = 0  # black opaque strokes are not holes
    np.testing.assert_array_equal(hole, expected)


@pytest.mark.filterwarnings("ignore:.*marked pixels are grey")
def test_photo_with_a_cut_out_as_mask_is_called_out(tmp_path):
    rgba = np.dstack([_gradient(32, 32), np.full((32, 32), 255, np.uint8)])
    rgba[8:24, 10:22, 3] = 0  # the hole cut out of the photo
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cutout.png")
    with pytest.warns(InputWarning, match="looks like it is the alpha channel"):
        read_mask(tmp_path / "cutout.png")


def test_mask_size_mismatch_names_both_sizes_or_resizes_on_request(tmp_path):
    Image.fromarray(_rect_mask(16, 16)).save(tmp_path / "small.png")
    with pytest.raises(ImageError, match=r"mask is 16x16 but photo.png is 32x24.*--resize-mask"):
        read_mask(tmp_path / "small.png", size=(24, 32), image_name="photo.png")
    with pytest.warns(InputWarning, match="resized"):
        hole = read_mask(tmp_path / "small.png", size=(24, 32), resize=True)
    assert hole.shape == (24, 32) and set(np.unique(hole)) == {0, 1}


def test_mask_from_values_rules():
    assert hole_from_values(np.array([[0, 1]])).tolist() == [[0, 1]]
    with pytest.warns(InputWarning, match="2 of 3 marked pixels are grey"):
        soft = hole_from_values(np.array([[0, 127, 128, 255]], np.uint8))
    assert soft.tolist() == [[0, 0, 1, 1]]


# -- writing ----------------------------------------------------------------------------------


def test_write_never_overwrites_without_flag_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "out.png"
    write_image(path, _gradient())
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite"):
        write_image(path, np.zeros((24, 32, 3), np.uint8))
    assert path.read_bytes() == before
    write_image(path, np.zeros((24, 32, 3), np.uint8), overwrite=True)
    assert read_image(path).rgb.max() == 0
    assert sorted(os.listdir(tmp_path)) == ["out.png"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600


def test_jpg_and_png_do_not_collide_and_format_follows_extension(tmp_path):
    write_image(tmp_path / "a.jpg", _gradient())
    write_image(tmp_path / "a.png", _gradient())
    assert Image.open(tmp_path / "a.jpg").format == "JPEG"
    assert Image.open(tmp_path / "a.png").format == "PNG"
    with pytest.raises(ImageError, match="expected one of"):
        write_image(tmp_path / "a.xyz", _gradient())


def test_jpeg_cannot_keep_alpha_and_says_so(tmp_path):
    with pytest.warns(InputWarning, match="alpha channel is dropped"):
        write_image(tmp_path / "a.jpg", _gradient(), np.full((24, 32), 128, np.uint8))
    assert Image.open(tmp_path / "a.jpg").mode == "RGB"


# -- metadata kept ----------------------------------------------------------------------------

_MAKE, _ORIENTATION = 0x010F, 0x0112


@functools.cache
def _srgb_icc() -> bytes:
    """One sRGB profile for the whole test run: a profile's header holds its creation time."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _photo_with_metadata(path, fmt):
    """A 32x24 photo stored sideways (EXIF orientation 6) with an ICC profile, EXIF and DPI."""
    exif = Image.Exif()
    exif[_MAKE] = "tfinpaint-test-camera"
    exif[_ORIENTATION] = 6
    options = {"icc_profile": _srgb_icc(), "exif": exif.tobytes(), "dpi": (300, 150)}
    if fmt == "PNG":
        from PIL import PngImagePlugin

        text = PngImagePlugin.PngInfo()
        text.add_text("Comment", "made for a round trip")
        text.add_text("Title", "Überschrift 写真")  # not Latin-1: an iTXt chunk
        options["pnginfo"] = text
    else:
        options.update(quality=95, subsampling=0)  # 4:4:4, not Pillow's default 4:2:0
    Image.fromarray(_gradient(24, 32)).save(path, format=fmt, **options)


@pytest.mark.parametrize("in_fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("out_ext", [".png", ".jpg"])
def test_icc_exif_dpi_and_text_survive_a_round_trip(tmp_path, in_fmt, out_ext):
    source = tmp_path / f"in.{in_fmt.lower()}"
    _photo_with_metadata(source, in_fmt)
    loaded = _no_warnings(read_image, source)
    assert loaded.size == (32, 24)  # the rotation is applied to the pixels
    out = write_image(tmp_path / f"out{out_ext}", loaded.rgb, meta=loaded.meta)

    back = Image.open(out)
    assert back.size == (24, 32)
    assert back.info["icc_profile"] == _srgb_icc()
    exif = back.getexif()
    assert exif[_MAKE] == "tfinpaint-test-camera"
    assert exif.get(_ORIENTATION, 1) == 1  # rotated once: viewers must not rotate it again
    assert back.info["dpi"] == pytest.approx((150, 300), abs=0.1)  # swapped with the rotation
    if in_fmt == "PNG" and out_ext == ".png":
        assert back.text == {"Comment": "made for a round trip", "Title": "Überschrift 写真"}
    if out_ext == ".jpg":
        from PIL import JpegImagePlugin

        # A JPEG input's 4:4:4 is kept; a PNG input gets Pillow's 4:2:0.
        assert JpegImagePlugin.get_sampling(back) == (0 if in_fmt == "JPEG" else 2)


def test_without_meta_nothing_is_added(tmp_path):
    _photo_with_metadata(tmp_path / "in.png", "PNG")
    out = write_image(tmp_path / "out.png", read_image(tmp_path / "in.png").rgb)
    back = Image.open(out)
    assert "icc_profile" not in back.info and not len(back.getexif()) and not back.text


def test_a_cmyk_profile_is_not_put_on_the_rgb_output(tmp_path):
    cmyk_icc = bytearray(_srgb_icc())
    cmyk_icc[16:20] = b"CMYK"  # the header's colour space: what the check reads
    Image.fromarray(_gradient()).convert("CMYK").save(tmp_path / "cmyk.jpg", icc_profile=bytes(cmyk_icc))
    loaded = read_image(tmp_path / "cmyk.jpg")
    assert loaded.meta.icc_profile is None
    with pytest.warns(InputWarning, match="CMYK ICC profile"):
        out = write_image(tmp_path / "out.jpg", loaded.rgb, meta=loaded.meta)
    assert "icc_profile" not in Image.open(out).info
