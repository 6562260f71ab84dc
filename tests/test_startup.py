"""Start-up: `--help`, argument errors and the classical fills never load TensorFlow."""

import json
import subprocess
import sys

import numpy as np
from PIL import Image

# Runs in a fresh interpreter (this test session has TensorFlow loaded already): each command
# through the console script's `main`, then whether `tensorflow` was imported by then.
PROBE = """
import json, sys
from tfinpaint import cli
seen = {}
for name, argv in json.loads(sys.argv[1]).items():
    try:
        code = cli.main(argv)
    except SystemExit as e:  # argparse: --help, argument errors
        code = e.code
    seen[name] = [code, "tensorflow" in sys.modules, "keras" in sys.modules]
print(json.dumps(seen))
"""


def test_help_argument_errors_and_classical_fills_do_not_import_tensorflow(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (24, 32, 3), np.uint8)
    Image.fromarray(image).save(tmp_path / "photo.png")
    hole = np.zeros((24, 32), np.uint8)
    hole[8:14, 10:20] = 255
    Image.fromarray(hole).save(tmp_path / "m.png")
    runs = {
        "help": ["--help"],
        "inpaint help": ["inpaint", "--help"],
        "bad argument": ["inpaint", "x", "--quality", "0", "--mask", "m"],
    }
    for model in ("telea", "NS", "biharmonic"):
        out = str(tmp_path / f"out_{model}.png")
        runs[model] = [
            "inpaint",
            str(tmp_path / "photo.png"),
            "--mask",
            str(tmp_path / "m.png"),
            "--model",
            model,
            "-o",
            out,
        ]
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(runs)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {
        "help": [0, False, False],
        "inpaint help": [0, False, False],
        "bad argument": [2, False, False],
        "telea": [0, False, False],
        "NS": [0, False, False],
        "biharmonic": [0, False, False],
    }
    for model in ("telea", "NS", "biharmonic"):
        written = np.asarray(Image.open(tmp_path / f"out_{model}.png"))
        assert np.array_equal(written[hole == 0], image[hole == 0]) and not np.array_equal(written, image)


def test_only_a_model_needs_tensorflow():
    # The command line loads TensorFlow (its load-time lines filtered) for these, before the run.
    from tfinpaint.commands import inpaint

    parser_args = type("Args", (), {"model": None})()
    assert inpaint.needs_tensorflow(parser_args)
    for name in ("telea", " Telea ", "ns", "biharmonic", "patchmatch"):
        parser_args.model = name
        assert not inpaint.needs_tensorflow(parser_args)
    parser_args.model = "runs/x"
    assert inpaint.needs_tensorflow(parser_args)
