"""Image-quality metrics the papers report: PSNR, SSIM and L1, whole image or hole only.

All functions are TensorFlow ops (eager and graph mode) taking `a`, `b` of shape [B, H, W, C]
and returning one value per example, shape [B], float32. Inputs of any float dtype (e.g. the
bfloat16 / float16 outputs of a mixed-precision model) are cast to float32 first.

Value range: pass `max_val=255` for 8-bit values (the papers' eq.: MAX = 255) and `max_val=1`
for images in [0, 1]. Integer inputs (uint8) are accepted only with an explicit `max_val`
other than 1, because `max_val=1` on 0..255 values is always a mistake.

Hole-only variants (`mask=`, [B, H, W, 1], 1 = hole, binarised at 0.5):
- PSNR: the MSE is taken over the hole pixels only (all channels).
- SSIM: the SSIM map is computed at every pixel (the image reflect-padded by the window radius,
  as scikit-image's `structural_similarity(..., full=True)` does), averaged over channels, then
  averaged over the hole pixels.
- L1: the mean absolute difference over the hole pixels (all channels).
An example whose mask has no hole pixels has no hole-only value: NaN.

Identical images have zero MSE and an infinite PSNR; that would make any average over a data
set infinite, so PSNR is capped at `PSNR_CAP_DB` (100 dB, far above any real reconstruction:
one 8-bit grey level of error on every pixel is 48 dB).

Reference:
    Wang, Bovik, Sheikh, Simoncelli, "Image quality assessment: from error visibility to
    structural similarity", IEEE TIP 2004 (Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

PSNR_CAP_DB = 100.0
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _as_float(a, b, max_val):
    a = tf.convert_to_tensor(a)
    b = tf.convert_to_tensor(b)
    for name, t in (("a", a), ("b", b)):
        if t.dtype.is_integer and max_val is not None and float(max_val) == 1.0:
            raise ValueError(
                f"metrics: input `{name}` has integer dtype {t.dtype.name} but "
                "max_val=1.0; pass max_val=255 for 8-bit images."
            )
    a = tf.cast(a, tf.float32)
    b = tf.cast(b, tf.float32)
    if a.shape.rank is not None and a.shape.rank != 4:
        raise ValueError(f"metrics: expected images of shape [B, H, W, C], got shape {a.shape}.")
    tf.debugging.assert_equal(
        tf.shape(a), tf.shape(b), message="metrics: `a` and `b` must have the same shape"
    )
    return a, b


def _hole(mask):
    """Binary hole indicator [B, H, W, 1], float32."""
    mask = tf.cast(tf.convert_to_tensor(mask), tf.float32)
    if mask.shape.rank is not None and mask.shape.rank != 4:
        raise ValueError(f"metrics: expected a mask of shape [B, H, W, 1], got shape {mask.shape}.")
    return tf.cast(mask >= 0.5, tf.float32)


def _mean(values, mask):
    """Per-example mean of `values` [B, H, W, C] over all pixels, or over the hole pixels.

    An empty hole gives 0 / 0 = NaN on purpose (no hole-only value exists).
    """
    if mask is None:
        return tf.reduce_mean(values, axis=[1, 2, 3])
    hole = _hole(mask)
    channels = tf.cast(tf.shape(values)[-1], tf.float32)
    total = tf.reduce_sum(values * hole, axis=[1, 2, 3])
    count = tf.reduce_sum(hole, axis=[1, 2, 3]) * channels
    return total / count


def psnr(a, b, max_val=1.0, mask=None):
    """Peak signal-to-noise ratio in dB, per example, capped at `PSNR_CAP_DB`.

    `10 * log10(max_val**2 / MSE)`, the MSE over the whole image or over the hole pixels.
    Returns float32 [B].
    """
    a, b = _as_float(a, b, max_val)
    mse = _mean(tf.math.squared_difference(a, b), mask)
    max_sq = tf.constant(float(max_val) ** 2, tf.float32)
    # Flooring the MSE at max²·10^(-cap/10) caps the PSNR without an inf ever appearing
    # (NaN from an empty hole passes through tf.maximum unchanged).
    floor = max_sq * 10.0 ** (-PSNR_CAP_DB / 10.0)
    mse = tf.where(tf.math.is_nan(mse), mse, tf.maximum(mse, floor))
    value = 10.0 * tf.math.log(max_sq / mse) / tf.math.log(10.0)
    # The floor leaves float rounding just below the cap; report the cap itself.
    return tf.where(value > PSNR_CAP_DB - 1e-3, PSNR_CAP_DB, value)


def l1(a, b, mask=None):
    """Mean absolute difference per example (whole image or hole only), in the inputs' units.

    Returns float32 [B].
    """
    a, b = _as_float(a, b, max_val=None)
    return _mean(tf.abs(a - b), mask)


def _gaussian_kernel():
    radius = SSIM_WINDOW // 2
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-(x**2) / (2.0 * SSIM_SIGMA**2))
    return (g / g.sum()).astype(np.float32)


def ssim_map(a, b, max_val=1.0):
    """The SSIM index at every pixel, averaged over channels: float32 [B, H, W].

    Local statistics use an 11-tap Gaussian window (sigma 1.5) on the image reflect-padded
    (symmetric, like `scipy.ndimage`'s "reflect") by the window radius, and population
    (not sample) covariance — scikit-image's `gaussian_weights=True, use_sample_covariance=False`.
    """
    a, b = _as_float(a, b, max_val)
    radius = SSIM_WINDOW // 2
    static_hw = a.shape[1:3]
    for side in static_hw:
        if side is not None and side < SSIM_WINDOW:
            raise ValueError(
                f"metrics: SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} "
                f"pixels, got {static_hw[0]}x{static_hw[1]}."
            )
    shape = tf.shape(a)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]

    def planes(x):
        # Channels become batch entries so one single-channel filter serves any channel count.
        x = tf.transpose(x, [0, 3, 1, 2])
        return tf.reshape(x, [batch * channels, height, width, 1])

    pa, pb = planes(a), planes(b)
    stack = tf.concat([pa, pb, pa * pa, pb * pb, pa * pb], axis=-1)
    stack = tf.pad(stack, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="SYMMETRIC")
    g = tf.constant(_gaussian_kernel())
    vertical = tf.tile(tf.reshape(g, [SSIM_WINDOW, 1, 1, 1]), [1, 1, 5, 1])
    horizontal = tf.tile(tf.reshape(g, [1, SSIM_WINDOW, 1, 1]), [1, 1, 5, 1])
    stats = tf.nn.depthwise_conv2d(stack, vertical, [1, 1, 1, 1], "VALID")
    stats = tf.nn.depthwise_conv2d(stats, horizontal, [1, 1, 1, 1], "VALID")
    mu_a, mu_b, e_aa, e_bb, e_ab = tf.unstack(stats, axis=-1)
    var_a = e_aa - mu_a * mu_a
    var_b = e_bb - mu_b * mu_b
    cov = e_ab - mu_a * mu_b
    c1 = (SSIM_K1 * float(max_val)) ** 2
    c2 = (SSIM_K2 * float(max_val)) ** 2
    index = (
        (2.0 * mu_a * mu_b + c1)
        * (2.0 * cov + c2)
        / ((mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2))
    )
    index = tf.reshape(index, [batch, channels, height, width])
    return tf.reduce_mean(index, axis=1)


def ssim(a, b, max_val=1.0, mask=None):
    """Structural similarity (Wang et al. 2004), per example, mean over channels.

    Whole image: the mean of the SSIM map over the pixels whose window lies inside the image
    (a border of 5 pixels excluded), exactly scikit-image's `structural_similarity` value.
    Hole only (`mask=`): the mean of the full SSIM map (`ssim_map`) over the hole pixels.
    Returns float32 [B].
    """
    index = ssim_map(a, b, max_val)[..., tf.newaxis]
    if mask is not None:
        return _mean(index, mask)
    radius = SSIM_WINDOW // 2
    return tf.reduce_mean(index[:, radius:-radius, radius:-radius, :], axis=[1, 2, 3])
