"""Texture statistics of a fill inside its hole: does it have the real photo's texture and detail?

PSNR rewards the mean of the plausible fills, which is a blur; these two numbers see the blur.

- `hole_swd`: the sliced Wasserstein distance (SWD) between 7x7 patches of a Laplacian pyramid
  of the fill and of the real photo, patches centred in the hole, **reported x 1e3** (ProGAN's
  convention; lower = closer to real, the real photo scores exactly 0). Karras et al., "Progressive
  Growing of GANs", ICLR 2018, and their `metrics/sliced_wasserstein.py`: 5-tap binomial pyramid,
  the coarsest level the low-pass residual; a patch is a descriptor of 7 * 7 * 3 values; the
  distance is the mean |difference| of the sorted projections of both sets on random unit
  directions. Two choices differ from ProGAN, both on purpose:
  - **One normalisation for both sets, the real patches' per-channel mean and std.** ProGAN
    normalises each set by its own statistics, which would rescale a low-contrast grey haze back
    to the real contrast and hide exactly the defect a blurry inpainter has. (The std is floored at
    one 8-bit grey level, so a flat real hole does not divide by zero.)
  - **The same centres for the fill and the real patches**, drawn among the hole pixels of each
    level: a level's pixel is a hole pixel when any of the 2x2 pixels below it is, so a
    1-pixel stroke stays a hole at every level. Outside the hole the two images agree, so the
    patch sets differ only where the fill (or its seam) does.
  Centres and directions are drawn from `seed`: the same inputs and seed give the same value.
- `gradient_energy_ratio`: the mean squared luminance gradient of the fill inside the hole over
  that of the real photo; 1 = as much detail as real, a blur < 1 (L2-trained fills sit near 0.4).

Images are uint8 or float in [0, 1], [H, W, 3]; masks [H, W] or [H, W, 1], 1 = hole
(`convention.hole_map`). Both metrics are None for an empty hole, which is left out of averages.
NumPy plus OpenCV for the pyramid, no TensorFlow: cheap enough to run on every image of every
evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from tfinpaint.convention import hole_map

SWD_SCALE = 1e3  # reported values are SWD x 1e3, as in ProGAN's tables
LEVELS = 3
PATCH = 7
PATCHES_PER_LEVEL = 256
PROJECTIONS = 128
_STD_FLOOR = 1.0 / 255.0  # one 8-bit grey level, in [0, 1] units
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601


def _as_float(image, name: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"{name}: expected an RGB image [H, W, 3], got shape {list(image.shape)}.")
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    return image.astype(np.float32)


def _inputs(real, fill, mask) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    real, fill = _as_float(real, "real"), _as_float(fill, "fill")
    hole = hole_map(mask)
    if fill.shape != real.shape or hole.shape != real.shape[:2]:
        raise ValueError(
            f"texture: real {list(real.shape)}, fill {list(fill.shape)} and mask {list(hole.shape)} "
            "must have the same height and width."
        )
    return real, fill, hole


def laplacian_pyramid(image: np.ndarray, levels: int) -> list[np.ndarray]:
    """Finest first; every level but the last is band-pass, the last the low-pass residual.

    OpenCV's `pyrDown` / `pyrUp` are ProGAN's 5-tap binomial filter ([1, 4, 6, 4, 1] / 16,
    gain 4 for the zero-inserted upsampling), some ten times faster than the same in NumPy.
    """
    pyramid = [image]
    for _ in range(levels - 1):
        low = cv2.pyrDown(pyramid[-1])
        pyramid[-1] = pyramid[-1] - cv2.pyrUp(low, dstsize=pyramid[-1].shape[1::-1])
        pyramid.append(low)
    return pyramid


def _hole_pyramid(hole: np.ndarray, levels: int) -> list[np.ndarray]:
    """The hole at each level: a pixel is a hole pixel when any of the 2x2 below it is."""
    holes = [hole]
    for _ in range(levels - 1):
        h = holes[-1]
        h = np.pad(h, ((0, h.shape[0] % 2), (0, h.shape[1] % 2)))
        holes.append(h[::2, ::2] | h[1::2, ::2] | h[::2, 1::2] | h[1::2, 1::2])
    return holes


def _patches(level: np.ndarray, ys: np.ndarray, xs: np.ndarray, patch: int) -> np.ndarray:
    """Patches centred at (ys, xs), borders mirrored: float32 [N, patch, patch, C]."""
    radius = patch // 2
    padded = np.pad(level, ((radius, radius), (radius, radius), (0, 0)), mode="symmetric")
    offsets = np.arange(patch)
    return padded[ys[:, None, None] + offsets[None, :, None], xs[:, None, None] + offsets[None, None, :]]


def _sorted_projections(descriptors: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """[projections, N]: each direction's projections of the descriptors, sorted along rows
    (contiguous, several times faster than columns). `einsum` rather than `@`: a threaded BLAS
    spins its idle threads for a product this small, costing more CPU than it saves."""
    return np.sort(np.einsum("pk,nk->pn", directions, descriptors.reshape(descriptors.shape[0], -1)), axis=1)


def hole_swd(
    real,
    fill,
    mask,
    *,
    seed: int | Sequence[int],
    levels: int = LEVELS,
    patch: int = PATCH,
    patches_per_level: int = PATCHES_PER_LEVEL,
    projections: int = PROJECTIONS,
) -> dict | None:
    """Sliced Wasserstein distance x 1e3 between the fill's and the real photo's hole patches.

    Args:
        real: the real image [H, W, 3], uint8 or float in [0, 1].
        fill: the completed image, same shape (only its hole pixels differ from `real`).
        mask: [H, W] or [H, W, 1], 1 = hole.
        seed: draws the patch centres and projection directions (`np.random.default_rng`'s
            seed: an int or ints, e.g. (evaluation seed, image index)); same seed, same value.
        levels: Laplacian pyramid levels (finest first; the last is the low-pass residual).
        patch: side of the square patches.
        patches_per_level: centres drawn (without replacement) among a level's hole pixels;
            all of them when the hole has fewer.
        projections: random unit directions the descriptors are projected on.

    Returns:
        {"swd_levels": [finest, ..., coarsest], "swd": their mean}, floats x 1e3 (0 = the real
        photo's patches); None for an empty hole.
    """
    real, fill, hole = _inputs(real, fill, mask)
    if not hole.any():
        return None
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((projections, patch * patch * 3)).astype(np.float32)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    per_level = []
    for real_level, fill_level, level_hole in zip(
        laplacian_pyramid(real, levels), laplacian_pyramid(fill, levels), _hole_pyramid(hole, levels)
    ):
        ys, xs = np.nonzero(level_hole)
        if ys.size > patches_per_level:
            pick = rng.choice(ys.size, patches_per_level, replace=False)
            ys, xs = ys[pick], xs[pick]
        real_patches = _patches(real_level, ys, xs, patch)
        fill_patches = _patches(fill_level, ys, xs, patch)
        mean = real_patches.mean(axis=(0, 1, 2))
        std = np.maximum(real_patches.std(axis=(0, 1, 2)), _STD_FLOOR)
        real_sorted = _sorted_projections((real_patches - mean) / std, directions)
        fill_sorted = _sorted_projections((fill_patches - mean) / std, directions)
        per_level.append(float(np.abs(fill_sorted - real_sorted).mean()) * SWD_SCALE)
    return {"swd_levels": per_level, "swd": float(np.mean(per_level))}


def _squared_gradient_in_hole(image: np.ndarray, hole: np.ndarray) -> tuple[float, int]:
    """(sum, count) of the squared finite differences of luminance between neighbouring hole
    pixels (both of the pair in the hole: the seam is SWD's business, not detail)."""
    luma = image @ _LUMA
    dx, dy = np.diff(luma, axis=1), np.diff(luma, axis=0)
    in_x, in_y = hole[:, 1:] & hole[:, :-1], hole[1:, :] & hole[:-1, :]
    return float((dx * dx)[in_x].sum() + (dy * dy)[in_y].sum()), int(in_x.sum() + in_y.sum())


def gradient_energy_ratio(real, fill, mask) -> float | None:
    """Mean squared luminance gradient in the hole, fill over real: 1 = as much detail as the
    real photo, a blur < 1, added noise > 1.

    Finite differences count between two neighbouring pixels that are both in the hole. None
    when there is no such pair (an empty hole or isolated single pixels) and when the real hole
    has no gradient at all (a flat region: the ratio's denominator is 0).
    """
    real, fill, hole = _inputs(real, fill, mask)
    real_energy, pairs = _squared_gradient_in_hole(real, hole)
    if pairs == 0 or real_energy == 0.0:
        return None
    return _squared_gradient_in_hole(fill, hole)[0] / real_energy
