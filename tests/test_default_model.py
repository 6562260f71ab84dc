"""The shipped default model: present in the package, loadable, sized as documented, and useful."""

import os

import numpy as np
import pytest

import tfinpaint
from tfinpaint import artifacts
from tfinpaint.config import get_config

WEIGHTS = os.path.join(os.path.dirname(tfinpaint.__file__), "weights", "default.keras")


@pytest.fixture(scope="module")
def default_generator():
    from tfinpaint.inference import load_generator

    return load_generator("default")  # the model's name loads the shipped file


def test_weights_ship_inside_the_package_under_20_mb():
    assert artifacts.DEFAULT_MODEL_PATH == WEIGHTS
    assert os.path.isfile(WEIGHTS), "tfinpaint/weights/default.keras is missing from the package"
    assert os.path.getsize(WEIGHTS) < 20 * 1024 * 1024


def test_default_model_is_the_default_preset_network(default_generator):
    config = get_config(2, "default")
    assert default_generator.train_size == config.data.image_size == 128
    assert default_generator.width == config.model.generator_width == 32
    from tfinpaint.models import build_generator

    assert default_generator.count_params() == build_generator(config).count_params()


def test_default_model_carries_the_blend_it_was_measured_with(default_generator):
    # The model card's tables score the network through `patches`: the file and its export
    # both say so, so every command applies it (paper 2's other models keep Poisson).
    from tfinpaint.inference import load_model_inpainter

    assert default_generator.blend == "patches" and type(default_generator).default_blend == "poisson"
    assert load_model_inpainter("default").default_blend == "patches"  # the shipped export
    assert load_model_inpainter("default", context=128).default_blend == "patches"  # the .keras file


def test_default_model_fills_holes_better_than_their_mean_colour(default_generator):
    # A network that learned nothing (or weights that failed to load) does no better than
    # painting the hole with the known pixels' mean colour; the trained one does much better.
    from tfinpaint.data import build_dataset

    batch = next(
        iter(build_dataset(None, image_size=128, batch_size=16, split="all", masks="center", training=False))
    )
    image, mask = batch["image"].numpy(), batch["mask"].numpy()
    completed = default_generator({"image": image, "mask": mask}).numpy()
    known = mask == 0
    means = np.stack([image[i][known[i, ..., 0]].mean(axis=0) for i in range(len(image))])
    mean_fill = image * (1 - mask) + means[:, None, None, :] * mask
    np.testing.assert_array_equal(completed[known[..., 0]], image[known[..., 0]])

    def hole_mse(x):
        return float((((x - image) * mask) ** 2).sum() / (3 * mask.sum()))

    assert hole_mse(completed) < 0.8 * hole_mse(mean_fill)
