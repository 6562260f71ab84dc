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

BLENDS = ("none", "poisson", "patches")

# Pixels of known context kept around the blended region inside the cropped window, so the
# region never touches the window's edge (seamlessClone needs it strictly inside).
_MARGIN = 8


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


def _without_hole(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """`image` with its hole filled from the known pixels (Telea), so nothing the hole held
    reaches the blend: OpenCV's clone erodes the mask and reads the target near its edge."""
    # Zeroed first: OpenCV's Telea reads the hole's own values where it meets the image border.
    known = np.where(hole[..., None], np.uint8(0), image)
    return cv2.inpaint(known, hole.astype(np.uint8), 3, cv2.INPAINT_TELEA)


def blend_region(hole: np.ndarray, dilation: int = 3) -> np.ndarray:
    """The region Poisson blending may change: the hole grown by `dilation` pixels (bool)."""
    if dilation <= 0:
        return hole.copy()
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilation + 1,) * 2)
    return cv2.dilate(hole.astype(np.uint8), kernel).astype(bool)


def poisson_blend(
    image: np.ndarray, completed: np.ndarray, mask: np.ndarray, dilation: int = 3
) -> np.ndarray:
    """Blend `completed`'s hole into `image` by solving Poisson's equation (normal clone).

    The hole is grown by `dilation` pixels so the seam's boundary condition lies on known
    pixels; inside that region the result keeps `completed`'s gradients and meets `image` at
    the region's edge. Only the cropped window around the region is solved, so the cost
    follows the hole, not the photo. The clone's target is `image` with its hole filled from
    the known pixels (Telea), never the hole's own content: the result is the same whatever
    `image` holds inside the hole (GLCIC-PyTorch's fix of the same leak).

    Args:
        image: uint8 [H, W, 3], the original (its hole pixels are never read).
        completed: uint8 [H, W, 3], the network's composite (equal to `image` outside the hole).
        mask: [H, W] or [H, W, 1], non-zero = hole.
        dilation: pixels the hole is grown by before blending (>= 1).

    Returns:
        uint8 [H, W, 3]: pixels outside `blend_region(mask, dilation)` are `image`'s, byte for
        byte; an empty mask returns a copy of `image`. Holes touching the border work: the
        window is padded by mirroring `completed`, so the seam along the border follows it.

    Reference:
        Pérez, Gangnet, Blake, "Poisson image editing", SIGGRAPH 2003.
        GLCIC-PyTorch's `poisson_blend`, https://github.com/otenim/GLCIC-PyTorch
    """
    if dilation < 1:
        raise ValueError(f"poisson_blend dilation: expected >= 1 pixel, got {dilation}.")
    image, completed, hole = _check(image, completed, mask)
    if not hole.any():
        return image.copy()
    region = blend_region(hole, dilation)
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
    source = np.pad(completed[y0:y1, x0:x1], pad, mode="symmetric")
    target = source.copy()
    target[pad[0][0] : pad[0][0] + (y1 - y0), pad[1][0] : pad[1][0] + (x1 - x0)] = _without_hole(
        image[y0:y1, x0:x1], hole[y0:y1, x0:x1]
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
    window_region = region[y0:y1, x0:x1]
    out[y0:y1, x0:x1][window_region] = inner[window_region]
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
        from tfinpaint.patch_synthesis import guided_patch_fill

        image, completed, hole = _check(image, completed, mask, who="blend 'patches'")
        # The guide is the Poisson-blended fill: without a seam at the hole's edge the copied
        # patches meet the photo there (measured: +0.2 dB over the raw fill as the guide, same
        # texture; docs/PAPER_COMPARISONS.md).
        guide = poisson_blend(image, completed, hole)
        scale = np.float32(1.0 / 255.0)
        filled = guided_patch_fill(image * scale, hole, guide * scale, seed=seed)
        return np.clip(np.round(filled * 255.0), 0, 255).astype(np.uint8)
    return np.asarray(completed).copy()
