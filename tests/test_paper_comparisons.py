"""scripts/paper_comparisons.py's grid table (the spectral peak it is built on, and the command
on a tiny generator) and its colour probe."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tfinpaint.models.paper2 import Paper2Generator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "paper_comparisons.py")


def _script():
    spec = importlib.util.spec_from_file_location("paper_comparisons", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_spectral_peak_finds_a_grid_and_not_a_smooth_fill():
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:32, 0:32]
    smooth = np.broadcast_to((np.sin(x / 9.0) + np.cos(y / 7.0))[None, :, :, None], (2, 32, 32, 3))
    grid = smooth + 0.5 * np.sign(np.sin(2 * np.pi * x / 8))[None, :, :, None]
    noise = rng.standard_normal((2, 32, 32, 3))
    peak = _script().spectral_peak
    assert peak(grid, 8) > 3
    assert peak(smooth, 8) < 1
    assert 0.7 < peak(noise, 8) < 1.3


def test_grid_command_prints_a_row_per_model(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(photos / f"{i}.png")
    generator = Paper2Generator(width=8, train_size=64, name="generator")
    generator.build()
    model = str(tmp_path / "tiny.keras")
    generator.save(model)
    command = [sys.executable, SCRIPT, "grid", model, "--data", str(photos)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()
    # At 64 px the grid's period is 4 px: the rows at full and half resolution, not the middle's.
    assert out[0] == "| model | row 1 | row 2 | row 3 | row 11 | row 12 | row 13 | row 14 | row 15 |"
    assert out[2].startswith(f"| {model} | ") and len(out) == 3


def _grey_generator(tmp_path) -> str:
    """A saved stand-in that paints every hole mid-grey (output conv zeroed: sigmoid(0) = 0.5)."""
    generator = Paper2Generator(width=8, train_size=64, name="generator")
    generator.build()
    output = generator.network.layers[-1]
    output.set_weights([np.zeros_like(w) for w in output.get_weights()])
    model = str(tmp_path / "grey.keras")
    generator.save(model)
    return model


def test_colour_probe_measures_a_grey_fill_and_the_blend_that_corrects_it(tmp_path):
    # The grey stand-in, as the shipped model all but does in grass: the probe reads that off
    # raw, and the blend's fill meets the field's colour.
    model = _grey_generator(tmp_path)
    script = _script()
    errors = script.colour_errors(model)
    grass = np.abs(np.array(script.FLAT_COLOURS["grass"]) - 128).mean()
    np.testing.assert_allclose(errors["grass", "raw"], grass, atol=0.5)
    assert errors["grey", "raw"] < 0.5
    assert all(errors[colour, "poisson"] < 4 for colour in script.FLAT_COLOURS), errors


def test_colour_follow_tells_a_fill_that_follows_halves_or_ignores_the_colour():
    script = _script()
    real = np.random.default_rng(0).uniform(0, 255, (50, 3))
    for fill, slope in ((real, 1.0), (0.5 * real + 40, 0.5), (np.full_like(real, 128.0), 0.0)):
        for channel, (found, _) in script.colour_follow(real, fill).items():
            assert abs(found - slope) < 1e-9, (channel, found, slope)
    assert abs(script.colour_follow(real, real + 10)["Y"][1] - 10) < 1e-9


def test_chroma_table_of_a_grey_stand_in(tmp_path):
    # The grey stand-in ignores every photo's colour: slope 0 on every channel, at both holes.
    model = _grey_generator(tmp_path)
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(4):
        pixels = np.random.default_rng(i).integers(0, 255, (80, 96, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(photos / f"{i}.png")
    rows = _script().chroma_table([model], str(photos)).splitlines()[2:]
    assert [row.split(" | ")[1] for row in rows] == ["4 px", "16 px"]
    for row in rows:
        assert [cell.split(" / ")[0] for cell in row.strip(" |").split(" | ")[2:]] == ["0.00"] * 3, row


def test_chroma_names_a_missing_or_empty_photo_folder(tmp_path, capsys):
    script = _script()
    with pytest.raises(SystemExit):
        script.main(["chroma", "default"])
    assert "chroma needs --data FOLDER of photos; got None" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="no .jpg, .jpeg or .png photos in this folder"):
        script.main(["chroma", _grey_generator(tmp_path), "--data", str(tmp_path)])


def test_end_of_run_rows_are_the_whole_set_rows_of_the_training_masks_report(tmp_path):
    # A run trained on centre holes is read from report-center/, whole-set rows only (the
    # tables' SWD and PSNR), not the other protocol's report or the hole-ratio buckets.
    run = tmp_path / "run"
    (run / "report-center").mkdir(parents=True)
    (run / "report-random").mkdir()
    (run / "config.json").write_text(json.dumps({"data": {"masks": "center"}}))
    rows = [
        {"model": "paper1", "bucket": None, "swd": 312.0},
        {"model": "paper1", "bucket": "10-20%", "swd": 290.0},
        {"model": "telea", "bucket": None, "swd": 396.0},
    ]
    (run / "report-center" / "report.json").write_text(json.dumps({"rows": rows}))
    (run / "report-random" / "report.json").write_text(json.dumps({"rows": [rows[0] | {"swd": 1.0}]}))
    assert _script().end_of_run_rows(str(run)) == [rows[0], rows[2]]


def test_a_run_without_its_report_is_named(tmp_path):
    # A run stopped before its end-of-run evaluation: the missing file is named, no traceback.
    (tmp_path / "config.json").write_text(json.dumps({"data": {"masks": "center"}}))
    missing = os.path.join(str(tmp_path), "report-center", "report.json")
    with pytest.raises(SystemExit, match=f"{missing}: not found; expected a finished"):
        _script().end_of_run_rows(str(tmp_path))
