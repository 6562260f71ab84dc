"""Poisson blending: alignment, untouched pixels outside the hole, a colour cast taken out,
border holes, and no trace of what the hole held."""

import cv2
import numpy as np
import pytest

from tfinpaint.postprocess import poisson_blend


@pytest.fixture(scope="module")
def photo():
    rng = np.random.default_rng(0)
    return cv2.GaussianBlur(rng.integers(0, 256, (60, 80, 3)).astype(np.uint8), (5, 5), 0)


def _mask(box, shape=(60, 80)):
    mask = np.zeros(shape, np.uint8)
    mask[box[0] : box[1], box[2] : box[3]] = 1
    return mask


BOXES = {
    "inside": (10, 30, 20, 44),
    "top_left_corner": (0, 20, 0, 30),
    "bottom_right_corner": (40, 60, 50, 80),
    "left_edge": (20, 35, 0, 12),
    "full_height_stripe": (0, 60, 30, 31),
    "one_pixel": (30, 31, 30, 31),
}


@pytest.mark.parametrize("where", sorted(BOXES))
def test_blend_changes_only_the_hole(photo, where):
    mask = _mask(BOXES[where])
    completed = photo.copy()
    completed[mask > 0] = 200  # a flat fill the seam must bend towards the photo
    mask_before = mask.copy()
    out = poisson_blend(photo, completed, mask)
    assert out.dtype == np.uint8 and out.shape == photo.shape
    np.testing.assert_array_equal(out[mask == 0], photo[mask == 0])
    np.testing.assert_array_equal(mask, mask_before)  # OpenCV 5 writes into its mask argument
    assert (out[mask > 0] != 200).any()  # the blend did move the fill


@pytest.mark.parametrize("where", sorted(BOXES))
def test_the_blend_never_sees_what_the_hole_held(photo, where):
    # The leak GLCIC-PyTorch shipped (and fixed): the clone read the original inside the hole.
    mask = _mask(BOXES[where])
    completed = photo.copy()
    completed[mask > 0] = 200
    emptied = np.where(mask[..., None] > 0, np.uint8(0), photo)
    noise = np.random.default_rng(2).integers(0, 256, photo.shape).astype(np.uint8)
    scrambled = np.where(mask[..., None] > 0, noise, photo)
    out = poisson_blend(photo, completed, mask)
    np.testing.assert_array_equal(poisson_blend(emptied, completed, mask), out)
    np.testing.assert_array_equal(poisson_blend(scrambled, completed, mask), out)


@pytest.mark.parametrize("where", sorted(BOXES))
def test_a_perfect_completion_changes_little(photo, where):
    # The photo's fine detail at the hole's edge is averaged out before the fill meets it: on
    # this noise (standard deviation 21 levels) meeting the raw edge moved a perfect fill by 9.
    mask = _mask(BOXES[where])
    out = poisson_blend(photo, photo, mask[..., None])
    assert np.abs(out.astype(int) - photo)[mask > 0].mean() < 5.0


@pytest.mark.parametrize("where", ["inside", "one_pixel"])
def test_a_fill_with_a_colour_cast_takes_the_photos_colour(where):
    # What the shipped model paints into grass: a grey fill in a green field comes out green,
    # its own detail kept. (Along the image border there is no photo to meet: a hole there keeps
    # the fill's colour at the border, the test after next.)
    green = np.array([40, 150, 30])
    photo = np.zeros((60, 80, 3), np.uint8) + green.astype(np.uint8)
    mask = _mask(BOXES[where])
    hole = mask > 0
    stripes = np.zeros((60, 80, 1), int)
    stripes[::2] = 6  # horizontal detail the blend must keep
    completed = np.where(hole[..., None], 110 + stripes, photo).astype(np.uint8)
    out = poisson_blend(photo, completed, mask).astype(int)
    assert np.abs(out[hole].mean(axis=0) - green).max() < 4, out[hole].mean(axis=0)
    if where == "inside":
        rows = out[12:28, 22:42].mean(axis=(1, 2))
        np.testing.assert_allclose(np.abs(np.diff(rows)), 6, atol=1.5)


@pytest.mark.parametrize("where", ["inside", "top_left_corner", "bottom_right_corner", "left_edge"])
def test_the_blended_patch_lands_where_it_came_from(photo, where):
    # A misplaced patch (seamlessClone's centre off by one) would move the fill's texture.
    mask = _mask(BOXES[where])
    texture = np.random.default_rng(1).integers(0, 256, photo.shape).astype(np.uint8)
    completed = np.where(mask[..., None] > 0, texture, photo)
    out = poisson_blend(photo, completed, mask).astype(int)
    inner = cv2.erode(mask, np.ones((5, 5), np.uint8))[:, :-1] > 0

    def gradient_error(dy, dx):
        shifted = np.roll(completed.astype(int), (dy, dx), axis=(0, 1))
        return np.abs(np.diff(out, axis=1) - np.diff(shifted, axis=1))[inner].mean()

    errors = {(dy, dx): gradient_error(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)}
    assert min(errors, key=errors.get) == (0, 0), errors


def test_border_hole_follows_the_completed_image_at_the_border(photo):
    mask = _mask(BOXES["top_left_corner"])
    completed = photo.copy()
    completed[mask > 0] = 200
    out = poisson_blend(photo, completed, mask)
    # At the image border there is no known pixel: the seam follows the completion there,
    # not the original's (removed) hole content.
    distance = np.abs(out[0, :10].astype(int) - 200).mean()
    assert distance < np.abs(photo[0, :10].astype(int) - 200).mean()


def test_full_mask_returns_the_completion(photo):
    completed = np.full_like(photo, 90)
    out = poisson_blend(photo, completed, np.ones(photo.shape[:2], np.uint8))
    assert np.abs(out.astype(int) - 90).max() <= 2


def test_empty_mask_returns_a_copy(photo):
    out = poisson_blend(photo, np.zeros_like(photo), np.zeros(photo.shape[:2], bool))
    np.testing.assert_array_equal(out, photo)
    assert out is not photo


def test_bad_arguments_are_named(photo):
    with pytest.raises(ValueError, match="mask"):
        poisson_blend(photo, photo, np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="completed"):
        poisson_blend(photo, photo.astype(np.float32), np.zeros(photo.shape[:2]))
