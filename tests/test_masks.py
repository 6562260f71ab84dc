"""Masks: coverage, seeding, mask files, mixing, hole-ratio buckets."""

import math

import numpy as np
import pytest
from PIL import Image

from tfinpaint.convention import InputWarning
from tfinpaint.data import mask_files, mask_specs
from tfinpaint.data import masks as M

S = 64


def test_hole_ratio_buckets():
    assert M.HOLE_RATIO_BUCKETS == ("0-10%", "10-20%", "20-30%", "30-40%", "40-50%", "50-60%", ">60%")
    cases = {
        0.0: "0-10%",
        0.099: "0-10%",
        0.1: "10-20%",
        0.25: "20-30%",
        0.3: "30-40%",
        0.1 + 0.2: "30-40%",
        0.5999: "50-60%",
        0.6: ">60%",
        1.0: ">60%",
    }
    for ratio, label in cases.items():
        assert M.hole_ratio_bucket(ratio) == label, ratio
    for bad in (-0.01, 1.01, math.nan):
        with pytest.raises(ValueError, match="hole ratio"):
            M.hole_ratio_bucket(bad)
    np.testing.assert_allclose(M.hole_ratio(np.ones((2, 4, 4, 1)) * [[[[1]]], [[[0]]]]), [1.0, 0.0])


def test_center_mask_is_the_central_square():
    masks = M.CenterMasks(S).sample([0, 1, 2]).numpy()
    assert masks.shape == (3, S, S, 1) and masks.dtype == np.float32
    expected = np.zeros((S, S, 1), np.float32)
    expected[16:48, 16:48] = 1
    for m in masks:
        np.testing.assert_array_equal(m, expected)
    assert M.hole_ratio(masks)[0] == 0.25
    assert M.hole_ratio(M.CenterMasks(S, hole_fraction=0.25).sample([0]).numpy())[0] == 1 / 16
    with pytest.raises(M.MaskError, match="hole_fraction"):
        M.CenterMasks(S, hole_fraction=1.0)


def _distinct(masks):
    return len({m.tobytes() for m in masks})


def test_random_rect_sizes_seeding_and_variety():
    gen = M.RandomRectMasks(S, count_range=(1, 2), side_range=(0.25, 0.5))
    keys = list(range(24))
    masks = gen.sample(keys, seed=3).numpy()
    assert set(np.unique(masks)) <= {0.0, 1.0}
    ratios = M.hole_ratio(masks)
    # One to two rectangles with sides of 16..32 px.
    assert ratios.min() >= (16 * 16) / S**2 - 1e-6 and ratios.max() <= 2 * (32 * 32) / S**2 + 1e-6
    for m in masks:
        rows, cols = np.nonzero(m[..., 0])
        assert rows.max() - rows.min() + 1 <= 64 and cols.min() >= 0
    np.testing.assert_array_equal(masks, gen.sample(keys, seed=3).numpy())
    assert _distinct(masks) == len(keys)
    assert not np.array_equal(masks, gen.sample(keys, seed=4).numpy())
    single = M.RandomRectMasks(S, count_range=(1, 1), side_range=(0.5, 0.5)).sample([5]).numpy()[0, ..., 0]
    rows, cols = np.nonzero(single)
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (32, 32) and single.sum() == 32 * 32


def test_free_form_bank_and_sampling():
    gen = M.FreeFormMasks(S, bank_size=32, bank_seed=1, ratio_range=(0.05, 0.5))
    bank = gen.bank()
    assert bank.shape == (32, S, S) and set(np.unique(bank)) <= {0, 1}
    assert bank.mean(axis=(1, 2)).min() >= 0.05 and bank.mean(axis=(1, 2)).max() <= 0.5
    keys = list(range(40))
    masks = gen.sample(keys, seed=0).numpy()
    assert masks.shape == (40, S, S, 1) and set(np.unique(masks)) <= {0.0, 1.0}
    assert 0.05 <= M.hole_ratio(masks).min() and M.hole_ratio(masks).max() <= 0.5
    np.testing.assert_array_equal(masks, gen.sample(keys, seed=0).numpy())
    # 32 bank entries x 8 flips/rotations: 40 keys give (almost surely) many distinct masks.
    assert _distinct(masks) >= 30
    # Every sampled mask is a flip/rotation of a bank entry.
    variants = {
        np.ascontiguousarray(v).tobytes()
        for b in bank
        for t in (b, b.T)
        for v in (t, t[::-1], t[:, ::-1], t[::-1, ::-1])
    }
    assert all(m[..., 0].astype(np.uint8).tobytes() in variants for m in masks)
    # The same bank seed draws the same bank; banks above 256 px are upsampled.
    np.testing.assert_array_equal(
        M.FreeFormMasks(S, bank_size=32, bank_seed=1, ratio_range=(0.05, 0.5)).bank(), bank
    )
    assert M.FreeFormMasks(512, bank_size=2).sample([0]).shape == (1, 512, 512, 1)


def test_object_masks_are_thick_seeded_blobs():
    import cv2

    gen = mask_specs.make_mask_generator("objects", 256)
    assert isinstance(gen, M.ObjectMasks)
    masks = gen.sample(range(24), seed=3).numpy()
    np.testing.assert_array_equal(masks, gen.sample(range(24), seed=3).numpy())
    assert masks.shape == (24, 256, 256, 1) and set(np.unique(masks)) <= {0.0, 1.0}
    assert 0.03 <= M.hole_ratio(masks).min() and M.hole_ratio(masks).max() <= 0.3
    assert _distinct(masks) >= 20
    for mask in masks[..., 0].astype(np.uint8):
        # An object, not a stroke: the hole's deepest pixel is at least 4 % of the side from
        # its edge (free-form strokes are 12-40 px wide at 512 px: 1.2-4 % of the side deep).
        assert cv2.distanceTransform(mask, cv2.DIST_L2, 5).max() >= 0.04 * 256
        count, _ = cv2.connectedComponents(mask)
        assert 1 <= count - 1 <= 6
    # Drawn at up to 512 px, so a 1,024-px photo's outline steps by 2 px, not 4.
    assert gen.bank().shape[1:] == (256, 256)
    assert M.ObjectMasks(1024, bank_size=2).bank().shape[1:] == (512, 512)
    with pytest.raises(M.MaskError, match="count_range"):
        M.ObjectMasks(64, count_range=(2, 1))
    with pytest.raises(M.MaskError, match=r"size_range=\(0.5, 0.2\): expected 0 < min <= max <= 1"):
        M.ObjectMasks(64, size_range=(0.5, 0.2))
    with pytest.raises(M.MaskError, match="ratio_range"):
        M.ObjectMasks(64, ratio_range=(0.0, 0.3))


def _write_mask(path, array, mode=None):
    Image.fromarray(array, mode).save(path) if mode else Image.fromarray(array).save(path)


def test_a_folder_of_0_1_masks_trains_on_the_holes_inpaint_sees(tmp_path):
    """{0, 1} mask PNGs (as NumPy code often writes them) given as `--masks files:DIR` mark the
    same holes in training as in `tfinpaint inpaint`, not empty ones."""
    from tfinpaint.imagefiles import read_mask

    d = tmp_path / "binary"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        hole = np.zeros((S, S), np.uint8)
        top, left = rng.integers(0, S // 2, 2)
        hole[top : top + S // 3, left : left + S // 4] = 1
        Image.fromarray(hole).save(d / f"m{i}.png")
    bank = mask_specs.make_mask_generator(f"files:{d}", S).bank()
    for i, path in enumerate(sorted(d.iterdir())):
        inpaint_sees = read_mask(str(path))
        assert inpaint_sees.sum() == (S // 3) * (S // 4)
        np.testing.assert_array_equal(bank[i], inpaint_sees)
    masks = mask_specs.make_mask_generator(f"files:{d}", S).sample(range(12)).numpy()
    assert all(m.sum() == (S // 3) * (S // 4) for m in masks)


def test_file_masks_threshold_modes_resize_and_pairing(tmp_path):
    d = tmp_path / "masks"
    d.mkdir()
    half = np.zeros((32, 32), np.uint8)
    half[:, 16:] = 255
    _write_mask(d / "a.png", half)  # L, 32 px -> resized nearest
    _write_mask(d / "b.png", np.full((S, S), 127, np.uint8))  # just below mid-grey: no hole
    _write_mask(d / "c.jpg", np.stack([np.full((S, S), 128, np.uint8)] * 3, -1))  # RGB at 128: hole
    _write_mask(d / "d.png", (np.tri(S, dtype=np.uint16) * 40000).astype(np.uint16))  # 16-bit
    (d / "notes.txt").write_text("not a mask")
    with pytest.warns(InputWarning, match="4 warning\\(s\\) reading 4 mask files"):
        gen = mask_files.FileMasks(S, str(d))
    assert [p.rsplit("/", 1)[1] for p in gen.paths] == ["a.png", "b.png", "c.jpg", "d.png"]
    bank = gen.bank()
    assert bank.shape == (4, S, S)
    np.testing.assert_array_equal(bank[0][:, 32:], 1)
    np.testing.assert_array_equal(bank[0][:, :32], 0)
    assert bank[1].sum() == 0 and bank[2].min() == 1
    np.testing.assert_array_equal(bank[3], np.tri(S, dtype=np.uint8))  # 40000/65535*255 = 156 >= 128
    picks = {M.hole_ratio(m)[0] for m in gen.sample(range(40)).numpy()}
    assert picks == {0.5, 0.0, 1.0, np.tri(S).mean()}

    with pytest.warns(InputWarning):
        paired = mask_files.FileMasks(S, str(d), paired=True)
    paired.pair_with(["/x/c.png", "/y/a.jpg"], [7, 2])
    masks = paired.sample([7, 2]).numpy()
    assert masks[0].min() == 1 and M.hole_ratio(masks[1:])[0] == 0.5
    with pytest.raises(M.MaskError, match="no mask of the same file name.*zzz"):
        paired.pair_with(["/x/zzz.png"])
    listing = tmp_path / "list.txt"
    listing.write_text("masks/b.png\nmasks/a.png\n")
    with pytest.warns(InputWarning):
        listed = mask_files.FileMasks(S, str(listing))
    assert [p.rsplit("/", 1)[1] for p in listed.paths] == ["b.png", "a.png"]


def test_mixed_and_mask_strings(tmp_path):
    gen = mask_specs.make_mask_generator("mixed:center=0.5,random_rect=0.5", S)
    masks = gen.sample(range(64)).numpy()
    center = M.CenterMasks(S).sample([0]).numpy()[0]
    is_center = np.array([np.array_equal(m, center) for m in masks])
    assert 16 <= is_center.sum() <= 48
    np.testing.assert_array_equal(masks, gen.sample(range(64)).numpy())
    default = mask_specs.make_mask_generator("mixed", S)
    assert [type(g).__name__ for g in default.generators] == [
        "FreeFormMasks",
        "RandomRectMasks",
        "CenterMasks",
    ]
    assert isinstance(mask_specs.make_mask_generator("center", S, 0.25), M.CenterMasks)
    for spec, message in [
        ("circle", "unknown kind 'circle'"),
        ("files:", "expected files:DIR"),
        ("mixed:center", "NAME=WEIGHT"),
        ("mixed:files=1", "cannot be mixed"),
        (f"files:{tmp_path}/none", "does not exist"),
        (f"files:{tmp_path}", "holds no mask"),
    ]:
        with pytest.raises(M.MaskError, match=message):
            mask_specs.make_mask_generator(spec, S)
    with pytest.raises(M.MaskError, match="32 px given for images of 64"):
        mask_specs.make_mask_generator(M.CenterMasks(32), S)
