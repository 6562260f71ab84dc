"""Per-image scores of completed images, and their averages as report rows.

Per image, on 8-bit values: PSNR / SSIM / L1 over the whole image and PSNR / SSIM over the hole
(`tfinpaint.metrics`), and the hole's texture (`texture`): `swd` (mean over pyramid levels) and
`swd_levels`, both SWD x 1e3, and `grad_ratio`, the fill's gradient energy over the real one's.
A value that does not exist for an image (an empty hole; a flat real hole for `grad_ratio`) is
NaN and left out of the averages; an average over no value is None.
"""

from __future__ import annotations

import numpy as np

from tfinpaint import metrics
from tfinpaint.evaluation import texture

METRIC_KEYS = ("psnr", "ssim", "l1", "psnr_hole", "ssim_hole", "swd", "grad_ratio")
LEVELS_KEY = "swd_levels"  # one value per pyramid level, finest first


def _or_nan(value):
    return np.nan if value is None else value


def score_batch(real_uint8: np.ndarray, completed_uint8: np.ndarray, masks: np.ndarray, seeds) -> dict:
    """Per-image scores of one batch: METRIC_KEYS -> float [B], LEVELS_KEY -> float [B, levels].

    Args:
        real_uint8, completed_uint8: uint8 [B, H, W, 3].
        masks: [B, H, W, 1], 1 = hole.
        seeds: one texture seed per image (`texture.hole_swd`'s `seed`); the same seed gives the
            same patch centres and projections, so every model of a report is measured alike.
    """
    scores = {
        "psnr": metrics.psnr(real_uint8, completed_uint8, max_val=255.0).numpy(),
        "ssim": metrics.ssim(real_uint8, completed_uint8, max_val=255.0).numpy(),
        "l1": metrics.l1(real_uint8, completed_uint8).numpy() / 255.0,
        "psnr_hole": metrics.psnr(real_uint8, completed_uint8, max_val=255.0, mask=masks).numpy(),
        "ssim_hole": metrics.ssim(real_uint8, completed_uint8, max_val=255.0, mask=masks).numpy(),
    }
    swd, levels, ratios = [], [], []
    for real, completed, mask, seed in zip(real_uint8, completed_uint8, masks, seeds):
        found = texture.hole_swd(real, completed, mask, seed=seed)
        swd.append(np.nan if found is None else found["swd"])
        levels.append([np.nan] * texture.LEVELS if found is None else found["swd_levels"])
        ratios.append(_or_nan(texture.gradient_energy_ratio(real, completed, mask)))
    scores["swd"] = np.asarray(swd, np.float64)
    scores[LEVELS_KEY] = np.asarray(levels, np.float64)
    scores["grad_ratio"] = np.asarray(ratios, np.float64)
    return scores


def mean(values) -> float | None:
    """The mean of the finite values, None when there is none."""
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else None


def averages(per_image: dict, keep: np.ndarray) -> dict:
    """Row values: the mean over the images `keep` selects of every per-image score (METRIC_KEYS
    and any other, e.g. `lpips`), and of each SWD level."""
    row = {}
    for key, values in per_image.items():
        values = np.asarray(values, np.float64).reshape(len(keep), -1)[keep]
        means = [mean(values[:, column]) for column in range(values.shape[1])]
        row[key] = means if key == LEVELS_KEY else means[0]
    return row
