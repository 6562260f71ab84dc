"""`tfinpaint inpaint` on folders: masks kept beside the photos, Ctrl-C and --skip-existing, and
outputs that cannot be written (read-only folder, full disk). Classical fills: no model needed."""

import errno
import os

import numpy as np
import pytest
from PIL import Image

from tfinpaint import cli
from tfinpaint.commands import inpaint as inpaint_command
from tfinpaint.imagefiles import writing

W, H = 40, 30


def _hole(k: int) -> np.ndarray:
    hole = np.zeros((H, W), np.uint8)
    hole[5 + k : 12 + k, 8 : 20 + k] = 255
    return hole


@pytest.fixture
def photos(tmp_path):
    """S/ with three photos and their masks beside them, as `<stem>_mask.png`."""
    folder = tmp_path / "S"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k, name in enumerate(["a", "b", "c"]):
        Image.fromarray(rng.integers(0, 256, (H, W, 3), np.uint8)).save(folder / f"{name}.png")
        Image.fromarray(_hole(k)).save(folder / f"{name}_mask.png")
    return folder


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main(["inpaint", *map(str, argv), "--model", "telea"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def test_masks_beside_the_photos_pair_by_the_mask_suffix(photos, tmp_path, capsys):
    out = tmp_path / "SO"
    code, _, err = _run(capsys, photos, "--mask", photos, "-o", out)
    assert code == 0, err
    # Each photo with its own mask; the masks are not photos to fill.
    assert sorted(os.listdir(out)) == ["a_inpainted.png", "b_inpainted.png", "c_inpainted.png"]
    for k, name in enumerate("abc"):
        photo = np.asarray(Image.open(photos / f"{name}.png"))
        written = np.asarray(Image.open(out / f"{name}_inpainted.png"))
        hole = _hole(k) > 0
        assert np.array_equal(written[~hole], photo[~hole])
        assert (written[hole] != photo[hole]).any(axis=-1).mean() > 0.5


def test_a_photo_without_its_mask_beside_it_is_refused_with_the_fix(photos, tmp_path, capsys):
    os.remove(photos / "b_mask.png")
    code, _, err = _run(capsys, photos, "--mask", photos, "-o", tmp_path / "SO")
    assert code == 2
    assert f"{photos}: no mask for b.png" in err and "b_mask.png" in err and "<photo>_mask" in err
    assert not (tmp_path / "SO").exists() or os.listdir(tmp_path / "SO") == []


def test_ctrl_c_says_what_was_finished_and_skip_existing_finishes_the_run(
    photos, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "SO"
    real, calls = inpaint_command.inpaint, []

    def interrupted_on_the_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(inpaint_command, "inpaint", interrupted_on_the_second)
    code, _, err = _run(capsys, photos, "--mask", photos, "-o", out)
    assert code == 130
    assert err.strip().splitlines() == [
        "tfinpaint inpaint: interrupted: 1 of 3 images finished; the same command with --skip-existing "
        "does the rest."
    ]
    assert os.listdir(out) == ["a_inpainted.png"]  # no half-written or temporary file
    monkeypatch.setattr(inpaint_command, "inpaint", real)
    first = (out / "a_inpainted.png").stat().st_mtime_ns
    code, _, err = _run(capsys, photos, "--mask", photos, "-o", out)
    assert code == 2 and "a_inpainted.png already exists; pass --skip-existing" in err
    code, printed, err = _run(capsys, photos, "--mask", photos, "-o", out, "--skip-existing")
    assert code == 0, err
    assert "1 of 3 images already done (--skip-existing)" in printed
    assert sorted(os.listdir(out)) == ["a_inpainted.png", "b_inpainted.png", "c_inpainted.png"]
    assert (out / "a_inpainted.png").stat().st_mtime_ns == first  # left as it was


@pytest.mark.parametrize(
    "failure",
    [
        # A read-only folder: the temporary file cannot even be created (root ignores chmod).
        ("mkstemp", PermissionError(errno.EACCES, "Permission denied", "/SO/.tmp-x1y2.png")),
        ("save", OSError(errno.ENOSPC, "No space left on device")),
    ],
)
def test_an_unwritable_output_stops_the_run_with_one_line_naming_it(
    photos, tmp_path, capsys, monkeypatch, failure
):
    where, error = failure

    def fail(*args, **kwargs):
        raise error

    if where == "mkstemp":
        monkeypatch.setattr(writing.tempfile, "mkstemp", fail)
    else:
        monkeypatch.setattr(writing.Image.Image, "save", fail)
    out = tmp_path / "SO"
    code, _, err = _run(capsys, photos, "--mask", photos, "-o", out)
    assert code == 2
    assert err.strip().splitlines() == [
        f"tfinpaint inpaint: error: cannot write {out / 'a_inpainted.png'}: {error.strerror}; "
        "0 of 3 images finished."
    ]
    assert os.listdir(out) == []  # the temporary file is gone too


def test_write_image_names_the_file_asked_for_not_its_temporary_file(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise PermissionError(errno.EROFS, "Read-only file system", str(tmp_path / ".tmp-abc.png"))

    monkeypatch.setattr(writing.tempfile, "mkstemp", fail)
    with pytest.raises(PermissionError) as caught:
        writing.write_image(str(tmp_path / "out.png"), np.zeros((4, 4, 3), np.uint8))
    assert caught.value.filename == str(tmp_path / "out.png") and caught.value.errno == errno.EROFS
