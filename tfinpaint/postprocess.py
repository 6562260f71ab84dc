"""What a model's raw composite goes through before a user sees it (`blend`).

- `none`: the raw composite.
- `poisson`: Poisson blending of the generated hole into the photo (paper 2's post-processing;
  the default for paper-2 models, paper 1 has none).
- `patches`: the hole re-made from the photo's own patches, following the model's
  Poisson-blended fill (`tfinpaint.patch_synthesis`): the model's layout with the photo's real
  texture.

OpenCV and numpy, not TensorFlow: exports return the raw composite, and
`tfinpaint.inference.inpaint` and `tfinpaint evaluate` apply these on top.
"""

from __future__ import annotations

import cv2
import numpy as np

from tfinpaint.convention import BLENDS

# Pixels of known context kept around the blended region inside the cropped window, so the
# region never touches the window's edge (seamlessClone needs it strictly inside).
_MARGIN = 8

# The patch search holds ~100 bytes a pixel of the image it searches (tfinpaint.serving.estimates),
# so a larger photo is searched in windows of at most this side, one at a time: cores of
# PATCH_WINDOW - 2 * PATCH_CONTEXT pixels, each with PATCH_CONTEXT pixels of photo around it to
# copy from (the network's own context, `tfinpaint.inference.sizing`). A photo up to this side
# (every evaluation set) is searched whole.
PATCH_WINDOW = 1152
PATCH_CONTEXT = 128

# Pixels along the hole's edge over which the fill's mismatch with the photo is averaged before
# the clone meets it (`_clone_target`): the fill's colour offset is taken out, the photo's fine
# detail at the edge is not spread into the hole. Measured on the shipped model against the
# blend that kept the seam's gradient (a 3-px ring of the composite): +0.16 / +0.33 dB on
# BSDS500 centre holes / NVIDIA masks and +0.01 dB on the faces, where meeting the raw edge (no
# averaging) lost 0.44 dB (docs/PAPER_COMPARISONS.md).
_EDGE_SIGMA = 3.0


def _check(image, completed, mask, who: str = "poisson_blend") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    image = np.asarray(image)
    completed = np.asarray(completed)
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[-1] == 1:
        mask = mask[..., 0]
    for name, arr in (("image", image), ("completed", completed)):
        if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[-1] != 3:
            raise ValueError(f"{who} {name}: expected uint8 [H, W, 3], got {arr.dtype} {list(arr.shape)}.")
    if completed.shape != image.shape:
        raise ValueError(
            f"{who}: completed {list(completed.shape)} does not match image {list(image.shape)}."
        )
    if mask.shape != image.shape[:2]:
        raise ValueError(
            f"{who} mask: expected [H, W] or [H, W, 1] = "
            f"{list(image.shape[:2])}, got {list(np.asarray(mask).shape)}."
        )
    return image, completed, mask != 0


def _clone_target(image: np.ndarray, completed: np.ndarray, hole: np.ndarray, ring: np.ndarray) -> np.ndarray:
    """The clone's target: `image` outside the hole; inside it the fill, shifted by the smooth
    part of the fill's mismatch with the photo along `ring`, the known pixels touching the hole
    (each hole pixel by its nearest ring pixel's). seamlessClone takes its boundary values from
    the target's pixels at the hole's edge, so the fill meets the photo's colours there without
    the photo's fine detail at the edge being spread into the hole. Never reads `image` inside
    the hole."""
    from scipy import ndimage  # imported here for start-up time

    rows, cols = ndimage.distance_transform_edt(~hole, return_distances=False, return_indices=True)
    if not ring.any():  # the hole is the whole window: nothing to meet
        return completed.copy()
    mismatch = np.where(ring[..., None], image.astype(np.float32) - completed[rows, cols], 0)
    weight = cv2.GaussianBlur(ring.astype(np.float32), (0, 0), _EDGE_SIGMA)[..., None]
    smooth = cv2.GaussianBlur(mismatch, (0, 0), _EDGE_SIGMA) / np.maximum(weight, 1e-6)
    rows, cols = ndimage.distance_transform_edt(~ring, return_distances=False, return_indices=True)
    target = np.where(hole[..., None], completed + smooth[rows, cols], image)
    return np.clip(np.round(target), 0, 255).astype(np.uint8)


def poisson_blend(image: np.ndarray, completed: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Blend `completed`'s hole into `image` by solving Poisson's equation (normal clone).

    Inside the hole the result keeps the fill's gradients; at the hole's edge it meets the
    photo's colours, smoothed along the edge (`_clone_target`): a fill with a colour cast (the
    shipped model's grey in green grass) comes out in the photo's colour, and a fill that was
    right at its edge keeps its detail. Only the cropped window around the hole is solved, so the
    cost follows the hole, not the photo; nothing the hole held is read (GLCIC-PyTorch's blend
    read it, and fixed that).

    Args:
        image: uint8 [H, W, 3], the original (its hole pixels are never read).
        completed: uint8 [H, W, 3], the network's composite (equal to `image` outside the hole).
        mask: [H, W] or [H, W, 1], non-zero = hole.

    Returns:
        uint8 [H, W, 3]: pixels outside the hole are `image`'s, byte for byte; an empty mask
        returns a copy of `image`. Holes touching the border work: the window is padded by
        mirroring `completed`, so the seam along the border follows it.

    Reference:
        Pérez, Gangnet, Blake, "Poisson image editing", SIGGRAPH 2003.
        GLCIC-PyTorch's `poisson_blend`, https://github.com/otenim/GLCIC-PyTorch
    """
    image, completed, hole = _check(image, completed, mask)
    if not hole.any():
        return image.copy()
    # The clone's region: the hole and the ring of known pixels around it; OpenCV erodes it by
    # one pixel and takes its boundary values from the target at the hole's edge.
    region = cv2.dilate(hole.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    ys, xs = np.nonzero(region)
    h, w = hole.shape
    y0, y1 = max(ys.min() - _MARGIN, 0), min(ys.max() + 1 + _MARGIN, h)
    x0, x1 = max(xs.min() - _MARGIN, 0), min(xs.max() + 1 + _MARGIN, w)
    # Where the window hits the image border, extend it by mirroring the completed image: the
    # clone then has known-looking context on every side.
    pad = (
        (_MARGIN - (ys.min() - y0), _MARGIN - (y1 - 1 - ys.max())),
        (_MARGIN - (xs.min() - x0), _MARGIN - (x1 - 1 - xs.max())),
        (0, 0),
    )
    window_hole = hole[y0:y1, x0:x1]
    window_ring = region[y0:y1, x0:x1] & ~window_hole
    source = np.pad(completed[y0:y1, x0:x1], pad, mode="symmetric")
    target = source.copy()
    target[pad[0][0] : pad[0][0] + (y1 - y0), pad[1][0] : pad[1][0] + (x1 - x0)] = _clone_target(
        image[y0:y1, x0:x1], completed[y0:y1, x0:x1], window_hole, window_ring
    )
    # seamlessClone solves on the region's bounding box and takes that box's outer ring from
    # the target as the boundary condition. Mirroring the region into the padding puts that
    # ring on the mirrored completed pixels where the hole meets the image border, instead of
    # on the original's (unknown) hole pixels.
    region_win = np.pad(region[y0:y1, x0:x1], pad[:2], mode="symmetric").astype(np.uint8) * 255
    # OpenCV clears the mask's outer 1-pixel ring itself; clearing it here too keeps the
    # bounding box below the one OpenCV uses.
    region_win[[0, -1], :] = 0
    region_win[:, [0, -1]] = 0
    # With this centre seamlessClone puts the source patch exactly where it came from
    # (checked on OpenCV 5 against random boxes).
    ry, rx = np.nonzero(region_win)
    centre = (int(rx.min() + (rx.max() - rx.min() + 1) // 2), int(ry.min() + (ry.max() - ry.min() + 1) // 2))
    # OpenCV 5 modifies the mask argument in place: hand it a copy.
    blended = cv2.seamlessClone(source, target, region_win.copy(), centre, cv2.NORMAL_CLONE)
    out = image.copy()
    inner = blended[pad[0][0] : pad[0][0] + (y1 - y0), pad[1][0] : pad[1][0] + (x1 - x0)]
    out[y0:y1, x0:x1][window_hole] = inner[window_hole]
    return out


def apply_blend(
    blend: str, image: np.ndarray, completed: np.ndarray, mask: np.ndarray, seed: int = 0
) -> np.ndarray:
    """`completed` (uint8 [H, W, 3], the raw composite) through `blend`, one of `BLENDS`.

    `mask` ([H, W] or [H, W, 1], non-zero = hole) is the region the model filled; `seed` seeds
    `patches`' search. Returns uint8 [H, W, 3].
    """
    if blend not in BLENDS:
        raise ValueError(f"blend {blend!r}: expected one of {', '.join(BLENDS)}.")
    if blend == "poisson":
        return poisson_blend(image, completed, mask)
    if blend == "patches":
        return _patches(*_check(image, completed, mask, who="blend 'patches'"), seed)
    return np.asarray(completed).copy()


def _patches(image: np.ndarray, completed: np.ndarray, hole: np.ndarray, seed: int) -> np.ndarray:
    """`blend="patches"`: the Poisson-blended fill re-made from the photo's patches, window by
    window (`PATCH_WINDOW`)."""
    from tfinpaint.patch_synthesis import guided_patch_fill

    # The guide is the Poisson-blended fill: without a seam at the hole's edge the copied
    # patches meet the photo there (measured: +0.2 dB over the raw fill as the guide, same
    # texture; docs/PAPER_COMPARISONS.md).
    guide = poisson_blend(image, completed, hole)
    height, width = hole.shape
    core = PATCH_WINDOW if max(height, width) <= PATCH_WINDOW else PATCH_WINDOW - 2 * PATCH_CONTEXT
    context = 0 if core == PATCH_WINDOW else PATCH_CONTEXT
    scale = np.float32(1.0 / 255.0)
    copies = []  # each core's hole pixels, written once every window has read the guide
    for y in range(0, height, core):
        for x in range(0, width, core):
            mine = hole[y : y + core, x : x + core]
            if not mine.any():
                continue
            top, left = max(0, y - context), max(0, x - context)
            window = np.s_[top : y + core + context, left : x + core + context]
            filled = guided_patch_fill(image[window] * scale, hole[window], guide[window] * scale, seed=seed)
            # Only the core's hole takes this window's copies; the context's are its neighbours'.
            filled = filled[y - top : y - top + mine.shape[0], x - left : x - left + mine.shape[1]]
            copies.append((y, x, mine, np.clip(np.round(filled[mine] * 255.0), 0, 255).astype(np.uint8)))
    for y, x, mine, pixels in copies:
        guide[y : y + core, x : x + core][mine] = pixels
    return guide
