"""SavedModel (TF Serving) and TFLite export: signatures, parity, sizes, validation, versions."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from helpers import PHOTO_SIDE, centre_holes, photo_crops
from PIL import Image

from tfinpaint import export as ex
from tfinpaint import metrics
from tfinpaint.config import get_config
from tfinpaint.export.signatures import validate_inputs
from tfinpaint.models import build_generator

SIZE = PHOTO_SIDE


def keras_uint8(generator, image, mask):
    """What the export must return: the Keras output rounded to bytes, composited in uint8."""
    completed = generator(
        {"image": tf.constant(image, tf.float32) / 255.0, "mask": tf.constant(mask > 0, tf.float32)},
        training=False,
    ).numpy()
    predicted = np.round(np.clip(completed, 0.0, 1.0) * 255.0).astype(np.uint8)
    return np.where(mask > 0, predicted, image)


def psnr(a, b):
    """PSNR in dB of two uint8 [1,H,W,3] images (tfinpaint.metrics; capped when identical)."""
    return float(metrics.psnr(a.astype(np.float32), b.astype(np.float32), max_val=255.0)[0])


@pytest.fixture(scope="module")
def photos(photo_paths):
    return photo_crops(photo_paths)


@pytest.fixture(scope="module")
def generator(paper2_generator):
    return paper2_generator


@pytest.fixture(scope="module")
def exported(paper2_saved_model):
    return paper2_saved_model


@pytest.fixture(scope="module")
def signatures(exported):
    return tf.saved_model.load(exported).signatures


@pytest.fixture(scope="module")
def tflite_files(generator, tmp_path_factory):
    return ex.export_tflite(generator, str(tmp_path_factory.mktemp("tflite")), ex.TFLITE_VARIANTS, size=SIZE)


def saved_model_cli(*args):
    command = [os.path.join(os.path.dirname(sys.executable), "saved_model_cli"), *args]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_generator_fills_holes_with_what_the_image_holds(generator, photos):
    # Parity against a near-constant grey hole would prove nothing.
    hole = keras_uint8(generator, photos, centre_holes(len(photos), SIZE, SIZE))[:, 16:48, 16:48]
    assert hole.std() > 10, "the generator's hole output is near-constant"


def test_layout_and_signatures(exported, signatures):
    assert os.path.basename(exported) == "1"
    assert os.path.isfile(os.path.join(exported, "saved_model.pb"))
    assert sorted(signatures) == ["bytes", "serving_default"]  # paper 2 has no `sample`
    serve = signatures["serving_default"]
    inputs = serve.structured_input_signature[1]
    assert inputs["image"].dtype == tf.uint8 and inputs["image"].shape.as_list() == [None] * 3 + [3]
    assert inputs["mask"].dtype == tf.uint8 and inputs["mask"].shape.as_list() == [None] * 3 + [1]
    assert serve.structured_outputs["inpainted"].dtype == tf.uint8
    byte_inputs = signatures["bytes"].structured_input_signature[1]
    assert {k: v.dtype for k, v in byte_inputs.items()} == {"image_bytes": tf.string, "mask_bytes": tf.string}
    assert list(signatures["bytes"].structured_outputs) == ["inpainted_bytes"]
    parent = os.listdir(os.path.dirname(exported))
    assert parent == ["1"], f"temporary folders left behind: {parent}"


def test_saved_model_cli_show_and_run(exported, tmp_path):
    shown = saved_model_cli("show", "--dir", exported, "--all")
    for expected in (
        "signature_def['serving_default']",
        "signature_def['bytes']",
        "inputs['image'] tensor_info",
        "inputs['mask'] tensor_info",
        "outputs['inpainted'] tensor_info",
        "outputs['inpainted_bytes'] tensor_info",
        "DT_UINT8",
        "DT_STRING",
    ):
        assert expected in shown, expected
    image = np.full((1, 36, 44, 3), 200, np.uint8)
    mask = np.pad(np.ones((1, 12, 12, 1), np.uint8), ((0, 0), (12, 12), (16, 16), (0, 0)))
    np.save(tmp_path / "image.npy", image)
    np.save(tmp_path / "mask.npy", mask)
    out_dir = tmp_path / "out"
    saved_model_cli(
        "run",
        "--dir",
        exported,
        "--tag_set",
        "serve",
        "--signature_def",
        "serving_default",
        "--outdir",
        str(out_dir),
        "--inputs",
        f"image={tmp_path / 'image.npy'};mask={tmp_path / 'mask.npy'}",
    )
    out = np.load(out_dir / "inpainted.npy")
    assert out.shape == (1, 36, 44, 3) and out.dtype == np.uint8
    assert (out[0, :12] == 200).all() and (out[0, :, :16] == 200).all()


def test_matches_keras_on_photos(generator, signatures, photos):
    mask = centre_holes(len(photos), SIZE, SIZE)
    out = signatures["serving_default"](image=photos, mask=mask)["inpainted"].numpy()
    expected = keras_uint8(generator, photos, mask)
    # Same graph, same float maths; only a rounding tie may land on the other byte.
    assert np.abs(out.astype(int) - expected).max() <= 1
    hole = mask[..., 0] > 0
    assert np.abs(out[hole].astype(int) - photos[hole]).mean() > 1, "the hole was not filled"


def test_odd_size_reflect_padded_and_cropped_back(generator, signatures, photos):
    image = photos[:2, :37, :53]
    mask = np.zeros((2, 37, 53, 1), np.uint8)
    mask[:, 9:30, 11:40] = np.array([1, 7], np.uint8)[:, None, None, None]  # any non-zero = hole
    out = signatures["serving_default"](image=image, mask=mask)["inpainted"].numpy()
    assert out.shape == image.shape
    known = mask[..., 0] == 0
    assert np.array_equal(out[known], image[known]), "pixels outside the hole changed"
    padded = np.pad(image, ((0, 0), (0, 3), (0, 3), (0, 0)), mode="reflect")
    padded_mask = np.pad(mask, ((0, 0), (0, 3), (0, 3), (0, 0)), mode="reflect")
    expected = keras_uint8(generator, padded, padded_mask)[:, :37, :53]
    assert np.abs(out.astype(int) - expected).max() <= 1


@pytest.mark.parametrize(
    "image_shape, mask_shape, message",
    [
        ((1, 32, 32, 3), (1, 32, 40, 1), "image and mask must have the same batch size"),
        ((2, 32, 32, 3), (1, 32, 32, 1), "image and mask must have the same batch size"),
        ((0, 32, 32, 3), (0, 32, 32, 1), "empty batch"),
        ((1, 3, 32, 3), (1, 3, 32, 1), "image too small"),
    ],
)
def test_bad_requests_are_invalid_argument(signatures, image_shape, mask_shape, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        signatures["serving_default"](
            image=np.zeros(image_shape, np.uint8), mask=np.zeros(mask_shape, np.uint8)
        )


def test_channel_checks_inside_the_graph():
    # TF Serving does not check feeds against the signature's shapes: the graph must.
    check = tf.function(
        lambda image, mask: validate_inputs(image, mask, 4),
        input_signature=[tf.TensorSpec(None, tf.uint8), tf.TensorSpec(None, tf.uint8)],
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="image_must_be_NHW3_RGB"):
        check(np.zeros((1, 8, 8, 4), np.uint8), np.zeros((1, 8, 8, 1), np.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError, match="mask_must_be_NHW1"):
        check(np.zeros((1, 8, 8, 3), np.uint8), np.zeros((1, 8, 8, 3), np.uint8))


def test_bytes_signature(signatures, photos):
    image = photos[0, :40, :52]
    mask = centre_holes(1, 40, 52)[0]
    png = tf.io.encode_png(image).numpy()
    jpeg = tf.io.encode_jpeg(image, quality=95).numpy()
    mask_255 = tf.io.encode_png(mask).numpy()
    mask_01 = tf.io.encode_png((mask > 0).astype(np.uint8)).numpy()
    out = signatures["bytes"](image_bytes=[png, jpeg], mask_bytes=[mask_255, mask_01])
    decoded = [tf.io.decode_png(b).numpy() for b in out["inpainted_bytes"].numpy()]
    direct = signatures["serving_default"](image=image[None], mask=mask[None])["inpainted"]
    assert np.array_equal(decoded[0], direct.numpy()[0])
    assert decoded[1].shape == image.shape
    known = mask[..., 0] == 0
    assert np.array_equal(decoded[0][known], image[known])
    with pytest.raises(tf.errors.InvalidArgumentError):
        signatures["bytes"](image_bytes=[b"not an image"], mask_bytes=[mask_255])
    with pytest.raises(tf.errors.InvalidArgumentError, match="same number of files"):
        signatures["bytes"](image_bytes=[png, png], mask_bytes=[mask_255])


def test_tflite_variants_parity_and_sizes(generator, tflite_files, photos):
    from ai_edge_litert.interpreter import Interpreter

    mask = centre_holes(1, SIZE, SIZE)
    expected = [keras_uint8(generator, photo[None], mask) for photo in photos]
    sizes, scores = {}, {}
    for variant, floor in (("fp32", 40.0), ("fp16", 30.0), ("int8", 30.0)):
        path = tflite_files[variant]
        sizes[variant] = os.path.getsize(path)
        runner = Interpreter(model_path=path, num_threads=2).get_signature_runner()
        outputs = [runner(image=photo[None], mask=mask)["inpainted"] for photo in photos]
        assert all(o.dtype == np.uint8 and o.shape == (1, SIZE, SIZE, 3) for o in outputs)
        scores[variant] = min(psnr(o, e) for o, e in zip(outputs, expected))
        assert scores[variant] >= floor, (variant, scores[variant])
    print(
        f"tflite sizes (bytes): {sizes}; worst PSNR vs Keras (dB): "
        f"{ {k: round(v, 1) for k, v in scores.items()} }"
    )
    # fp16 halves the weights, int8 quarters them; a file the same size as fp32 lost them.
    assert sizes["fp16"] < 0.7 * sizes["fp32"]
    assert sizes["int8"] < 0.45 * sizes["fp32"]
    assert sizes["fp32"] > 3 * generator.count_params()


def copy_of(exported):
    """A stand-in for `save_serving_model` writing a real SavedModel's files (a copy of the shared
    export's), so a test of version folders runs their logic without seconds of tracing per
    version; the save itself is what `exported` and every parity test here check."""

    def save(generator, path, policy):
        shutil.copytree(exported, path)

    return save


def test_versions_are_atomic_and_never_overwritten(generator, exported, tmp_path, monkeypatch):
    base = str(tmp_path / "model")
    monkeypatch.setattr(ex, "save_serving_model", copy_of(exported))
    first = ex.export_saved_model(generator, base)
    second = ex.export_saved_model(generator, base)
    assert [os.path.basename(first), os.path.basename(second)] == ["1", "2"]
    stamp = os.path.getmtime(os.path.join(second, "saved_model.pb"))
    with pytest.raises(ex.ExportError, match="already exists"):
        ex.export_saved_model(generator, base, version=2)
    assert os.path.getmtime(os.path.join(second, "saved_model.pb")) == stamp

    def broken_save(generator, path, policy):
        os.makedirs(path)
        open(os.path.join(path, "saved_model.pb"), "wb").close()  # half-written
        raise OSError("disk full")

    monkeypatch.setattr(ex, "save_serving_model", broken_save)
    with pytest.raises(OSError, match="disk full"):
        ex.export_saved_model(generator, base, version=2, overwrite=True)
    assert sorted(os.listdir(base)) == ["1", "2"], "a failed export left files behind"
    assert os.path.getmtime(os.path.join(second, "saved_model.pb")) == stamp
    monkeypatch.setattr(ex, "save_serving_model", copy_of(exported))
    assert ex.export_saved_model(generator, base, version=2, overwrite=True) == second
    assert sorted(os.listdir(base)) == ["1", "2"]


def test_cli_export_of_a_keras_file(generator, tmp_path, capsys):
    from tfinpaint.cli import main

    model = str(tmp_path / "generator.keras")
    generator.save(model)
    out = str(tmp_path / "saved_models")
    args = ["export", model, "--name", "demo", "--out", out, "--tflite", "none"]
    assert main(args) == 0
    assert os.path.isfile(os.path.join(out, "demo", "1", "saved_model.pb"))
    config = open(os.path.join(out, "models.config")).read()
    assert 'name: "demo"' in config and 'base_path: "/models/demo"' in config
    assert main(args + ["--version", "1"]) == 2
    assert "already exists" in capsys.readouterr().out
    assert main(["export", str(tmp_path / "missing.keras"), "--out", out]) == 2


def test_bad_tflite_variant_is_refused():
    with pytest.raises(ex.ExportError, match="int4"):
        ex.parse_variants("fp32,int4")
    assert ex.parse_variants("fp16, fp32,fp16") == ("fp16", "fp32")
    assert ex.parse_variants("none") == ()


def test_paper1_sample_signature_max_side_and_tflite(tmp_path):
    generator = build_generator(get_config(1, "demo", ["model.width=8", "model.max_side=64"]))
    signatures = tf.saved_model.load(ex.export_saved_model(generator, str(tmp_path / "p1"))).signatures
    assert sorted(signatures) == ["bytes", "sample", "serving_default"]
    assert signatures["sample"].structured_input_signature[1]["seed"].dtype == tf.int64
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (1, 64, 64, 3), np.uint8)
    small_mask = centre_holes(1, 64, 64)
    out = signatures["serving_default"](image=small, mask=small_mask)["inpainted"].numpy()
    assert np.abs(out.astype(int) - keras_uint8(generator, small, small_mask)).max() <= 1
    # Larger than max_side (64): run shrunk, only the hole pasted back at full size.
    image = rng.integers(0, 256, (1, 150, 90, 3), np.uint8)
    mask = centre_holes(1, 150, 90)
    known = mask[..., 0] == 0
    outputs = [
        signatures["sample"](image=image, mask=mask, seed=np.int64(seed))["inpainted"] for seed in (1, 1, 2)
    ]
    outputs.append(signatures["serving_default"](image=image, mask=mask)["inpainted"])
    for out in outputs:
        out = out.numpy()
        assert out.shape == image.shape and np.array_equal(out[known], image[known])
    assert np.array_equal(outputs[0], outputs[1])
    assert not np.array_equal(outputs[0], outputs[2])

    from ai_edge_litert.interpreter import Interpreter

    path = ex.export_tflite(generator, str(tmp_path / "tflite"), ("fp32",), size=64)["fp32"]
    phone = Interpreter(model_path=path).get_signature_runner()(image=small, mask=small_mask)
    assert psnr(phone["inpainted"], keras_uint8(generator, small, small_mask)) >= 40.0
    with pytest.raises(ex.ExportError, match="larger than the side this model runs at"):
        ex.export_tflite(generator, str(tmp_path / "tflite"), ("fp32",), size=128)


def test_an_automatic_version_taken_meanwhile_moves_to_the_next(generator, exported, tmp_path, monkeypatch):
    # Two runs of one model exporting at once: both pick version 1; the later one must not fail.
    base = tmp_path / "m"
    save = copy_of(exported)

    def save_while_another_export_lands(model, path, policy):
        save(model, path, policy)
        if not (base / "1").exists():
            save(model, str(base / "1"), policy)

    monkeypatch.setattr(ex, "save_serving_model", save_while_another_export_lands)
    path = ex.export_saved_model(generator, str(base))
    assert path == str(base / "2") and (base / "1").is_dir()


def test_export_default_in_one_command(generator, tmp_path, monkeypatch, capsys):
    from tfinpaint import artifacts
    from tfinpaint.cli import main

    weights = str(tmp_path / "weights" / "default.keras")
    os.makedirs(os.path.dirname(weights))
    generator.save(weights)
    monkeypatch.setattr(artifacts, "DEFAULT_MODEL_PATH", weights)
    monkeypatch.chdir(tmp_path)
    assert main(["export", "default"]) == 0
    version = os.path.join("saved_models", "default", "1")
    assert os.path.isfile(os.path.join(version, "saved_model.pb"))
    assert os.path.isfile(os.path.join(version, "tflite", "model_fp32.tflite"))
    assert 'name: "default"' in open(os.path.join("saved_models", "models.config")).read()
    loaded = tf.saved_model.load(version)
    assert int(loaded.window_side.numpy()) == SIZE and int(loaded.paper.numpy()) == 2
    capsys.readouterr()
    monkeypatch.setattr(artifacts, "DEFAULT_MODEL_PATH", weights + ".gone")
    assert main(["export", "default"]) == 2
    assert "default model is missing" in capsys.readouterr().out


# -- large photos: the exported graph completes them as `tfinpaint inpaint --blend none` does --


def large_photo(paths, height, width, seed=0):
    """A photo of height x width: a mosaic of bundled demo crops, upscaled (bicubic)."""
    rng = np.random.default_rng(seed)
    tiles = [
        np.asarray(Image.open(paths[i]).convert("RGB")) for i in rng.choice(len(paths), 12, replace=False)
    ]
    mosaic = np.concatenate([np.concatenate(tiles[r * 4 : r * 4 + 4], axis=1) for r in range(3)], axis=0)
    return np.asarray(Image.fromarray(mosaic).resize((width, height), Image.BICUBIC))


def user_mask(height, width, seed=0):
    """Holes like users draw: brush strokes, a box, specks, and a stroke off the border."""
    import cv2

    rng = np.random.default_rng(seed)
    mask = np.zeros((height, width), np.uint8)
    scale = max(height, width) / 1000
    for _ in range(3):
        points = (rng.random((4, 2)) * [width, height]).astype(np.int32)
        cv2.polylines(mask, [points], False, 255, max(2, int(rng.integers(8, 40) * scale)))
    y, x = int(rng.integers(0, height // 2)), int(rng.integers(0, width // 2))
    mask[y : y + height // 8, x : x + width // 10] = 255
    for y, x in (rng.random((20, 2)) * [height - 3, width - 3]).astype(int):
        mask[y : y + 3, x : x + 3] = 255
    cv2.line(mask, (0, height // 3), (width // 5, height // 3 + 40), 255, max(2, int(12 * scale)))
    return mask


def hole_psnr(result, photo, hole):
    error = (result.astype(np.float64) - photo)[hole]
    return 10 * np.log10(255.0**2 / max(np.mean(error**2), 1e-10))


def _check_large_photo_parity(generator, exported, photo, mask, tmp_path, signatures=("bytes",)):
    from tfinpaint.cli import main

    image_path, mask_path = str(tmp_path / "photo.png"), str(tmp_path / "mask.png")
    Image.fromarray(photo).save(image_path)
    Image.fromarray(mask).save(mask_path)
    model = str(tmp_path / "generator.keras")
    if not os.path.exists(model):
        generator.save(model)
    cli_out = str(tmp_path / "cli.png")
    argv = ["inpaint", image_path, "--mask", mask_path, "--model", model, "--blend", "none", "-o", cli_out]
    assert main(argv + ["--overwrite"]) == 0
    reference = np.asarray(Image.open(cli_out).convert("RGB"))
    hole = mask >= 128
    loaded = tf.saved_model.load(exported).signatures
    for signature in signatures:
        if signature == "bytes":
            encoded = loaded["bytes"](
                image_bytes=[open(image_path, "rb").read()], mask_bytes=[open(mask_path, "rb").read()]
            )["inpainted_bytes"][0]
            out = tf.io.decode_png(encoded).numpy()
        else:
            out = loaded["serving_default"](image=photo[None], mask=mask[None, ..., None])["inpainted"][
                0
            ].numpy()
        assert out.shape == photo.shape
        np.testing.assert_array_equal(out[~hole], photo[~hole])
        gap = abs(hole_psnr(out, photo, hole) - hole_psnr(reference, photo, hole))
        assert gap <= 0.5, (signature, photo.shape, gap)
        # Stronger than the PSNR: the same pixels, up to a rounding tie.
        assert np.mean(np.abs(out.astype(int) - reference)[hole] <= 1) > 0.999, (signature, photo.shape)


def test_a_large_photo_through_rest_gives_the_pixels_of_tfinpaint_inpaint(
    generator, exported, photo_paths, tmp_path
):
    # 1280x1024, the README's curl example's size: before the size policy was in the graph,
    # the export ran the 64-pixel model on the whole photo and filled the hole with noise.
    import base64
    import http.client
    import json

    from tfinpaint.serving.server import InpaintServer

    photo, mask = large_photo(photo_paths, 1024, 1280), user_mask(1024, 1280)
    _check_large_photo_parity(generator, exported, photo, mask, tmp_path, ("bytes", "serving_default"))
    png = {
        name: base64.b64encode(open(tmp_path / f"{name}.png", "rb").read()).decode()
        for name in ("photo", "mask")
    }
    body = json.dumps(
        {
            "signature_name": "bytes",
            "instances": [{"image_bytes": {"b64": png["photo"]}, "mask_bytes": {"b64": png["mask"]}}],
        }
    )
    with InpaintServer(
        os.path.dirname(exported), port=0, grpc_port=None, max_pixels=4 * 1280 * 1024
    ) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=300)
        connection.request(
            "POST", f"/v1/models/{server.model_name}:predict", body, {"Content-Type": "application/json"}
        )
        answer = json.loads(connection.getresponse().read())
        connection.close()
    rest = tf.io.decode_png(base64.b64decode(answer["predictions"][0]["b64"])).numpy()
    reference = np.asarray(Image.open(tmp_path / "cli.png").convert("RGB"))
    hole = mask >= 128
    assert abs(hole_psnr(rest, photo, hole) - hole_psnr(reference, photo, hole)) <= 0.5
    assert np.mean(np.abs(rest.astype(int) - reference)[hole] <= 1) > 0.999


@pytest.mark.large
@pytest.mark.parametrize("height, width", [(1200, 1600), (1944, 2592), (3000, 4000)])
def test_large_photos_up_to_12_megapixels(generator, exported, photo_paths, tmp_path, height, width):
    seed = height  # another mosaic and mask for each size
    photo, mask = large_photo(photo_paths, height, width, seed), user_mask(height, width, seed)
    _check_large_photo_parity(generator, exported, photo, mask, tmp_path)
