"""FID and baseline LPIPS (`tfinpaint.evaluation.features`): the distances against closed forms,
an evaluation with tiny random-weights stand-in backbones, and the missing-weights error."""

import os
import shutil

import keras
import numpy as np
import pytest

from tfinpaint import cli
from tfinpaint.evaluation import features
from tfinpaint.evaluation.evaluate import evaluate, format_table


def test_frechet_distance_matches_closed_forms():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 6)) @ rng.standard_normal((6, 6))
    a -= a.mean(axis=0)
    shift = np.arange(6.0)
    # Same covariance: only the means differ.
    assert features.frechet_distance(a, a + shift) == pytest.approx((shift**2).sum(), rel=1e-6)
    # b = 2a: |0|^2 + tr(S + 4S - 2 * 2S) = tr(S).
    trace = np.trace(np.cov(a, rowvar=False))
    assert features.frechet_distance(a, 2 * a) == pytest.approx(trace, rel=1e-6)
    assert abs(features.frechet_distance(a, a)) < 1e-6 * trace


def test_lpips_baseline_is_zero_for_rescaled_features_only():
    rng = np.random.default_rng(1)
    maps = [rng.random((2, 8, 8, 4)), rng.random((2, 4, 4, 6))]
    assert np.allclose(features.lpips_distance(maps, [3.0 * m for m in maps]), 0.0)
    other = [rng.random(m.shape) for m in maps]
    distance = features.lpips_distance(maps, other)
    assert distance.shape == (2,) and (distance > 0).all()


def test_parse_metrics():
    assert features.parse_metrics("LPIPS, fid,lpips") == ("lpips", "fid")
    assert features.parse_metrics(None) == () == features.parse_metrics("")
    with pytest.raises(ValueError, match="unknown kid; expected some of fid, lpips"):
        features.parse_metrics("fid,kid")


def _stand_ins():
    """Random-weights convolutions in place of InceptionV3 and VGG16."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, None, 3))
    first = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(inputs)
    second = keras.layers.Conv2D(6, 3, strides=2, activation="relu")(first)
    taps = keras.Model(inputs, [first, second])
    pooled = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(second))
    return {
        "fid": lambda images: pooled(np.asarray(images, np.float32) / 255.0).numpy(),
        "lpips": lambda images: [t.numpy() for t in taps(np.asarray(images, np.float32) / 255.0)],
    }


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # 4 images, 6 features
def test_evaluate_with_stand_in_backbones(tmp_path, photo_paths):
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in photo_paths[:4]:
        shutil.copy(path, folder / os.path.basename(path))
    report = evaluate(
        ["telea", "biharmonic"],
        str(folder),
        image_size=32,
        out_dir=str(tmp_path / "report"),
        progress=False,
        metrics="fid,lpips",
        backbones=_stand_ins(),
    )
    rows = {(r["model"], r["bucket"]): r for r in report["rows"]}
    assert set(rows) == {("telea", None), ("telea", "20-30%"), ("biharmonic", None), ("biharmonic", "20-30%")}
    for model in ("telea", "biharmonic"):
        whole, bucket = rows[(model, None)], rows[(model, "20-30%")]
        assert whole["fid"] > 0 and bucket["fid"] is None  # FID is a whole-set figure
        assert whole["lpips"] > 0 and bucket["lpips"] == whole["lpips"]
    assert rows[("telea", None)]["fid"] != rows[("biharmonic", None)]["fid"]
    table = format_table(report)
    assert "| FID | LPIPS (baseline) |" in table
    assert "FID" not in format_table(
        {"rows": [{k: v for k, v in r.items() if k not in ("fid", "lpips")} for r in report["rows"]]}
    )


def test_missing_weights_say_which_file_where_and_how(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    with pytest.raises(FileNotFoundError) as error:
        features.FeatureScorer(["fid"])
    message = str(error.value)
    assert "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert str(tmp_path / "keras" / "models") in message and "storage.googleapis.com" in message
    out = tmp_path / "report"
    code = cli.main(
        [
            "evaluate",
            "--model",
            "telea",
            "--metrics",
            "lpips",
            "--weights-dir",
            str(tmp_path),
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().err
    assert (
        code == 2
        and "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in printed
        and str(tmp_path) in printed
    )
    assert not out.exists()
