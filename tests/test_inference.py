"""Model inpainters, the large-image policy, model paths and `tfinpaint inpaint` end to end.

Untrained narrow generators of both papers: these tests are about shapes, windows, padding,
pixels outside the hole and files, not about the quality of the completion.
"""

import os
import shutil

import numpy as np
import pytest
from PIL import Image

from tfinpaint import cli
from tfinpaint.config import get_config
from tfinpaint.inference import (
    TRAIN_HINT,
    KerasInpainter,
    ModelPathError,
    SavedModelInpainter,
    inpaint,
    load_model_inpainter,
    newest_version,
    resolve_model_path,
)
from tfinpaint.io import InputWarning, read_image
from tfinpaint.models import build_generator
from tfinpaint.postprocess import blend_region


@pytest.fixture(scope="module")
def paper2():
    return build_generator(get_config(2, "demo", ["model.generator_width=8"]))


@pytest.fixture(scope="module")
def paper1():
    # max_side 64 stands in for the paper's attention limit at a test-sized scale.
    return build_generator(
        get_config(1, "demo", ["model.width=4", "model.latent_channels=8", "model.max_side=64"])
    )


@pytest.fixture(scope="module")
def model_files(paper2, tmp_path_factory):
    """A `.keras` file, a run directory and a TF Serving base path, all of the paper-2 model."""
    from tfinpaint.export import export_saved_model

    root = tmp_path_factory.mktemp("models")
    keras_path = str(root / "generator.keras")
    paper2.save(keras_path)
    run_dir = root / "runs" / "paper2-demo"
    run_dir.mkdir(parents=True)
    shutil.copy(keras_path, run_dir / "generator.keras")
    (run_dir / "config.json").write_text(get_config(2, "demo").to_json())
    base = str(root / "saved_models" / "paper2_demo")
    export_saved_model(paper2, base)
    return {"keras": keras_path, "run_dir": str(run_dir), "base": base}


def spy(inpainter):
    """Record the input shape of every network run of `inpainter`."""
    calls, predict = [], inpainter._predict

    def recording(images, masks, seed):
        calls.append(images.shape)
        return predict(images, masks, seed)

    inpainter._predict = recording
    return calls


def photo(h, w, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) % 256], -1)
    return np.clip(base + rng.integers(-20, 21, (h, w, 3)), 0, 255).astype(np.uint8)


def box_mask(h, w, *boxes):
    hole = np.zeros((h, w), bool)
    for y0, y1, x0, x1 in boxes:
        hole[y0:y1, x0:x1] = True
    return hole


# -- the shape policy -------------------------------------------------------------------------


def test_odd_size_is_reflect_padded_and_cropped_back(paper2):
    inpainter = KerasInpainter(paper2)
    calls = spy(inpainter)
    image, hole = photo(333, 517), box_mask(333, 517, (100, 160, 200, 290))
    out = inpaint(image, hole, model=inpainter, blend="none")
    assert out.shape == image.shape and out.dtype == np.uint8
    assert calls == [(1, 336, 520, 3)]
    np.testing.assert_array_equal(out[~hole], image[~hole])
    assert (out[hole] != image[hole]).any()


def test_large_image_runs_the_network_on_a_window_only(paper2):
    inpainter = KerasInpainter(paper2)  # max_side 1024, context 128
    calls = spy(inpainter)
    image = np.tile(photo(200, 300), (10, 10, 1))
    hole = box_mask(2000, 3000, (1200, 1240, 2500, 2560))
    out = inpaint(image, hole, model=inpainter, blend="none")
    assert out.shape == (2000, 3000, 3)
    assert len(calls) == 1 and max(calls[0][1:3]) <= 40 + 60 + 2 * 128
    assert calls[0][1] % 4 == 0 and calls[0][2] % 4 == 0
    np.testing.assert_array_equal(out[~hole], image[~hole])
    assert (out[hole] != image[hole]).any()


def test_hole_too_big_for_a_window_is_done_downscaled(paper2):
    inpainter = KerasInpainter(paper2, max_side=128, context=32)
    calls = spy(inpainter)
    image, hole = photo(600, 900), box_mask(600, 900, (100, 400, 200, 600))
    out = inpaint(image, hole, model=inpainter, blend="none")
    assert out.shape == image.shape
    assert len(calls) == 1 and max(calls[0][1:3]) <= 128
    np.testing.assert_array_equal(out[~hole], image[~hole])


def test_downscaled_hole_keeps_every_speck(paper2):
    inpainter = KerasInpainter(paper2, max_side=64, context=0)
    masks_seen, predict = [], inpainter._predict
    inpainter._predict = lambda images, masks, seed: (masks_seen.append(masks), predict(images, masks, seed))[
        1
    ]
    image = np.tile(photo(62, 62), (32, 32, 1))
    hole = np.zeros((1984, 1984), bool)
    hole[31::62, 31::62] = True  # 1024 one-pixel specks, one per ~31x31 shrunken cell
    out = inpaint(image, hole, model=inpainter, blend="none")
    assert len(masks_seen) == 1 and masks_seen[0].shape[1:3] == (64, 64)
    assert masks_seen[0].sum() >= 1024  # no speck lost to rounding when shrunk
    np.testing.assert_array_equal(out[~hole], image[~hole])


def test_distant_holes_get_windows_of_their_own(paper2):
    inpainter = KerasInpainter(paper2, max_side=128, context=32)
    calls = spy(inpainter)
    image = photo(500, 700)
    hole = box_mask(500, 700, (10, 30, 10, 30), (20, 40, 40, 60), (450, 480, 650, 690))
    out = inpaint(image, hole, model=inpainter, blend="none")
    # The two nearby holes share a window; the far one gets its own.
    assert len(calls) == 2 and all(max(c[1:3]) <= 128 for c in calls)
    np.testing.assert_array_equal(out[~hole], image[~hole])
    assert (out[hole] != image[hole]).any()


def test_the_network_runs_at_its_training_scale(paper2, model_files, tmp_path):
    # A model trained on 64-pixel crops: a 512-pixel photo's 80-pixel hole is completed in a
    # window shrunk to 64, as in training, and only the hole is scaled back.
    inpainter = KerasInpainter(paper2, train_size=64)
    assert inpainter.window_side == 64
    calls = spy(inpainter)
    image, hole = photo(512, 512), box_mask(512, 512, (140, 220, 300, 380))
    out = inpaint(image, hole, model=inpainter, blend="none")
    assert out.shape == image.shape and len(calls) == 1 and max(calls[0][1:3]) <= 64
    np.testing.assert_array_equal(out[~hole], image[~hole])
    # The training size travels with a run's .keras file (its config.json) and into exports.
    from tfinpaint.export import export_saved_model

    run_keras = load_model_inpainter(model_files["run_dir"])
    run_size = get_config(2, "demo").data.image_size
    assert run_keras.train_size == run_size
    exported = export_saved_model(run_keras.generator, str(tmp_path / "m"))
    assert load_model_inpainter(exported).train_size == run_size


def test_model_max_side_caps_the_window(paper1):
    inpainter = KerasInpainter(paper1)  # its max_side (64 here) wins over the default 1024
    assert inpainter.window_side == 64
    calls = spy(inpainter)
    image, hole = photo(150, 200), box_mask(150, 200, (60, 80, 90, 110))
    out = inpaint(image, hole, model=inpainter, blend="none")
    assert out.shape == image.shape and calls and all(max(c[1:3]) <= 64 for c in calls)
    assert all(c[1] % 32 == 0 and c[2] % 32 == 0 for c in calls)
    np.testing.assert_array_equal(out[~hole], image[~hole])


def test_empty_mask_returns_the_input_without_running_the_network(paper2):
    inpainter = KerasInpainter(paper2)
    calls = spy(inpainter)
    image = photo(45, 70)
    with pytest.warns(InputWarning, match="empty"):
        out = inpaint(image, np.zeros((45, 70), bool), model=inpainter)
    np.testing.assert_array_equal(out, image)
    with pytest.warns(InputWarning, match="empty"):
        batch = inpainter.inpaint_batch(image[None] / np.float32(255), np.zeros((1, 45, 70, 1), np.float32))
    np.testing.assert_array_equal(batch[0], image / np.float32(255))
    assert calls == []


@pytest.mark.parametrize("max_side", [1024, 64])
def test_full_mask_is_allowed_with_a_warning(paper2, max_side):
    inpainter = KerasInpainter(paper2, max_side=max_side, context=16)
    image = photo(90, 130)
    with pytest.warns(InputWarning, match="whole image"):
        out = inpaint(image, np.ones((90, 130), bool), model=inpainter)
    assert out.shape == image.shape and out.dtype == np.uint8


def test_inpaint_batch_contract(paper2):
    inpainter = KerasInpainter(paper2, max_side=32, context=8)
    images = np.stack([photo(36, 50, seed=s) for s in range(2)]).astype(np.float32) / 255
    masks = np.stack([box_mask(36, 50, (5, 15, 5, 20)), box_mask(36, 50, (20, 30, 30, 45))])
    masks = masks[..., None].astype(np.float32)
    out = inpainter.inpaint_batch(images, masks)  # larger than max_side: windows per image
    assert out.dtype == np.float32 and out.shape == images.shape
    np.testing.assert_array_equal(out[masks[..., 0] == 0], images[masks[..., 0] == 0])
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_poisson_blend_is_on_by_default_and_stays_near_the_hole(paper2):
    image, hole = photo(64, 96), box_mask(64, 96, (0, 24, 30, 60))  # touches the top border
    raw = inpaint(image, hole, model=KerasInpainter(paper2), blend="none")
    blended = inpaint(image, hole, model=KerasInpainter(paper2))
    region = blend_region(hole, 3)
    np.testing.assert_array_equal(blended[~region], image[~region])
    assert (blended[hole] != raw[hole]).any()


def test_samples_from_paper1_and_a_clear_error_for_paper2(paper1, paper2):
    image, hole = photo(40, 60), box_mask(40, 60, (8, 30, 10, 40))
    first, second = inpaint(image, hole, model=KerasInpainter(paper1), samples=2, seed=3)
    again = inpaint(image, hole, model=KerasInpainter(paper1), samples=1)
    assert first.shape == second.shape == again.shape == image.shape
    assert (first[hole] != second[hole]).any()
    with pytest.raises(ValueError, match="cannot draw samples"):
        inpaint(image, hole, model=KerasInpainter(paper2), samples=2)


def test_array_masks_and_argument_errors(paper2):
    image = photo(40, 60)
    soft = np.zeros((40, 60, 1), np.uint8)
    soft[10:20, 10:20] = 255
    soft[30:35, 30:35] = 100  # below mid-grey: not a hole
    with pytest.warns(InputWarning, match="grey"):
        out = inpaint(image, soft, model=KerasInpainter(paper2), blend="none")
    np.testing.assert_array_equal(out[30:35, 30:35], image[30:35, 30:35])
    with pytest.raises(ValueError, match=r"does not match"):
        inpaint(image, np.ones((20, 20), bool), model=KerasInpainter(paper2))
    with pytest.raises(ValueError, match="blend"):
        inpaint(image, soft, model=KerasInpainter(paper2), blend="laplace")


# -- exported and saved models ----------------------------------------------------------------


def test_saved_model_inpainter_matches_the_keras_model(paper2, model_files):
    inpainter = load_model_inpainter(model_files["base"])
    assert isinstance(inpainter, SavedModelInpainter) and inpainter.name == "paper2_demo/1"
    assert not inpainter.can_sample
    image, hole = photo(45, 70), box_mask(45, 70, (10, 30, 20, 50))
    out = inpaint(image, hole, model=inpainter, blend="none")
    assert out.shape == image.shape
    np.testing.assert_array_equal(out[~hole], image[~hole])
    reference = inpaint(image, hole, model=KerasInpainter(paper2), blend="none")
    # The same weights; only the padding context (32 vs 4) and uint8 rounding differ.
    assert np.abs(out.astype(int) - reference).mean() < 2.0


@pytest.mark.slow
def test_paper1_export_samples_through_its_sample_signature(paper1, tmp_path):
    # Exporting paper 1 takes ~25 s here, hence `slow`; the Keras sampling path is tested above.
    from tfinpaint.export import export_saved_model

    inpainter = load_model_inpainter(export_saved_model(paper1, str(tmp_path / "paper1_demo")))
    assert inpainter.can_sample
    image, hole = photo(40, 60), box_mask(40, 60, (8, 30, 10, 40))
    first, second = inpaint(image, hole, model=inpainter, samples=2, blend="none")
    assert (first[hole] != second[hole]).any()
    np.testing.assert_array_equal(first[~hole], image[~hole])


def test_keras_file_and_run_dir_load_in_safe_mode(paper2, model_files):
    image, hole = photo(32, 48), box_mask(32, 48, (8, 24, 8, 30))
    reference = inpaint(image, hole, model=KerasInpainter(paper2), blend="none")
    for path, name in ((model_files["keras"], "generator"), (model_files["run_dir"], "paper2-demo")):
        inpainter = load_model_inpainter(path)
        assert isinstance(inpainter, KerasInpainter) and inpainter.name == name
        out = inpaint(image, hole, model=inpainter, blend="none")
        np.testing.assert_array_equal(out, reference)


def _fake_version(base, version):
    folder = os.path.join(base, str(version))
    os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, "saved_model.pb"), "wb").close()
    return folder


def test_model_path_resolution(tmp_path, monkeypatch, model_files):
    base = str(tmp_path / "saved_models" / "m")
    v2, v10 = _fake_version(base, 2), _fake_version(base, 10)
    os.makedirs(os.path.join(base, "11"))  # no saved_model.pb: half-written, ignored
    os.makedirs(os.path.join(base, ".tmp-12-abc"))
    assert newest_version(base) == (10, v10)
    assert newest_version(str(tmp_path / "nowhere")) is None
    assert resolve_model_path(base) == v10  # base path: newest version
    assert resolve_model_path(v2) == v2  # a version folder
    assert resolve_model_path(model_files["keras"]) == model_files["keras"]
    assert resolve_model_path(model_files["run_dir"]).endswith(os.path.join("paper2-demo", "generator.keras"))
    for bad, message in (
        (tmp_path / "missing", "no such file"),
        (tmp_path / "saved_models", "expected a SavedModel"),
        (model_files["run_dir"] + "/config.json", "not .keras"),
    ):
        with pytest.raises(ModelPathError, match=message):
            resolve_model_path(str(bad))
    monkeypatch.chdir(tmp_path)
    newer = _fake_version("saved_models/other", 1)
    os.utime(os.path.join(newer, "saved_model.pb"), (2e9, 2e9))
    assert resolve_model_path(None) == newer  # default: the newest export under ./saved_models
    shutil.rmtree("saved_models")
    with pytest.raises(ModelPathError) as error:
        resolve_model_path(None)
    assert TRAIN_HINT in str(error.value) and "\n" not in str(error.value)


# -- the command line -------------------------------------------------------------------------


def _save(path, array, mode=None):
    Image.fromarray(array, mode).save(path)
    return str(path)


def _mask_png(path, hole):
    return _save(path, (hole * 255).astype(np.uint8))


def _one_line_error(capsys):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error" in line]
    assert lines and "Traceback" not in err
    return lines[0]


def test_cli_single_image_with_rgba_and_no_overwrite(tmp_path, model_files, capsys):
    rgb, alpha = photo(40, 60), np.tile(np.arange(60, dtype=np.uint8) * 4, (40, 1))
    image = _save(tmp_path / "shot.png", np.dstack([rgb, alpha]), "RGBA")
    hole = box_mask(40, 60, (10, 30, 20, 45))
    mask = _mask_png(tmp_path / "shot_mask.png", hole)
    argv = ["inpaint", image, "--mask", mask, "--model", model_files["keras"], "--blend", "none"]
    assert cli.main(argv) == 0
    out_path = tmp_path / "shot_inpainted.png"
    written = np.asarray(Image.open(out_path))
    assert written.shape == (40, 60, 4)
    np.testing.assert_array_equal(written[..., 3], alpha)  # alpha re-attached unchanged
    np.testing.assert_array_equal(written[..., :3][~hole], rgb[~hole])
    before = out_path.read_bytes()
    assert cli.main(argv) == 2
    assert "--overwrite" in _one_line_error(capsys)
    assert out_path.read_bytes() == before
    assert cli.main(argv + ["--overwrite"]) == 0


def test_cli_folders_paired_by_stem_without_collisions(tmp_path, model_files, capsys):
    images, masks, out = tmp_path / "images", tmp_path / "masks", tmp_path / "out"
    images.mkdir(), masks.mkdir()
    hole = box_mask(36, 52, (8, 28, 10, 40))
    Image.fromarray(photo(36, 52)).save(images / "a.jpg", quality=95)
    _save(images / "a.png", photo(36, 52, seed=1))
    _save(images / "b.png", photo(36, 52, seed=2))
    (images / ".DS_Store").write_bytes(b"\0\1junk")
    _mask_png(masks / "a.png", hole)
    _mask_png(masks / "b_mask.png", hole)
    assert (
        cli.main(
            ["inpaint", str(images), "--mask", str(masks), "--model", model_files["base"], "-o", str(out)]
        )
        == 0
    )
    assert sorted(os.listdir(out)) == ["a_inpainted.jpg", "a_inpainted.png", "b_inpainted.png"]
    assert Image.open(out / "a_inpainted.jpg").format == "JPEG"
    assert read_image(out / "b_inpainted.png").size == (36, 52)
    os.remove(masks / "b_mask.png")
    assert (
        cli.main(
            [
                "inpaint",
                str(images),
                "--mask",
                str(masks),
                "--model",
                model_files["base"],
                "-o",
                str(tmp_path / "out2"),
            ]
        )
        == 2
    )
    assert "no mask for b.png" in _one_line_error(capsys)


def test_cli_size_mismatch_then_resize_mask_and_non_ascii(tmp_path, model_files, capsys):
    folder = tmp_path / "фото"
    folder.mkdir()
    image = _save(folder / "снимок.png", photo(40, 64))
    mask = _mask_png(folder / "маска.png", box_mask(20, 32, (5, 15, 8, 20)))
    argv = [
        "inpaint",
        image,
        "--mask",
        mask,
        "--model",
        model_files["keras"],
        "-o",
        str(folder / "выход" / "готово.png"),
    ]  # the folder is created
    assert cli.main(argv) == 2
    message = _one_line_error(capsys)
    assert "32x20" in message and "64x40" in message
    assert cli.main(argv + ["--resize-mask"]) == 0
    assert "mask resized from 32x20 to 64x40" in capsys.readouterr().err
    assert read_image(folder / "выход" / "готово.png").size == (40, 64)


def test_cli_bad_inputs_are_one_line_errors(tmp_path, model_files, capsys, monkeypatch):
    image = _save(tmp_path / "p.png", photo(32, 32))
    mask = _mask_png(tmp_path / "m.png", box_mask(32, 32, (4, 12, 4, 12)))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    assert cli.main(["inpaint", str(broken), "--mask", mask, "--model", model_files["keras"]]) == 2
    assert "broken.jpg" in _one_line_error(capsys)
    assert (
        cli.main(["inpaint", image, image, "--mask", mask, mask, mask, "--model", model_files["keras"]]) == 2
    )
    assert "2 images but 3 masks" in _one_line_error(capsys)
    assert (
        cli.main(["inpaint", image, "--mask", mask, "--model", model_files["keras"], "--samples", "2"]) == 2
    )
    assert "cannot draw samples" in _one_line_error(capsys)
    monkeypatch.chdir(tmp_path)  # no ./saved_models here
    assert cli.main(["inpaint", image, "--mask", mask]) == 2
    assert TRAIN_HINT in _one_line_error(capsys)
    assert not os.path.exists(tmp_path / "p_inpainted.png")
