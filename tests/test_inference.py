"""Model inpainters, the size policy, model paths and `tfinpaint inpaint` end to end.

Untrained narrow generators of both papers: these tests are about shapes, windows, padding,
pixels outside the hole and files, not about the quality of the completion.
"""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfinpaint import artifacts, cli
from tfinpaint.config import get_config
from tfinpaint.convention import InputWarning
from tfinpaint.imagefiles import read_image
from tfinpaint.inference import (
    KerasInpainter,
    SavedModelInpainter,
    inpaint,
    load_inpainter,
    load_model_inpainter,
)
from tfinpaint.inference.inpainters import Inpainter
from tfinpaint.inference.windows import complete, complete_whole
from tfinpaint.models import build_generator


@pytest.fixture(scope="module")
def paper2():
    # Trained size unknown, so the window side is max_side (1024) unless a test says otherwise.
    return build_generator(get_config(2, "demo", ["model.generator_width=8", "data.image_size=1024"]))


@pytest.fixture(scope="module")
def paper1():
    # max_side 64 stands in for the paper's attention limit at a test-sized scale.
    return build_generator(
        get_config(1, "demo", ["model.width=4", "model.latent_channels=8", "model.max_side=64"])
    )


@pytest.fixture(scope="module")
def keras2(paper2):
    """The paper-2 generator behind the default policy, shared: each new inpainter traces anew."""
    return KerasInpainter(paper2)


@pytest.fixture(scope="module")
def keras1(paper1):
    return KerasInpainter(paper1)


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


@pytest.fixture
def default_model(model_files, monkeypatch):
    """The shipped model's path pointed at the test generator (the real weights come later)."""
    monkeypatch.setattr(artifacts, "DEFAULT_MODEL_PATH", model_files["keras"])
    return model_files["keras"]


def network_runs(inpainter, image, hole):
    """Run the size policy eagerly around the inpainter's generator, recording every network
    input: (uint8 result, [mask float32 [1, h, w, 1] of each run])."""
    masks = []

    def run(inputs):
        masks.append(inputs["mask"].numpy())
        return inpainter.generator(inputs, training=False)

    image, hole = tf.constant(image), tf.constant(hole)
    if max(image.shape[:2]) <= inpainter.policy.window_side:
        out = complete_whole(image[None], hole[None], run, inpainter.policy)[0]
    else:
        out = complete(image, hole, run, inpainter.policy)
    return out.numpy(), masks


def assert_same_pixels(a, b):
    """Equal up to a rounding tie: a traced graph may fuse float ops the eager run keeps apart."""
    assert a.shape == b.shape and np.abs(a.astype(int) - b).max() <= 1 and (a != b).mean() < 1e-3


def shapes(masks):
    return [m.shape[1:3] for m in masks]


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


# -- the size policy --------------------------------------------------------------------------


def test_odd_size_is_reflect_padded_and_cropped_back(keras2):
    inpainter = keras2
    image, hole = photo(333, 517), box_mask(333, 517, (100, 160, 200, 290))
    recorded, masks = network_runs(inpainter, image, hole)
    assert shapes(masks) == [(336, 520)]
    out = inpaint(image, hole, model=inpainter, blend="none")
    assert out.shape == image.shape and out.dtype == np.uint8
    assert_same_pixels(out, recorded)  # the traced policy = the eager one
    np.testing.assert_array_equal(out[~hole], image[~hole])
    assert (out[hole] != image[hole]).any()


def test_large_image_runs_the_network_on_a_window_only(keras2):
    inpainter = keras2  # max_side 1024, context 128
    image = np.tile(photo(200, 300), (10, 10, 1))
    hole = box_mask(2000, 3000, (1200, 1240, 2500, 2560))
    recorded, masks = network_runs(inpainter, image, hole)
    assert len(masks) == 1 and max(shapes(masks)[0]) <= 40 + 60 + 2 * 128
    assert all(side % 4 == 0 for side in shapes(masks)[0])
    out = inpaint(image, hole, model=inpainter, blend="none")
    assert out.shape == (2000, 3000, 3)
    assert_same_pixels(out, recorded)
    np.testing.assert_array_equal(out[~hole], image[~hole])
    assert (out[hole] != image[hole]).any()


def test_hole_too_big_for_a_window_is_done_downscaled(paper2):
    inpainter = KerasInpainter(paper2, max_side=128, context=32)
    image, hole = photo(600, 900), box_mask(600, 900, (100, 400, 200, 600))
    out, masks = network_runs(inpainter, image, hole)
    assert len(masks) == 1 and max(shapes(masks)[0]) <= 128
    np.testing.assert_array_equal(out[~hole], image[~hole])


def test_downscaled_hole_keeps_every_speck(paper2):
    inpainter = KerasInpainter(paper2, max_side=64, context=0)
    image = np.tile(photo(62, 62), (32, 32, 1))
    hole = np.zeros((1984, 1984), bool)
    hole[31::62, 31::62] = True  # 1024 one-pixel specks, one per ~31x31 shrunken cell
    out, masks = network_runs(inpainter, image, hole)
    assert len(masks) == 1 and shapes(masks) == [(64, 64)]
    assert masks[0].sum() >= 1024  # no speck lost to rounding when shrunk
    np.testing.assert_array_equal(out[~hole], image[~hole])
    assert (out[hole] != image[hole]).any()


def test_distant_holes_get_windows_of_their_own(paper2):
    inpainter = KerasInpainter(paper2, max_side=128, context=32)
    image = photo(500, 700)
    hole = box_mask(500, 700, (10, 30, 10, 30), (20, 40, 40, 60), (450, 480, 650, 690))
    out, masks = network_runs(inpainter, image, hole)
    # The two nearby holes share a window; the far one gets its own.
    assert len(masks) == 2 and all(max(shape) <= 128 for shape in shapes(masks))
    np.testing.assert_array_equal(out[~hole], image[~hole])
    assert (out[hole] != image[hole]).all(axis=-1).mean() > 0.5


def test_the_network_runs_at_its_training_scale(paper2, tmp_path):
    # A model trained on 64-pixel crops: a 512-pixel photo's 80-pixel hole is completed in a
    # window shrunk to 64, as in training, and only the hole is scaled back.
    inpainter = KerasInpainter(paper2, train_size=64)
    assert inpainter.policy.window_side == 64
    image, hole = photo(512, 512), box_mask(512, 512, (140, 220, 300, 380))
    out, masks = network_runs(inpainter, image, hole)
    assert len(masks) == 1 and max(shapes(masks)[0]) <= 64
    np.testing.assert_array_equal(out[~hole], image[~hole])
    # A generator saved before its config held train_size gets it from its run's config.json.
    from tfinpaint.models.paper2 import Paper2Generator

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    old_file = Paper2Generator(width=8)
    old_file({"image": tf.zeros([1, 8, 8, 3]), "mask": tf.zeros([1, 8, 8, 1])})
    old_file.save(run_dir / "generator.keras")
    (run_dir / "config.json").write_text(get_config(2, "demo").to_json())
    run_size = get_config(2, "demo").data.image_size
    loaded = load_model_inpainter(str(run_dir))
    assert loaded.generator.train_size == run_size and loaded.policy.window_side == run_size


def test_model_max_side_caps_the_window(keras1):
    inpainter = keras1  # its max_side (64 here) wins over the default 1024
    assert inpainter.policy.window_side == 64
    image, hole = photo(150, 200), box_mask(150, 200, (60, 80, 90, 110))
    out, masks = network_runs(inpainter, image, hole)
    assert masks and all(max(shape) <= 64 and shape[0] % 32 == 0 == shape[1] % 32 for shape in shapes(masks))
    np.testing.assert_array_equal(out[~hole], image[~hole])
    assert_same_pixels(inpaint(image, hole, model=inpainter), out)  # paper 1: no blend


def test_tiny_images_are_scaled_up_to_the_stride(keras1):
    inpainter = keras1  # size multiple 32
    image, hole = photo(3, 50), box_mask(3, 50, (0, 2, 10, 20))
    out, masks = network_runs(inpainter, image, hole)
    assert shapes(masks) == [(32, 64)]
    np.testing.assert_array_equal(out[~hole], image[~hole])


def test_empty_mask_returns_the_input_without_running_the_network(keras2):
    inpainter = keras2
    image = photo(1200, 70)  # larger than the window: the windowed path plans no window
    empty = np.zeros(image.shape[:2], bool)
    out, masks = network_runs(inpainter, image, empty)
    assert masks == [] and np.array_equal(out, image)
    with pytest.warns(InputWarning, match="empty"):
        out = inpaint(image, empty, model=inpainter)
    np.testing.assert_array_equal(out, image)
    with pytest.warns(InputWarning, match="empty"):
        batch = inpainter.inpaint_batch(image[None] / np.float32(255), empty[None, ..., None] * np.float32(1))
    np.testing.assert_array_equal(batch[0], image / np.float32(255))


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
    for i in range(2):  # the batch gives what one image at a time gives
        one = inpaint((images[i] * 255).round().astype(np.uint8), masks[i], model=inpainter, blend="none")
        np.testing.assert_array_equal(np.round(out[i] * 255).astype(np.uint8), one)


def test_poisson_blend_by_default_for_paper2_only_and_in_the_hole_only(keras2, keras1):
    image, hole = photo(64, 96), box_mask(64, 96, (0, 24, 30, 60))  # touches the top border
    raw = inpaint(image, hole, model=keras2, blend="none")
    blended = inpaint(image, hole, model=keras2)
    np.testing.assert_array_equal(blended[~hole], image[~hole])
    assert (blended[hole] != raw[hole]).any()
    assert keras2.default_blend == "poisson"
    assert keras1.default_blend == "none"  # paper 1 has no post-processing
    np.testing.assert_array_equal(
        inpaint(image, hole, model=keras1),
        inpaint(image, hole, model=keras1, blend="none"),
    )


@pytest.mark.parametrize("size", [(64, 96), (700, 500)])
def test_the_result_never_depends_on_what_the_hole_held(paper2, size):
    # The leak GLCIC-PyTorch shipped: blending read the ground truth inside the hole.
    h, w = size
    image, hole = photo(h, w, seed=5), box_mask(h, w, (h // 4, h // 2, w // 3, w // 2))
    emptied = np.where(hole[..., None], 0, image).astype(np.uint8)
    inpainter = KerasInpainter(paper2, max_side=256, context=32)
    for blend in ("poisson", "none"):
        np.testing.assert_array_equal(
            inpaint(image, hole, model=inpainter, blend=blend),
            inpaint(emptied, hole, model=inpainter, blend=blend),
        )


def test_samples_from_paper1_and_a_clear_error_for_paper2(keras2, keras1):
    image, hole = photo(40, 60), box_mask(40, 60, (8, 30, 10, 40))
    first, second = inpaint(image, hole, model=keras1, samples=2, seed=3)
    again = inpaint(image, hole, model=keras1, samples=1)
    assert first.shape == second.shape == again.shape == image.shape
    assert (first[hole] != second[hole]).any()
    with pytest.raises(ValueError, match="cannot draw samples"):
        inpaint(image, hole, model=keras2, samples=2)


def test_array_masks_and_argument_errors(keras2):
    image = photo(40, 60)
    soft = np.zeros((40, 60, 1), np.uint8)
    soft[10:20, 10:20] = 255
    soft[30:35, 30:35] = 100  # below mid-grey: not a hole
    with pytest.warns(InputWarning, match="grey"):
        out = inpaint(image, soft, model=keras2, blend="none")
    np.testing.assert_array_equal(out[30:35, 30:35], image[30:35, 30:35])
    with pytest.raises(ValueError, match=r"does not match"):
        inpaint(image, np.ones((20, 20), bool), model=keras2)
    with pytest.raises(ValueError, match="blend"):
        inpaint(image, soft, model=keras2, blend="laplace")


def test_a_model_saved_with_its_own_blend_keeps_it_in_every_form(paper2, tmp_path):
    from tfinpaint.export import export_saved_model

    patched = type(paper2).from_config({**paper2.get_config(), "blend": "patches"})
    patched.build_from_config(paper2.get_build_config())
    patched.set_weights(paper2.get_weights())
    path = str(tmp_path / "patched.keras")
    patched.save(path)
    from_file = load_model_inpainter(path)
    assert from_file.default_blend == "patches"  # its own blend wins over its paper's Poisson
    export_saved_model(patched, str(tmp_path / "export"))
    assert load_model_inpainter(str(tmp_path / "export")).default_blend == "patches"
    image, hole = photo(64, 96), box_mask(64, 96, (20, 44, 30, 60))
    np.testing.assert_array_equal(
        inpaint(image, hole, model=from_file), inpaint(image, hole, model=from_file, blend="patches")
    )
    with pytest.raises(ValueError, match="blend 'smooth': expected one of none, poisson, patches or None"):
        type(paper2).from_config({**paper2.get_config(), "blend": "smooth"})


def test_classical_baselines_by_name_in_the_same_call():
    image, hole = photo(48, 64), box_mask(48, 64, (10, 30, 20, 40))
    for name in ("telea", "NS", "biharmonic"):
        out = inpaint(image, hole, model=name)  # classical: never blended by default
        np.testing.assert_array_equal(out[~hole], image[~hole])
        assert (out[hole] != image[hole]).any()
    with pytest.raises(ValueError, match="cannot draw samples"):
        inpaint(image, hole, model="telea", samples=2)


# -- exported and saved models ----------------------------------------------------------------


def test_saved_model_inpainter_gives_the_keras_pixels(model_files, keras2):
    inpainter = load_model_inpainter(model_files["base"])
    assert isinstance(inpainter, SavedModelInpainter) and inpainter.name == "paper2_demo/1"
    assert not inpainter.can_sample and inpainter.paper == 2 and inpainter.default_blend == "poisson"
    assert inpainter.policy == keras2.policy  # the export records the size policy it runs at
    for h, w, hole_box in ((45, 70, (10, 30, 20, 50)), (1300, 900, (600, 700, 100, 160))):
        image, hole = photo(h, w), box_mask(h, w, hole_box)
        out = inpaint(image, hole, model=inpainter, blend="none")
        np.testing.assert_array_equal(out[~hole], image[~hole])
        # The same weights and the same policy, in another graph: at most a rounding tie apart.
        reference = inpaint(image, hole, model=keras2, blend="none")
        assert np.abs(out.astype(int) - reference).max() <= 1
    with pytest.raises(ValueError, match="fixed in its graph"):
        load_model_inpainter(model_files["base"], context=16)


@pytest.mark.large
def test_paper1_export_samples_through_its_sample_signature(paper1, tmp_path):
    # Exporting paper 1 takes ~25 s here, hence `large`; the Keras sampling path is tested above.
    from tfinpaint.export import export_saved_model

    inpainter = load_model_inpainter(export_saved_model(paper1, str(tmp_path / "paper1_demo")))
    assert inpainter.can_sample and inpainter.default_blend == "none"
    image, hole = photo(40, 60), box_mask(40, 60, (8, 30, 10, 40))
    first, second = inpaint(image, hole, model=inpainter, samples=2, blend="none")
    assert (first[hole] != second[hole]).any()
    np.testing.assert_array_equal(first[~hole], image[~hole])


def test_keras_file_run_dir_and_default_load_in_safe_mode(paper2, model_files, default_model, keras2):
    image, hole = photo(32, 48), box_mask(32, 48, (8, 24, 8, 30))
    reference = inpaint(image, hole, model=keras2, blend="none")
    for path, name in (
        (model_files["keras"], "generator"),
        (model_files["run_dir"], "paper2-demo"),
        ("default", "default"),
        (None, "default"),
    ):
        inpainter = load_model_inpainter(path)
        assert isinstance(inpainter, KerasInpainter) and inpainter.name == name
        out = inpaint(image, hole, model=inpainter, blend="none")
        np.testing.assert_array_equal(out, reference)
    # No model given: the shipped one, Poisson-blended as a paper-2 model.
    np.testing.assert_array_equal(inpaint(image, hole), inpaint(image, hole, model=keras2))


def test_load_inpainter_names_paths_and_errors(model_files, default_model, monkeypatch):
    assert load_inpainter("TELEA").name == "telea"
    assert load_inpainter(" NS ").radius == 3
    assert load_inpainter("biharmonic").classical
    assert isinstance(load_inpainter(model_files["keras"]), KerasInpainter)
    assert load_inpainter("default").name == load_inpainter(None).name == "default"
    with pytest.raises(ValueError) as error:
        load_inpainter("telia")
    message = str(error.value)
    assert "'telia'" in message and "telea, ns, biharmonic" in message and ".keras" in message
    assert "default" in message and "\n" not in message
    monkeypatch.setattr(artifacts, "DEFAULT_MODEL_PATH", model_files["keras"] + ".gone")
    with pytest.raises(ValueError, match="default model is missing"):
        load_inpainter(None)
    assert isinstance(load_inpainter("telea"), Inpainter)  # baselines need no weights


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
    monkeypatch.setattr(artifacts, "DEFAULT_MODEL_PATH", str(tmp_path / "missing" / "default.keras"))
    assert cli.main(["inpaint", image, "--mask", mask]) == 2
    assert "default model is missing" in _one_line_error(capsys)
    assert not os.path.exists(tmp_path / "p_inpainted.png")


def test_cli_default_model_and_baselines(tmp_path, default_model, capsys, keras2):
    image_array, hole = photo(40, 56), box_mask(40, 56, (8, 30, 10, 40))
    image = _save(tmp_path / "p.png", image_array)
    mask = _mask_png(tmp_path / "m.png", hole)
    assert cli.main(["inpaint", image, "--mask", mask, "-o", str(tmp_path / "default.png")]) == 0
    expected = inpaint(image_array, hole, model=keras2)  # blended: paper 2
    np.testing.assert_array_equal(read_image(tmp_path / "default.png").rgb, expected)
    assert (
        cli.main(["inpaint", image, "--mask", mask, "--model", "telea", "-o", str(tmp_path / "t.png")]) == 0
    )
    written = read_image(tmp_path / "t.png").rgb
    np.testing.assert_array_equal(written[~hole], image_array[~hole])


def test_a_generator_object_is_a_model_and_other_callables_are_refused(paper2, keras2):
    image, hole = photo(64, 96), box_mask(64, 96, (20, 40, 30, 60))
    np.testing.assert_array_equal(
        inpaint(image, hole, model=paper2, blend="none"), inpaint(image, hole, model=keras2, blend="none")
    )
    with pytest.raises(
        TypeError, match="expected a name or path, an Inpainter or a tfinpaint generator, got function"
    ):
        inpaint(image, hole, model=lambda x: x)
