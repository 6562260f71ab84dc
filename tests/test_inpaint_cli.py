"""`tfinpaint inpaint` on real photo files: one mask for a folder, metadata kept, mask options,
baselines by name."""

import importlib.util
import os

import numpy as np
import pytest
from PIL import Image, ImageCms, JpegImagePlugin, PngImagePlugin

from tfinpaint import cli, maskops

W, H = 96, 72


def _photo(photo_paths, k, size=(W, H)) -> Image.Image:
    return Image.open(photo_paths[(k * 37) % len(photo_paths)]).convert("RGB").resize(size)


def _hole(w=W, h=H) -> np.ndarray:
    hole = np.zeros((h, w), bool)
    hole[h // 3 : h // 3 + 20, w // 3 : w // 3 + 28] = True
    return hole


def _mask_file(path, hole) -> str:
    Image.fromarray(hole.astype(np.uint8) * 255).save(path)
    return str(path)


def _errors(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.fixture
def folder(tmp_path, photo_paths):
    """photos/ with three 96x72 photos and one 72x96 (portrait) photo, and a watermark mask."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for k, name in enumerate(["a.jpg", "b.png", "c.jpg"]):
        _photo(photo_paths, k).save(photos / name, quality=95)
    _photo(photo_paths, 3, size=(H, W)).save(photos / "portrait.jpg", quality=95)
    return photos, _mask_file(tmp_path / "watermark.png", _hole())


def test_one_mask_for_a_folder_skips_other_sizes_and_says_why(folder, tmp_path, capsys):
    photos, mask = folder
    out = tmp_path / "out"
    argv = ["inpaint", str(photos), "--mask", mask, "-o", str(out), "--model", "telea", "--blend", "none"]
    assert cli.main(argv) == 0
    assert sorted(os.listdir(out)) == ["a_inpainted.jpg", "b_inpainted.png", "c_inpainted.jpg"]
    err = _errors(capsys)
    assert f"{photos / 'portrait.jpg'}: skipped: 72x96, the shared mask {mask} is 96x72" in err
    assert "1 of 4 images skipped (not the shared mask's size): portrait.jpg" in err
    hole = _hole()
    # The PNG: every pixel outside the hole is the photo's, byte for byte.
    written = np.asarray(Image.open(out / "b_inpainted.png"))
    original = np.asarray(Image.open(photos / "b.png"))
    np.testing.assert_array_equal(written[~hole], original[~hole])
    assert (written[hole] != original[hole]).any()

    again = tmp_path / "out-resized"
    argv = ["inpaint", str(photos), "--mask", mask, "-o", str(again), "--model", "telea", "--resize-mask"]
    assert cli.main(argv) == 0
    assert len(os.listdir(again)) == 4
    assert "mask resized from 96x72 to 72x96" in _errors(capsys)


def test_a_mask_of_another_size_for_one_image_is_still_an_error(folder, tmp_path, capsys):
    photos, mask = folder
    argv = ["inpaint", str(photos / "portrait.jpg"), "--mask", mask, "-o", str(tmp_path / "p.jpg")]
    assert cli.main(argv + ["--model", "telea"]) == 2
    assert "mask is 96x72 but" in _errors(capsys) and not (tmp_path / "p.jpg").exists()


def _with_metadata(image: Image.Image, path, fmt):
    exif = Image.Exif()
    exif[0x010F] = "tfinpaint-test-camera"
    exif[0x0112] = 6  # stored sideways: viewers rotate it 90 degrees clockwise
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    options = {"icc_profile": icc, "exif": exif.tobytes(), "dpi": (240, 240)}
    if fmt == "PNG":
        options["pnginfo"] = PngImagePlugin.PngInfo()
        options["pnginfo"].add_text("Description", "a photo with a text chunk")
    else:
        options.update(quality=95, subsampling=1)  # 4:2:2
    image.save(path, format=fmt, **options)
    return icc


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_outputs_keep_profile_exif_dpi_text_and_subsampling(tmp_path, photo_paths, fmt):
    ext = ".jpg" if fmt == "JPEG" else ".png"
    source = tmp_path / f"shot{ext}"
    icc = _with_metadata(_photo(photo_paths, 0), source, fmt)
    mask = _mask_file(tmp_path / "mask.png", _hole(H, W))  # drawn on the upright (rotated) photo
    assert cli.main(["inpaint", str(source), "--mask", mask, "--model", "telea"]) == 0
    back = Image.open(tmp_path / f"shot_inpainted{ext}")
    assert back.size == (H, W)  # the rotation is in the pixels now …
    exif = back.getexif()
    assert exif.get(0x0112, 1) == 1 and exif[0x010F] == "tfinpaint-test-camera"  # … not in the tag
    assert back.info["icc_profile"] == icc and back.info["dpi"] == pytest.approx((240, 240), abs=0.1)
    if fmt == "PNG":
        assert back.text["Description"] == "a photo with a text chunk"
    else:
        assert JpegImagePlugin.get_sampling(back) == 1


def test_quality_sets_the_jpeg_quality(tmp_path, photo_paths):
    _photo(photo_paths, 1).save(tmp_path / "p.jpg", quality=95)
    mask = _mask_file(tmp_path / "m.png", _hole())
    sizes = {}
    for quality in (None, "40"):
        out = tmp_path / f"q{quality}.jpg"
        extra = ["--quality", quality] if quality else []
        argv = ["inpaint", str(tmp_path / "p.jpg"), "--mask", mask, "-o", str(out), "--model", "telea"]
        assert cli.main(argv + extra) == 0
        sizes[quality] = out.stat().st_size
    assert sizes["40"] < 0.7 * sizes[None]  # the default is 95
    with pytest.raises(SystemExit):
        cli.main(["inpaint", str(tmp_path / "p.jpg"), "--mask", mask, "--quality", "0"])


def test_an_inverted_mask_is_called_out_and_flipped_on_request(tmp_path, photo_paths, capsys):
    _photo(photo_paths, 2).save(tmp_path / "p.png")
    inverted = _mask_file(tmp_path / "inverted.png", ~_hole())
    argv = ["inpaint", str(tmp_path / "p.png"), "--mask", inverted, "--model", "telea", "--blend", "none"]
    assert cli.main(argv) == 0
    err = _errors(capsys)
    assert "looks inverted" in err and "--invert-mask" in err and "inverted.png" in err
    assert cli.main(argv + ["--invert-mask", "--overwrite"]) == 0
    assert "looks inverted" not in _errors(capsys)
    written = np.asarray(Image.open(tmp_path / "p_inpainted.png"))
    original = np.asarray(Image.open(tmp_path / "p.png"))
    np.testing.assert_array_equal(written[~_hole()], original[~_hole()])


def test_dilate_and_feather_change_only_what_they_say(tmp_path, photo_paths):
    _photo(photo_paths, 4).save(tmp_path / "p.png")
    original = np.asarray(Image.open(tmp_path / "p.png"))
    hole = _hole()
    mask = _mask_file(tmp_path / "m.png", hole)
    base = ["inpaint", str(tmp_path / "p.png"), "--mask", mask, "--model", "telea"]
    assert cli.main(base + ["-o", str(tmp_path / "d.png"), "--dilate", "4", "--blend", "none"]) == 0
    dilated = np.asarray(Image.open(tmp_path / "d.png"))
    grown = maskops.dilate(hole, 4)
    np.testing.assert_array_equal(dilated[~grown], original[~grown])
    assert (dilated[grown & ~hole] != original[grown & ~hole]).any()

    assert cli.main(base + ["-o", str(tmp_path / "f.png"), "--dilate", "2", "--feather", "6"]) == 0
    feathered = np.asarray(Image.open(tmp_path / "f.png"))
    distance = maskops.distance_to_hole(maskops.dilate(hole, 2))
    np.testing.assert_array_equal(feathered[distance > 6], original[distance > 6])
    ring = (distance > 0) & (distance <= 6)
    assert (feathered[ring] != original[ring]).any()


@pytest.mark.parametrize(
    "model",
    [
        "telea",
        "NS",
        "biharmonic",
        pytest.param(
            "patchmatch",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("patchmatch") is None, reason="no pypatchmatch"
            ),
        ),
    ],
)
def test_baselines_by_name(tmp_path, photo_paths, model, capsys):
    _photo(photo_paths, 5).save(tmp_path / "p.png")
    mask = _mask_file(tmp_path / "m.png", _hole())
    argv = ["inpaint", str(tmp_path / "p.png"), "--mask", mask, "--model", model]
    assert cli.main(argv) == 0
    assert os.path.exists(tmp_path / "p_inpainted.png")
    assert cli.main(argv + ["--samples", "2", "--overwrite"]) == 2
    assert "cannot draw samples" in _errors(capsys)
