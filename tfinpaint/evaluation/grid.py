"""Example grids laid out like the papers' figures: masked input | output(s) | real image.

Pure numpy (OpenCV only to draw the column labels), so the evaluation PNG and TensorBoard's
image summaries share one layout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from tfinpaint.convention import to_uint8

HOLE_COLOUR = 255  # holes are shown white in the masked input, as in both papers' figures
_BACKGROUND = 255
_TEXT_COLOUR = (0, 0, 0)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _bytes(image) -> np.ndarray:
    """An image in [0, 1] (float) or 0..255 (uint8) as uint8, rounded like a saved image."""
    image = np.asarray(image)
    return image if image.dtype == np.uint8 else to_uint8(image)


def masked_input(image, mask) -> np.ndarray:
    """The image with its hole painted white: uint8 [..., H, W, 3] (mask 1 = hole)."""
    hole = np.asarray(mask)[..., :1] >= 0.5
    return np.where(hole, np.uint8(HOLE_COLOUR), _bytes(image))


def _label_band(labels: Sequence[str], cell_width: int, gap: int) -> np.ndarray:
    scale = float(np.clip(cell_width / 256.0 * 0.6, 0.3, 0.8))
    thickness = 1
    (_, text_h), baseline = cv2.getTextSize("Ag", _FONT, scale, thickness)
    height = text_h + baseline + 2 * gap + 4
    band = np.full((height, len(labels) * (cell_width + gap) + gap, 3), _BACKGROUND, np.uint8)
    for col, label in enumerate(labels):
        text = str(label)
        # Long names (model paths) are cut from the left: their end says the most.
        while len(text) > 1 and cv2.getTextSize(text, _FONT, scale, thickness)[0][0] > cell_width:
            text = text[1:]
        width = cv2.getTextSize(text, _FONT, scale, thickness)[0][0]
        x = gap + col * (cell_width + gap) + (cell_width - width) // 2
        cv2.putText(band, text, (x, gap + 2 + text_h), _FONT, scale, _TEXT_COLOUR, thickness, cv2.LINE_AA)
    return band


def make_grid(
    rows: Sequence[Sequence[np.ndarray]], labels: Sequence[str] | None = None, gap: int = 2
) -> np.ndarray:
    """Tile equally sized images into one uint8 RGB image, optionally with a label per column.

    Args:
        rows: one sequence of images per row, each [H, W, 3] (or [H, W, 1]), uint8 or float in
            [0, 1]; every row has the same number of images.
        labels: a caption per column, drawn in a white band on top; None for no band.
        gap: white pixels between and around cells.

    Returns:
        uint8 [rows * (H + gap) + gap (+ label band), columns * (W + gap) + gap, 3].
    """
    if not rows:
        raise ValueError("make_grid: no rows given.")
    columns = len(rows[0])
    cells = [[_bytes(img) for img in row] for row in rows]
    height, width = cells[0][0].shape[:2]
    for r, row in enumerate(cells):
        if len(row) != columns:
            raise ValueError(f"make_grid: row {r} has {len(row)} images, row 0 has {columns}.")
        for c, img in enumerate(row):
            if img.ndim != 3 or img.shape[:2] != (height, width) or img.shape[2] not in (1, 3):
                raise ValueError(
                    f"make_grid: image at row {r}, column {c} has shape {img.shape}, "
                    f"expected ({height}, {width}, 3)."
                )
    if labels is not None and len(labels) != columns:
        raise ValueError(f"make_grid: {len(labels)} labels for {columns} columns.")
    grid = np.full(
        (len(cells) * (height + gap) + gap, columns * (width + gap) + gap, 3), _BACKGROUND, np.uint8
    )
    for r, row in enumerate(cells):
        for c, img in enumerate(row):
            y, x = gap + r * (height + gap), gap + c * (width + gap)
            grid[y : y + height, x : x + width] = img if img.shape[2] == 3 else np.repeat(img, 3, -1)
    if labels is None:
        return grid
    return np.concatenate([_label_band(labels, width, gap), grid], axis=0)


def inpainting_grid(images, masks, outputs: Mapping[str, np.ndarray], gap: int = 2) -> np.ndarray:
    """The papers' figure layout for a batch: per example, input with hole | each output | real.

    Args:
        images: the real images [B, H, W, 3], uint8 or float in [0, 1].
        masks: [B, H, W, 1], 1 = hole.
        outputs: column label (model name) -> completed images [B, H, W, 3].
        gap: white pixels between cells.

    Returns:
        uint8 RGB grid with a label band ("input", the model names, "real").
    """
    images = np.asarray(images)
    masked = masked_input(images, masks)
    rows = [
        [masked[i], *(np.asarray(out)[i] for out in outputs.values()), images[i]]
        for i in range(images.shape[0])
    ]
    return make_grid(rows, ["input", *outputs.keys(), "real"], gap=gap)
