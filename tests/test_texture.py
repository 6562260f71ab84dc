"""The texture metric's golden behaviour on a real photo (grass, a homogeneous texture): the real
fill scores 0, a copy of the same photo's texture from elsewhere scores well, a blur worse, a
flat grey fill worst."""

import os

import cv2
import numpy as np
import pytest

from tfinpaint.data import demo_data_dir
from tfinpaint.evaluation import texture
from tfinpaint.imagefiles import read_image

PHOTO = "aitzgorri_s1280_r4c4.jpg"  # 256 px of grass with fallen leaves


@pytest.fixture(scope="module")
def real():
    return read_image(os.path.join(demo_data_dir(), PHOTO)).rgb


@pytest.fixture(scope="module")
def hole(real):
    mask = np.zeros(real.shape[:2], np.float32)
    mask[96:160, 96:160] = 1.0  # a centre square, 1/16 of the image
    return mask


def _fill(real, hole, content):
    return np.where(hole[..., None] >= 0.5, content, real).astype(np.uint8)


@pytest.fixture(scope="module")
def fills(real, hole):
    return {
        "real": real,
        "copy": _fill(real, hole, np.roll(real, (0, 72), axis=(0, 1))),  # grass from beside the hole
        "blur": _fill(real, hole, cv2.GaussianBlur(real, (0, 0), 2.0)),
        "grey": _fill(real, hole, np.round(real[hole >= 0.5].mean(axis=0))),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_swd_orders_real_copy_blur_grey(fills, real, hole, seed):
    swd = {name: texture.hole_swd(real, fill, hole, seed=seed)["swd"] for name, fill in fills.items()}
    assert swd["real"] == 0.0
    assert swd["copy"] < swd["blur"] < swd["grey"]
    assert swd["blur"] > 1.5 * swd["copy"] and swd["blur"] > 100  # clearly, on the x1e3 scale


def test_swd_is_seeded_and_per_level(fills, real, hole):
    first = texture.hole_swd(real, fills["blur"], hole, seed=7, levels=4)
    again = texture.hole_swd(real / 255.0, fills["blur"] / 255.0, hole[..., None], seed=7, levels=4)
    other = texture.hole_swd(real, fills["blur"], hole, seed=8, levels=4)
    assert len(first["swd_levels"]) == 4 and first["swd"] == pytest.approx(np.mean(first["swd_levels"]))
    assert first["swd_levels"] == pytest.approx(again["swd_levels"], rel=1e-4)  # uint8 or [0, 1]
    assert first == texture.hole_swd(real, fills["blur"], hole, seed=7, levels=4)
    assert other != first


def test_gradient_energy_ratio(fills, real, hole):
    ratio = {name: texture.gradient_energy_ratio(real, fill, hole) for name, fill in fills.items()}
    assert ratio["real"] == 1.0
    assert ratio["blur"] < 0.6 and ratio["grey"] == 0.0
    assert 0.5 < ratio["copy"] < 2.0


def test_empty_or_flat_hole_has_no_value(real):
    empty = np.zeros(real.shape[:2], np.uint8)
    assert texture.hole_swd(real, real, empty, seed=0) is None
    assert texture.gradient_energy_ratio(real, real, empty) is None
    flat = np.full_like(real, 128)
    hole = np.zeros(real.shape[:2], bool)
    hole[10:20, 10:20] = True
    assert texture.gradient_energy_ratio(flat, real, hole) is None
    # A one-pixel stroke is still a hole at every pyramid level.
    stroke = np.zeros(real.shape[:2], np.uint8)
    stroke[100, 50:200] = 255
    blurred = _fill(real, stroke / 255.0, cv2.GaussianBlur(real, (0, 0), 2.0))
    assert len(texture.hole_swd(real, blurred, stroke, seed=0)["swd_levels"]) == 3


def test_mismatched_shapes_are_named(real):
    with pytest.raises(ValueError, match=r"mask \[10, 10\]"):
        texture.hole_swd(real, real, np.ones((10, 10)), seed=0)
    with pytest.raises(ValueError, match="fill: expected an RGB image"):
        texture.gradient_energy_ratio(real, real[..., 0], np.ones(real.shape[:2]))
