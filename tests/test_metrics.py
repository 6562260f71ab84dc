"""tfinpaint.metrics against scikit-image on real photos, and hole-only values computed by hand."""

import math

import cv2
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from tfinpaint import metrics

SKIMAGE_SSIM = dict(
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1
)


@pytest.fixture(scope="module")
def photo_pairs(photo_paths):
    """Real photos (uint8 [4, 96, 128, 3]) and distorted copies: noise, blur, JPEG, grey hole."""
    rng = np.random.default_rng(0)
    step = max(1, len(photo_paths) // 4)
    real = np.stack(
        [np.asarray(Image.open(p).convert("RGB").resize((128, 96))) for p in photo_paths[::step][:4]]
    )
    noisy = np.clip(real.astype(int) + rng.integers(-25, 26, real.shape), 0, 255).astype(np.uint8)
    blurred = cv2.GaussianBlur(real[1], (7, 7), 2.0)
    jpeg = cv2.imdecode(cv2.imencode(".jpg", real[2], [cv2.IMWRITE_JPEG_QUALITY, 20])[1], 1)
    holed = real[3].copy()
    holed[20:70, 30:90] = 128
    distorted = np.stack([noisy[0], blurred, jpeg, holed])
    return real, distorted


def test_psnr_matches_skimage_on_8bit_and_unit_range(photo_pairs):
    real, distorted = photo_pairs
    expected = [peak_signal_noise_ratio(a, b, data_range=255) for a, b in zip(real, distorted)]
    np.testing.assert_allclose(metrics.psnr(real, distorted, max_val=255).numpy(), expected, atol=0.01)
    unit = metrics.psnr(real / 255.0, distorted / 255.0, max_val=1.0).numpy()
    np.testing.assert_allclose(unit, expected, atol=0.01)


def test_ssim_matches_skimage(photo_pairs):
    real, distorted = photo_pairs
    expected = [structural_similarity(a, b, **SKIMAGE_SSIM) for a, b in zip(real, distorted)]
    assert min(expected) < 0.9  # the distortions are strong enough to test something
    np.testing.assert_allclose(metrics.ssim(real, distorted, max_val=255).numpy(), expected, atol=0.001)
    unit = metrics.ssim(real / 255.0, distorted / 255.0, max_val=1.0).numpy()
    np.testing.assert_allclose(unit, expected, atol=0.001)


def test_hole_ssim_is_skimage_full_map_mean_over_hole(photo_pairs):
    real, distorted = photo_pairs
    mask = np.zeros(real.shape[:3] + (1,), np.float32)
    mask[:, 0:40, 50:128] = 1.0  # touches the top and right borders
    expected = []
    for a, b, m in zip(real, distorted, mask):
        full = structural_similarity(a, b, full=True, **SKIMAGE_SSIM)[1]
        expected.append(full.mean(axis=-1)[m[..., 0] > 0].mean())
    np.testing.assert_allclose(
        metrics.ssim(real, distorted, max_val=255, mask=mask).numpy(), expected, atol=0.001
    )


def test_hole_only_psnr_and_l1_by_hand():
    a = np.zeros((2, 16, 16, 3), np.float32)
    b = a.copy()
    b[:, 4:8, 4:8, :] = 10.0  # 16 of 256 pixels off by 10 (all inside the hole of example 0)
    mask = np.zeros((2, 16, 16, 1), np.float32)
    mask[0, 4:8, 4:8] = 1.0  # exactly the changed square
    mask[1, 0:8, 0:8] = 1.0  # 64 pixels, 16 of them changed
    psnr_hole = metrics.psnr(a, b, max_val=255, mask=mask).numpy()
    np.testing.assert_allclose(
        psnr_hole, [10 * math.log10(255**2 / 100.0), 10 * math.log10(255**2 / 25.0)], atol=1e-4
    )
    np.testing.assert_allclose(
        metrics.psnr(a, b, max_val=255).numpy(), 10 * math.log10(255**2 / 6.25), atol=1e-4
    )
    np.testing.assert_allclose(metrics.l1(a, b, mask=mask).numpy(), [10.0, 2.5], atol=1e-6)
    np.testing.assert_allclose(metrics.l1(a, b).numpy(), [0.625, 0.625], atol=1e-6)


def test_identical_images_cap_and_empty_hole_is_nan():
    a = np.random.default_rng(1).random((2, 16, 16, 3)).astype(np.float32)
    np.testing.assert_array_equal(metrics.psnr(a, a).numpy(), [metrics.PSNR_CAP_DB] * 2)
    np.testing.assert_allclose(metrics.ssim(a, a).numpy(), [1.0, 1.0], atol=1e-5)
    empty = np.zeros((2, 16, 16, 1), np.float32)
    for fn in (metrics.psnr, metrics.ssim, metrics.l1):
        assert np.isnan(fn(a, a * 0.5, mask=empty).numpy()).all()


def test_graph_mode_and_mixed_precision_inputs(photo_pairs):
    real, distorted = (x[:2].astype(np.float32) / 255.0 for x in photo_pairs)
    mask = np.zeros(real.shape[:3] + (1,), np.float32)
    mask[:, 30:60, 40:80] = 1.0

    @tf.function(
        input_signature=[tf.TensorSpec([None, None, None, 3], tf.bfloat16)] * 2
        + [tf.TensorSpec([None, None, None, 1], tf.float32)]
    )
    def scores(x, y, m):
        return metrics.psnr(x, y), metrics.ssim(x, y), metrics.ssim(x, y, mask=m)

    graph = scores(tf.cast(real, tf.bfloat16), tf.cast(distorted, tf.bfloat16), mask)
    eager = (
        metrics.psnr(real, distorted),
        metrics.ssim(real, distorted),
        metrics.ssim(real, distorted, mask=mask),
    )
    for g, e in zip(graph, eager):
        assert g.dtype == tf.float32 and g.shape == (2,)
        # bfloat16 keeps 8 bits of mantissa: agreement to its rounding only.
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=0.02)


def test_bad_inputs_are_named():
    a = np.zeros((1, 16, 16, 3), np.uint8)
    with pytest.raises(ValueError, match="max_val=255"):
        metrics.psnr(a, a)
    with pytest.raises(ValueError, match="at least 11x11"):
        metrics.ssim(np.zeros((1, 8, 16, 3)), np.zeros((1, 8, 16, 3)))
    with pytest.raises(ValueError, match=r"\[B, H, W, C\]"):
        metrics.l1(np.zeros((16, 16, 3)), np.zeros((16, 16, 3)))
