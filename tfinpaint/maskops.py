"""What a user can ask of a mask before and after inpainting: flip it, grow it, feather the result.

- `invert_mask` flips a mask painted the other way round (black = hole, as OpenCV's
  `xphoto.inpaint` expects). It is never done on a guess: `check_not_inverted` only warns
  when a mask looks inverted and names the option.
- `dilate` grows the hole by N pixels, to take in the halo a mask drawn tight around an object
  leaves behind (shadows, JPEG ringing, anti-aliased edges).
- `feather` blends the fill into the photo over N pixels outside the hole's edge, so a fill whose
  colours are slightly off shows no hard seam. The network fills the hole grown by N pixels
  (`fill_region`); the hole itself is replaced whole, the ring around it fades from the fill
  to the photo, and every pixel further out stays the input's byte for byte.

Distances are Euclidean (`cv2.distanceTransform`), so N pixels means N pixels in every
direction, round corners included. Holes are bool [H, W], True = hole.
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np

from tfinpaint.convention import InputWarning

# A mask looks inverted when its hole covers more than this share of the image …
INVERTED_HOLE_SHARE = 0.5
# … and at least this share of the image's border is hole: the known pixels are an island.
INVERTED_BORDER_SHARE = 0.75


def _check_pixels(value, option: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{option} {value!r}: expected a whole number of pixels >= 0.")
    return int(value)


def distance_to_hole(hole: np.ndarray) -> np.ndarray:
    """Euclidean distance in pixels from each pixel to the nearest hole pixel (0 in the hole).

    Args:
        hole: bool [H, W], True = hole; must hold at least one hole pixel.

    Returns:
        float32 [H, W].
    """
    known = (~np.asarray(hole, bool)).astype(np.uint8)
    return cv2.distanceTransform(known, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def dilate(hole: np.ndarray, pixels: int) -> np.ndarray:
    """The hole grown by `pixels` in every direction (bool [H, W]); 0 returns a copy."""
    pixels = _check_pixels(pixels, "dilate")
    hole = np.asarray(hole, bool)
    if pixels == 0 or not hole.any():
        return hole.copy()
    return distance_to_hole(hole) <= pixels


def looks_inverted(hole: np.ndarray) -> bool:
    """True when the hole covers most of the image and surrounds the known pixels.

    A mask drawn over an object covers a minority of the photo; the same mask inverted covers
    most of it, and the object's outline is a small island of known pixels inside the hole,
    so nearly all of the image's border is hole. A large hole touching one edge (a sky, a
    foreground) leaves most of the border known and is not flagged.
    """
    hole = np.asarray(hole, bool)
    if hole.size == 0 or hole.mean() <= INVERTED_HOLE_SHARE or hole.all():
        return False
    border = np.concatenate([hole[0], hole[-1], hole[1:-1, 0], hole[1:-1, -1]])
    return bool(border.mean() >= INVERTED_BORDER_SHARE)


def prepare_hole(hole: np.ndarray, *, invert: bool = False, dilate_by: int = 0, name: str = "the mask"):
    """The hole to fill, from the hole a user gave: flipped on request, checked, grown.

    Args:
        hole: bool [H, W], True = hole, as read (white = hole).
        invert: flip the mask first (`--invert-mask`).
        dilate_by: grow the hole by this many pixels (`--dilate`).
        name: how the warning names the mask.

    Returns:
        bool [H, W].

    Warns:
        InputWarning when the (possibly flipped) hole looks inverted (`looks_inverted`).
    """
    hole = np.asarray(hole, bool)
    if invert:
        hole = ~hole
    if looks_inverted(hole):
        share = 100.0 * hole.mean()
        advice = (
            "it was flipped by --invert-mask (invert_mask=True): leave that option out"
            if invert
            else "if white marks what to keep, pass --invert-mask (invert_mask=True) to flip it"
        )
        warnings.warn(
            f"{name}: the hole covers {share:.0f}% of the image and surrounds the known pixels: "
            f"the mask looks inverted (white = hole, black = keep); {advice}.",
            InputWarning,
            stacklevel=2,
        )
    return dilate(hole, dilate_by)


def fill_region(hole: np.ndarray, feather_by: int) -> np.ndarray:
    """What the model must fill for `feather`: the hole and the `feather_by`-pixel ring around it."""
    return dilate(hole, _check_pixels(feather_by, "feather"))


def feather_weights(hole: np.ndarray, pixels: int) -> np.ndarray:
    """How much of the fill each pixel takes: 1 in the hole, fading to 0 over `pixels` outside.

    A known pixel at distance d (1 <= d <= pixels) from the hole gets 1 - d / (pixels + 1);
    pixels further out get exactly 0.

    Returns:
        float32 [H, W] in [0, 1].
    """
    pixels = _check_pixels(pixels, "feather")
    hole = np.asarray(hole, bool)
    if pixels == 0 or not hole.any():
        return hole.astype(np.float32)
    distance = distance_to_hole(hole)
    weights = np.clip(1.0 - distance / np.float32(pixels + 1), 0.0, 1.0).astype(np.float32)
    weights[distance > pixels] = 0.0
    return weights


def feather(image: np.ndarray, completed: np.ndarray, hole: np.ndarray, pixels: int) -> np.ndarray:
    """Blend `completed` into `image`: the hole from `completed`, a `pixels`-wide fading ring.

    Args:
        image: uint8 [H, W, 3], the photo.
        completed: uint8 [H, W, 3], filled over `fill_region(hole, pixels)`.
        hole: bool [H, W], the hole (after `prepare_hole`).
        pixels: width of the ring; 0 = the hole from `completed`, the rest from `image`.

    Returns:
        uint8 [H, W, 3]: equal to `completed` in the hole and to `image` (byte for byte) further
        than `pixels` from it.
    """
    weights = feather_weights(hole, pixels)[..., None]
    mixed = image.astype(np.float32) + weights * (completed.astype(np.float32) - image.astype(np.float32))
    return np.rint(mixed).astype(np.uint8)
