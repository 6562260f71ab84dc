"""`tfinpaint evaluate` end to end, checked against an independent OpenCV + scikit-image
computation; the example grid."""

import json
import os
import shutil

import cv2
import numpy as np
import pytest
from helpers import TickingClock
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from tfinpaint import cli
from tfinpaint.evaluation import evaluate as evaluate_module
from tfinpaint.evaluation import grid, texture
from tfinpaint.evaluation.evaluate import GRID_PNG, REPORT_JSON, REPORT_MD, evaluate, report_protocols

SIZE = 64
ROW_KEYS = {
    "model",
    "bucket",
    "n",
    "psnr",
    "ssim",
    "l1",
    "psnr_hole",
    "ssim_hole",
    "swd",
    "swd_levels",
    "grad_ratio",
    "ms_per_image",
}


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory, photo_paths):
    """Five real photos in a folder of their own (evaluate scores every image given)."""
    folder = tmp_path_factory.mktemp("photos")
    step = max(1, len(photo_paths) // 5)
    for path in photo_paths[::step][:5]:
        shutil.copy(path, folder / os.path.basename(path))
    return str(folder)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory, photo_dir):
    out = str(tmp_path_factory.mktemp("report"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(evaluate_module, "time", TickingClock(0.001))
        evaluate(
            ["telea", "biharmonic"],
            photo_dir,
            masks="center",
            image_size=SIZE,
            out_dir=out,
            progress=False,
            batch_size=2,
        )
    return out


def test_report_schema(report_dir, photo_dir):
    with open(os.path.join(report_dir, REPORT_JSON)) as f:
        report = json.load(f)
    assert set(report) == {"dataset", "masks", "image_size", "split", "blend", "rows"}
    assert (report["dataset"], report["masks"], report["image_size"], report["blend"]) == (
        photo_dir,
        "center",
        SIZE,
        "none",
    )
    # Centre masks cover a quarter of the image: one bucket, "20-30%".
    assert [(r["model"], r["bucket"]) for r in report["rows"]] == [
        ("telea", None),
        ("telea", "20-30%"),
        ("biharmonic", None),
        ("biharmonic", "20-30%"),
    ]
    for row in report["rows"]:
        assert set(row) == ROW_KEYS and row["n"] == 5
        assert all(isinstance(row[k], float) for k in ROW_KEYS - {"model", "bucket", "n", "swd_levels"})
        # 1 ms per batch over batches of 2, 2 and 1 images: the median of 0.5, 0.5 and 1 ms.
        assert row["ms_per_image"] == pytest.approx(0.5) and row["psnr_hole"] < row["psnr"] < 60
        assert 0 < row["ssim_hole"] < row["ssim"] < 1 and 0 < row["l1"] < 0.2
        assert row["swd"] > 50 and row["grad_ratio"] > 0  # diffusion fills are far from real texture
        assert len(row["swd_levels"]) == 3 and row["swd"] == pytest.approx(np.mean(row["swd_levels"]))
    markdown = open(os.path.join(report_dir, REPORT_MD)).read()
    assert "| telea | all | 5 |" in markdown and "raw composite" in markdown and "SWD hole" in markdown


def _independent_rows(photo_dir):
    """Telea's figures computed without tfinpaint.metrics or tfinpaint.inference.baselines."""
    from tfinpaint.data import build_dataset

    batches = list(
        build_dataset(
            photo_dir, image_size=SIZE, batch_size=8, split="all", masks="center", seed=0, training=False
        )
    )
    real = np.round(np.concatenate([b["image"].numpy() for b in batches]) * 255).astype(np.uint8)
    hole = np.concatenate([b["mask"].numpy() for b in batches])[..., 0] >= 0.5
    psnr, ssim, l1, psnr_hole, ssim_hole, fills = [], [], [], [], [], []
    for image, h in zip(real, hole):
        out = cv2.inpaint(image, h.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)
        fills.append((image, out, h))
        psnr.append(peak_signal_noise_ratio(image, out, data_range=255))
        score, full = structural_similarity(
            image,
            out,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=255,
            channel_axis=-1,
            full=True,
        )
        ssim.append(score)
        ssim_hole.append(full.mean(axis=-1)[h].mean())
        diff = image.astype(np.float64) - out
        l1.append(np.abs(diff).mean() / 255)
        psnr_hole.append(10 * np.log10(255**2 / (diff[h] ** 2).mean()))
    return {
        "psnr": np.mean(psnr),
        "ssim": np.mean(ssim),
        "l1": np.mean(l1),
        "psnr_hole": np.mean(psnr_hole),
        "ssim_hole": np.mean(ssim_hole),
        "fills": fills,
    }


def test_numbers_match_independent_skimage(report_dir, photo_dir):
    with open(os.path.join(report_dir, REPORT_JSON)) as f:
        row = json.load(f)["rows"][0]
    expected = _independent_rows(photo_dir)
    expected_swd = np.mean(
        [texture.hole_swd(*args, seed=(0, i))["swd"] for i, args in enumerate(expected.pop("fills"))]
    )
    assert row["swd"] == pytest.approx(expected_swd, rel=1e-6)
    for key, tol in (
        ("psnr", 0.01),
        ("psnr_hole", 0.01),
        ("ssim", 0.001),
        ("ssim_hole", 0.001),
        ("l1", 1e-5),
    ):
        assert row[key] == pytest.approx(expected[key], abs=tol), key


def test_grid_png_layout(report_dir):
    png = np.asarray(Image.open(os.path.join(report_dir, GRID_PNG)))
    gap = 2
    # 4 example rows of input | telea | biharmonic | real, under a label band.
    assert png.shape[1] == 4 * (SIZE + gap) + gap
    band = png.shape[0] - (4 * (SIZE + gap) + gap)
    assert 8 < band < 40
    first_input = png[band + gap : band + gap + SIZE, gap : gap + SIZE]
    centre = first_input[SIZE // 4 + 1 : 3 * SIZE // 4 - 1, SIZE // 4 + 1 : 3 * SIZE // 4 - 1]
    assert (centre == grid.HOLE_COLOUR).all()
    assert (png[:band] < 128).any()  # the labels are drawn


def test_refuses_to_overwrite_then_overwrites(report_dir, photo_dir):
    before = open(os.path.join(report_dir, REPORT_JSON)).read()
    with pytest.raises(FileExistsError, match="--overwrite"):
        evaluate(["telea"], photo_dir, image_size=SIZE, out_dir=report_dir, progress=False)
    assert open(os.path.join(report_dir, REPORT_JSON)).read() == before
    report = evaluate(
        ["ns"], photo_dir, image_size=SIZE, limit=2, out_dir=report_dir, overwrite=True, progress=False
    )
    assert [r["n"] for r in report["rows"]] == [2, 2]
    with open(os.path.join(report_dir, REPORT_JSON)) as f:
        assert json.load(f) == report


def test_cli_prints_table_and_names_unknown_model(tmp_path, photo_dir, capsys):
    out = str(tmp_path / "cli")
    code = cli.main(
        [
            "evaluate",
            "--model",
            "Telea",
            "--data",
            photo_dir,
            "--image-size",
            str(SIZE),
            "--limit",
            "3",
            "--out",
            out,
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "| telea | all | 3 |" in printed
    assert sorted(os.listdir(out)) == sorted([GRID_PNG, REPORT_JSON, REPORT_MD])
    code = cli.main(["evaluate", "--model", "deepfill", "--data", photo_dir, "--out", str(tmp_path / "bad")])
    error = capsys.readouterr().err
    assert code == 2 and "'deepfill'" in error and "telea, ns, biharmonic" in error
    assert not os.path.exists(tmp_path / "bad")


def test_report_protocols_score_centre_and_random_holes_apart():
    random = "mixed:free_form=0.5,random_rect=0.5"
    assert report_protocols("center") == {"center": "center", "random": random}
    assert report_protocols(random) == {"center": "center", "random": random}
    assert report_protocols("mixed") == {"center": "center", "random": random, "training": "mixed"}
    assert report_protocols("free_form")["training"] == "free_form"


def test_make_grid_shapes_and_errors():
    a = np.zeros((16, 24, 3), np.uint8)
    b = np.ones((16, 24, 3), np.float32)
    out = grid.make_grid([[a, b], [b, a]], gap=1)
    assert out.shape == (2 * 17 + 1, 2 * 25 + 1, 3) and out.dtype == np.uint8
    assert (out[1:17, 1:25] == 0).all() and (out[1:17, 26:50] == 255).all()
    assert grid.make_grid([[a, b]], labels=["x", "a very long model name"]).shape[0] > 18
    with pytest.raises(ValueError, match="row 1 has 1 images"):
        grid.make_grid([[a, b], [a]])
    with pytest.raises(ValueError, match="column 1"):
        grid.make_grid([[a, np.zeros((8, 8, 3))]])


def test_blends_apply_to_learned_models_only(tmp_path, photo_dir, paper2_generator):
    from tfinpaint.inference import KerasInpainter

    model = KerasInpainter(paper2_generator, name="paper2")
    reports = {
        blend: evaluate(
            [model, "telea"],
            photo_dir,
            image_size=32,
            limit=3,
            out_dir=str(tmp_path / blend),
            blend=blend,
            progress=False,
        )
        for blend in ("none", "poisson", "patches")
    }
    rows = {
        blend: {r["model"]: r for r in rep["rows"] if r["bucket"] is None} for blend, rep in reports.items()
    }
    assert reports["poisson"]["blend"] == "poisson"
    # The raw and the blended composite side by side; the baselines once, never blended.
    assert list(rows["none"]) == ["paper2", "telea"]
    assert list(rows["poisson"]) == ["paper2", "paper2+poisson", "telea"]
    for key in ("psnr", "ssim", "psnr_hole", "ssim_hole", "l1", "swd", "grad_ratio"):
        assert rows["poisson"]["telea"][key] == rows["none"]["telea"][key]
        assert rows["poisson"]["paper2"][key] == rows["none"]["paper2"][key]
    assert list(rows["patches"]) == ["paper2", "paper2+patches", "telea"]
    for blend in ("poisson", "patches"):
        blended = rows[blend][f"paper2+{blend}"]
        assert blended["psnr_hole"] != rows["none"]["paper2"]["psnr_hole"]
        assert blended["ms_per_image"] >= rows[blend]["paper2"]["ms_per_image"]
        assert f"`<model>+{blend}` rows" in open(tmp_path / blend / REPORT_MD).read()


def test_cli_default_model_and_a_file_list_under_data_root(
    tmp_path, photo_dir, monkeypatch, capsys, paper2_generator
):
    from tfinpaint import artifacts

    weights = str(tmp_path / "default.keras")
    paper2_generator.save(weights)
    monkeypatch.setattr(artifacts, "DEFAULT_MODEL_PATH", weights)
    names = sorted(os.listdir(photo_dir))[:3]
    listing = tmp_path / "lists" / "test.txt"
    listing.parent.mkdir()
    listing.write_text("".join(f"{name}\n" for name in names))  # relative to --data-root
    argv = [
        "evaluate",
        "--model",
        "default",
        "--model",
        "telea",
        "--data",
        str(listing),
        "--image-size",
        "32",
    ]
    out = str(tmp_path / "report")
    assert cli.main([*argv, "--data-root", photo_dir, "--out", out]) == 0
    printed = capsys.readouterr().out
    assert "| default | all | 3 |" in printed and "| telea | all | 3 |" in printed
    # Without --data-root the paths are read beside the list, where there are none.
    assert cli.main([*argv, "--out", str(tmp_path / "missing")]) == 2
    assert "test.txt" in capsys.readouterr().err
