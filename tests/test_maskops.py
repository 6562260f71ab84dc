"""Mask options: --invert-mask, --dilate, --feather (tfinpaint.maskops and inference.inpaint)."""

import warnings

import numpy as np
import pytest
from PIL import Image

from tfinpaint import maskops
from tfinpaint.convention import InputWarning
from tfinpaint.inference import inpaint


def _box(h=64, w=64, y0=24, y1=40, x0=20, x1=44):
    hole = np.zeros((h, w), bool)
    hole[y0:y1, x0:x1] = True
    return hole


@pytest.fixture(scope="module")
def photo(photo_paths):
    return np.asarray(Image.open(photo_paths[len(photo_paths) // 2]).convert("RGB").resize((64, 64)))


def test_dilate_grows_by_exactly_n_pixels_in_every_direction():
    dot = np.zeros((21, 21), bool)
    dot[10, 10] = True
    grown = maskops.dilate(dot, 3)
    y, x = np.mgrid[0:21, 0:21]
    np.testing.assert_array_equal(grown, (y - 10) ** 2 + (x - 10) ** 2 <= 9)  # a disk, not a square
    box = _box()
    np.testing.assert_array_equal(maskops.dilate(box, 0), box)
    grown_box = maskops.dilate(box, 2)
    assert grown_box[22, 20:44].all() and grown_box[24:40, 18].all()  # 2 pixels out on each side
    assert not grown_box[21].any() and not grown_box[:, 17].any()  # and no further
    assert not grown_box[22, 18] and grown_box[23, 19]  # round corners (2.8 > 2 >= 1.4)
    with pytest.raises(ValueError, match="dilate -1"):
        maskops.dilate(box, -1)


def test_feather_weights_fade_over_n_pixels_and_are_zero_beyond():
    hole = _box()
    weights = maskops.feather_weights(hole, 4)
    assert (weights[hole] == 1).all()
    distance = maskops.distance_to_hole(hole)
    ring = (distance > 0) & (distance <= 4)
    assert ((weights[ring] > 0) & (weights[ring] < 1)).all()
    assert (weights[distance > 4] == 0).all()
    # Leftwards from the hole's edge (column 20): 1, 4/5, 3/5, 2/5, 1/5, then 0.
    np.testing.assert_allclose(weights[30, 15:21], [0.0, 0.2, 0.4, 0.6, 0.8, 1.0], atol=1e-6)


def test_feather_keeps_the_fill_in_the_hole_and_the_photo_beyond_the_ring(photo):
    hole = _box()
    fill = np.full_like(photo, 200)
    completed = np.where(maskops.fill_region(hole, 5)[..., None], fill, photo)
    out = maskops.feather(photo, completed, hole, 5)
    distance = maskops.distance_to_hole(hole)
    np.testing.assert_array_equal(out[hole], fill[hole])
    np.testing.assert_array_equal(out[distance > 5], photo[distance > 5])
    ring = (distance > 0) & (distance <= 5)
    between = np.minimum(photo, fill)[ring].astype(int), np.maximum(photo, fill)[ring].astype(int)
    assert ((out[ring] >= between[0]) & (out[ring] <= between[1])).all()
    assert (out[ring] != photo[ring]).any()


def test_an_inverted_mask_is_warned_about_and_flipped_only_on_request():
    drawn = _box()  # a logo in the middle, hole = white
    inverted = ~drawn  # the same mask painted the other way round
    with pytest.warns(InputWarning, match=r"covers 91% .*looks inverted.*--invert-mask"):
        kept = maskops.prepare_hole(inverted, name="wm.png")
    np.testing.assert_array_equal(kept, inverted)  # warned, never guessed
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        np.testing.assert_array_equal(maskops.prepare_hole(inverted, invert=True), drawn)
        maskops.prepare_hole(drawn)
    with pytest.warns(InputWarning, match="flipped by --invert-mask.*leave that option out"):
        maskops.prepare_hole(drawn, invert=True)


@pytest.mark.parametrize(
    "name, hole, expected",
    [
        ("small hole", _box(), False),
        ("inverted small hole", ~_box(), True),
        ("big central hole, border known", _box(y0=4, y1=60, x0=4, x1=60), False),
        ("sky: the top 70 %", _box(y0=0, y1=45, x0=0, x1=64), False),
        ("full mask", np.ones((64, 64), bool), False),
        ("empty mask", np.zeros((64, 64), bool), False),
    ],
)
def test_looks_inverted(name, hole, expected):
    assert maskops.looks_inverted(hole) is expected, name


def test_api_dilate_and_feather_change_only_what_they_say(photo):
    hole = _box()
    plain = inpaint(photo, hole, model="telea", blend="none")
    dilated = inpaint(photo, hole, model="telea", blend="none", dilate=3)
    grown = maskops.dilate(hole, 3)
    np.testing.assert_array_equal(dilated[~grown], photo[~grown])
    assert (dilated[grown & ~hole] != photo[grown & ~hole]).any()  # the halo was refilled
    assert (plain[grown & ~hole] == photo[grown & ~hole]).all()

    feathered = inpaint(photo, hole, model="telea", blend="none", feather=4)
    distance = maskops.distance_to_hole(hole)
    np.testing.assert_array_equal(feathered[distance > 4], photo[distance > 4])
    # The hole holds the fill of the grown region, unmixed.
    wide = inpaint(photo, maskops.fill_region(hole, 4), model="telea", blend="none")
    np.testing.assert_array_equal(feathered[hole], wide[hole])
    # Poisson blending on top still leaves every pixel beyond the ring alone.
    blended = inpaint(photo, hole, model="telea", feather=4)
    np.testing.assert_array_equal(blended[distance > 4], photo[distance > 4])


def test_api_invert_mask_flips_before_filling(photo):
    hole = _box()
    with pytest.warns(InputWarning, match="looks inverted"):
        inpaint(photo, ~hole, model="telea", blend="none")
    flipped = inpaint(photo, ~hole, model="telea", blend="none", invert_mask=True)
    np.testing.assert_array_equal(flipped, inpaint(photo, hole, model="telea", blend="none"))
    with pytest.raises(ValueError, match="feather 1.5"):
        inpaint(photo, hole, model="telea", feather=1.5)
