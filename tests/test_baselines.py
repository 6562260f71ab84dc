"""Classical baselines behind the Inpainter interface, and `load_inpainter`."""

import numpy as np
import pytest
from PIL import Image

from tfinpaint import baselines, metrics
from tfinpaint.inference import load_inpainter
from tfinpaint.inpainters import Inpainter


@pytest.fixture(scope="module")
def batch(photo_paths):
    """Three real 64x64 photos with a centre hole and a border-touching hole."""
    step = max(1, len(photo_paths) // 3)
    images = (
        np.stack(
            [np.asarray(Image.open(p).convert("RGB").resize((64, 64))) for p in photo_paths[::step][:3]]
        ).astype(np.float32)
        / 255.0
    )
    masks = np.zeros(images.shape[:3] + (1,), np.float32)
    masks[0, 16:48, 16:48] = 1.0
    masks[1, 0:20, 40:64] = 1.0
    masks[2, 24:40, 8:56] = 1.0
    return images, masks


@pytest.mark.parametrize("name", ["telea", "ns", "biharmonic"])
def test_baseline_keeps_outside_and_beats_grey_fill(name, batch):
    images, masks = batch
    inpainter = load_inpainter(name)
    assert isinstance(inpainter, Inpainter) and inpainter.name == name and inpainter.classical
    completed = inpainter.inpaint_batch(images, masks)
    assert completed.dtype == np.float32 and completed.shape == images.shape
    assert 0.0 <= completed.min() and completed.max() <= 1.0
    outside = np.broadcast_to(masks < 0.5, images.shape)
    np.testing.assert_array_equal(completed[outside], images[outside])
    grey = np.where(masks >= 0.5, 0.5, images)
    # Averaged over the batch: a hole in a corner leaves biharmonic only two sides to
    # extrapolate from, and on one photo that is worse than grey.
    ours = metrics.psnr(images, completed, mask=masks).numpy().mean()
    flat = metrics.psnr(images, grey, mask=masks).numpy().mean()
    assert ours > flat + 2.0, (ours, flat)
    assert (
        metrics.l1(images, completed, mask=masks).numpy().mean()
        < metrics.l1(images, grey, mask=masks).numpy().mean()
    )


def test_empty_and_full_masks(batch):
    images, _ = batch
    empty = np.zeros(images.shape[:3] + (1,), np.float32)
    for make in baselines.BASELINES.values():
        np.testing.assert_array_equal(make().inpaint_batch(images, empty), images)
    full = np.ones_like(empty[:1])
    with pytest.warns(UserWarning, match="whole image"):
        out = baselines.BiharmonicInpainter().inpaint_batch(images[:1], full)
    np.testing.assert_array_equal(out, np.full_like(images[:1], 0.5))


def test_bad_batches_are_refused(batch):
    images, masks = batch
    telea = load_inpainter("telea")
    with pytest.raises(ValueError, match=r"masks: expected shape \[B, H, W, 1\]"):
        telea.inpaint_batch(images, masks[..., 0])
    with pytest.raises(ValueError, match="does not match"):
        telea.inpaint_batch(images, masks[:, :32])
    with pytest.raises(ValueError, match="dtype uint8"):
        telea.inpaint_batch((images * 255).astype(np.uint8), masks)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        telea.inpaint_batch(images * 255.0, masks)
    with pytest.raises(ValueError, match="method"):
        baselines.OpenCVInpainter("fast")
