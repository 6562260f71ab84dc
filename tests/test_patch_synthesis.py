"""Guided patch synthesis (`blend="patches"`): the hole is made of the photo's own pixels, laid
out as the guide says, with the photo's texture."""

import numpy as np
import pytest

from tfinpaint.evaluation.texture import gradient_energy_ratio, hole_swd
from tfinpaint.patch_synthesis import guided_patch_fill
from tfinpaint.postprocess import apply_blend


def _texture(rng, side, tint):
    """A noisy texture of one tint: strong fine detail, a flat mean."""
    grain = rng.uniform(0.0, 1.0, (side, side, 1)).astype(np.float32)
    return np.clip(0.25 + 0.5 * grain * np.asarray(tint, np.float32), 0, 1)


@pytest.fixture
def two_textures():
    """Left half a red texture, right half a blue one; a square hole across the seam."""
    rng = np.random.default_rng(0)
    side = 48
    image = np.concatenate(
        [
            _texture(rng, side, (1, 0.2, 0.2))[:, : side // 2],
            _texture(rng, side, (0.2, 0.2, 1))[:, side // 2 :],
        ],
        axis=1,
    )
    hole = np.zeros((side, side), bool)
    hole[14:34, 14:34] = True
    # The guide: each side's mean colour, as a blurry network fill would give it.
    guide = image.copy()
    for half in (slice(0, side // 2), slice(side // 2, side)):
        guide[:, half] = image[:, half][~hole[:, half]].mean(0)
    return image, hole, guide


def test_the_hole_is_made_of_the_photos_own_pixels_and_nothing_else_changes(two_textures):
    image, hole, guide = two_textures
    out = guided_patch_fill(image, hole, guide, seed=0, guide_tolerance=None)
    np.testing.assert_array_equal(out[~hole], image[~hole])
    known = {tuple(p) for p in image[~hole]}
    assert all(tuple(p) in known for p in out[hole])


def test_the_guide_stays_where_the_photo_has_no_patch_like_it(two_textures):
    image, hole, guide = two_textures
    # A green the photo has nowhere, in the middle of the hole (a face's eye in a cheek's hole).
    guide = guide.copy()
    foreign = np.zeros_like(hole)
    foreign[15:20, 15:20] = True
    guide[foreign] = (0.1, 0.9, 0.1)
    gated = guided_patch_fill(image, hole, guide, seed=0)
    np.testing.assert_array_equal(gated[foreign], guide[foreign])
    copied = guided_patch_fill(image, hole, guide, seed=0, guide_tolerance=None)
    assert (copied[foreign][:, 1] < 0.8).all()
    # Where the photo's texture fits the guide the copies stay: nearly all the rest of the hole.
    rest = hole & ~_dilate_by(foreign, 9)
    assert (gated[rest] == copied[rest]).all(-1).mean() > 0.9
    # A tolerance no match meets keeps the guide everywhere.
    np.testing.assert_allclose(
        guided_patch_fill(image, hole, guide, seed=0, guide_tolerance=1e-12),
        np.where(hole[..., None], guide, image),
    )


def _dilate_by(mask, radius):
    grown = mask.copy()
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            grown |= np.roll(mask, (dy, dx), axis=(0, 1))
    return grown


def test_the_layout_follows_the_guide(two_textures):
    image, hole, guide = two_textures
    out = guided_patch_fill(image, hole, guide, seed=0)
    left, right = hole.copy(), hole.copy()
    left[:, 24:] = False
    right[:, :24] = False
    # Red stays left of the seam and blue right of it, as in the guide.
    assert (out[left][:, 0] > out[left][:, 2]).mean() > 0.9
    assert (out[right][:, 2] > out[right][:, 0]).mean() > 0.9


def test_the_fill_has_the_photos_texture_where_the_guide_has_none(two_textures):
    image, hole, guide = two_textures
    out = guided_patch_fill(image, hole, guide, seed=0)
    assert gradient_energy_ratio(image, guide, hole) < 0.05
    assert gradient_energy_ratio(image, out, hole) > 0.7
    assert hole_swd(image, out, hole, seed=0)["swd"] < 0.5 * hole_swd(image, guide, hole, seed=0)["swd"]


def test_seeded_and_blind_to_what_the_hole_held(two_textures):
    image, hole, guide = two_textures
    scrambled = image.copy()
    scrambled[hole] = 1.0
    first = guided_patch_fill(image, hole, guide, seed=3)
    np.testing.assert_array_equal(first, guided_patch_fill(scrambled, hole, guide, seed=3))
    assert not np.array_equal(first, guided_patch_fill(image, hole, guide, seed=4))


def test_no_hole_and_no_source_give_the_input_and_the_guide(two_textures):
    image, hole, guide = two_textures
    np.testing.assert_array_equal(guided_patch_fill(image, np.zeros_like(hole), guide), image)
    everything = np.ones_like(hole)
    np.testing.assert_array_equal(guided_patch_fill(image, everything, guide), guide)


def test_bad_inputs_are_named(two_textures):
    image, hole, guide = two_textures
    with pytest.raises(ValueError, match=r"guide: shape \[48, 47, 3\] does not match image \[48, 48, 3\]"):
        guided_patch_fill(image, hole, guide[:, :47])
    with pytest.raises(ValueError, match="hole: expected bool"):
        guided_patch_fill(image, hole.astype(np.uint8), guide)
    with pytest.raises(ValueError, match="iterations: expected >= 1, got 0"):
        guided_patch_fill(image, hole, guide, iterations=0)
    with pytest.raises(ValueError, match="guide_tolerance: expected > 0 or None, got 0"):
        guided_patch_fill(image, hole, guide, guide_tolerance=0)
    with pytest.raises(ValueError, match=r"image: expected float \[H, W, 3\]"):
        guided_patch_fill((image * 255).astype(np.uint8), hole, guide)


def test_the_patches_blend_works_on_8_bit_images(two_textures):
    image, hole, guide = two_textures
    image8, guide8 = (np.round(a * 255).astype(np.uint8) for a in (image, guide))
    out = apply_blend("patches", image8, guide8, hole)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[~hole], image8[~hole])
    with pytest.raises(ValueError, match="blend 'smooth': expected one of none, poisson, patches"):
        apply_blend("smooth", image8, guide8, hole)
    with pytest.raises(ValueError, match="blend 'patches' mask: expected"):
        apply_blend("patches", image8, guide8, hole[:10])
