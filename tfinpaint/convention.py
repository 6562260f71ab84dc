"""The package's central promise, in one place: what a mask means and what an output may change.

- **Masks**: 1 (or white, >= 128 in 8-bit files) = hole, 0 (black) = known. A mask whose
  largest value is 1 is read as {0, 1}. Never `> 0`: JPEG noise around black is not a hole.
- **Completion**: `image * (1 - mask) + prediction * mask`, so every pixel outside the hole is
  the input's, bit for bit (x * 1 + y * 0 == x for finite y).
- **8 bits**: floats in [0, 1] become uint8 by `round(clip(x, 0, 1) * 255)`.
- **Blends**: the only change after the completion is one of `BLENDS`
  (`tfinpaint.postprocess`), and it changes the hole only.

Training (`tfinpaint.data.masks`), inference, export and serving all use these functions, so a
mask file means the same holes everywhere. NumPy arrays and TensorFlow tensors are both accepted
where the docstring says so.
"""

from __future__ import annotations

import warnings

import numpy as np

MASK_THRESHOLD = 128
# A mask value in (SOFT_LOW, SOFT_HIGH) is "in between": neither clearly kept nor clearly hole.
SOFT_LOW, SOFT_HIGH = 32, 224
# Warn when this share of the marked (>= SOFT_LOW) mask pixels is in between.
SOFT_WARN_SHARE = 0.05

# What may be done to a model's composite before a user sees it (`tfinpaint.postprocess`).
BLENDS = ("none", "poisson", "patches")

# Image files every reader accepts (by extension, lower case).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
# Mask files may also be TIFF (16-bit masks from image editors).
MASK_FILE_EXTENSIONS = (*IMAGE_EXTENSIONS, ".tif", ".tiff")


class InputWarning(UserWarning):
    """Something in an input file was converted or looks unintended; the message says what."""


def hole_from_values(values, name: str = "mask") -> np.ndarray:
    """Threshold 0..255 mask values (or {0, 1}) to a hole map: uint8 [H, W], 1 = hole.

    White (>= 128) is a hole. A mask whose largest value is 1 is read as {0, 1}. Warns
    (`InputWarning`) when many marked pixels are in between (a soft brush or JPEG compression),
    since the threshold then decides the edge.
    """
    values = np.asarray(values)
    if values.size and values.max() == 1:
        return (values == 1).astype(np.uint8)
    marked = int(np.count_nonzero(values >= SOFT_LOW))
    soft = int(np.count_nonzero((values > SOFT_LOW) & (values < SOFT_HIGH)))
    if marked and soft / marked >= SOFT_WARN_SHARE:
        warnings.warn(
            f"{name}: {soft:,} of {marked:,} marked pixels are grey ({SOFT_LOW}-{SOFT_HIGH}), as "
            f"from a soft brush or JPEG compression; thresholded at {MASK_THRESHOLD} "
            "(>= 128 = hole). Save masks as black and white PNG for exact edges.",
            InputWarning,
            stacklevel=2,
        )
    return (values >= MASK_THRESHOLD).astype(np.uint8)


def hole_map(mask, name: str = "mask") -> np.ndarray:
    """Any in-memory mask as a hole map: bool [H, W] (or [..., H, W] without a channel), True = hole.

    bool is taken as is, floats are holes at >= 0.5, integers follow `hole_from_values` (the file
    rule: >= 128, or {0, 1}). A trailing channel axis of size 1 is dropped.
    """
    mask = np.asarray(mask)
    if mask.ndim >= 3 and mask.shape[-1] == 1:
        mask = mask[..., 0]
    if mask.dtype == bool:
        return mask
    if np.issubdtype(mask.dtype, np.floating):
        return mask >= 0.5
    return hole_from_values(mask, name).astype(bool)


def composite(image, mask, prediction):
    """The completed image: `image` where mask is 0, `prediction` where it is 1.

    Works on NumPy arrays and TensorFlow tensors alike (float images, mask [..., 1] in {0, 1});
    the prediction is cast to the image's dtype so mixed-precision outputs paste into float32.
    """
    if isinstance(prediction, np.ndarray):
        prediction = prediction.astype(np.asarray(image).dtype, copy=False)
    elif hasattr(prediction, "dtype") and prediction.dtype != image.dtype:
        import tensorflow as tf

        prediction = tf.cast(prediction, image.dtype)
    return image * (1.0 - mask) + prediction * mask


def to_uint8(values) -> np.ndarray:
    """Floats in [0, 1] (any shape) -> uint8 by `round(clip(x, 0, 1) * 255)`."""
    return np.rint(np.clip(np.asarray(values, np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


def to_uint8_tf(values):
    """`to_uint8` in TensorFlow ops (inside exported graphs)."""
    import tensorflow as tf

    return tf.cast(tf.round(tf.clip_by_value(tf.cast(values, tf.float32), 0.0, 1.0) * 255.0), tf.uint8)
