"""Helpers shared by the test modules."""

from __future__ import annotations

import os
import shutil

import keras
import numpy as np
from PIL import Image

# The side of the shared photo crops: the demo preset's training crop.
PHOTO_SIDE = 64


def assert_keras_round_trip(model, inputs, directory, call=None) -> keras.Model:
    """Save `model` as `.keras` in `directory`, load it back, and check it is the same model.

    The loaded model must be of the same class, have the same config and give outputs identical
    to the original's on `inputs` (inference mode). `call(model, inputs)` replaces
    `model(inputs, training=False)`, e.g. to compare a sampling method too.

    Returns:
        The loaded model.
    """
    call = call or (lambda m, x: m(x, training=False))
    path = os.path.join(directory, f"{model.name}.keras")
    expected = np.asarray(call(model, inputs))
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(np.asarray(call(loaded, inputs)), expected)
    return loaded


def served_copy(version_dir, base_path, version=1) -> str:
    """Copy an exported version folder (e.g. the shared `paper2_saved_model`) to
    `<base_path>/<version>`: a base path of its own, under its own model name, that a test may
    add versions to, for the cost of a file copy instead of an export (seconds of tracing).

    Returns:
        `base_path`.
    """
    shutil.copytree(version_dir, os.path.join(base_path, str(version)))
    return str(base_path)


def photo_crops(paths, size=PHOTO_SIDE, count=4):
    """Centre crops of real photos resized to `size`, uint8 [count, size, size, 3]."""
    crops = []
    for path in paths[:count]:
        with Image.open(path) as photo:
            photo = photo.convert("RGB")
            side = min(photo.size)
            left, top = (photo.width - side) // 2, (photo.height - side) // 2
            photo = photo.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
            crops.append(np.asarray(photo, np.uint8))
    return np.stack(crops)


def centre_holes(n, height, width, value=255):
    """uint8 masks [n, height, width, 1] with a centred hole half the image's sides."""
    mask = np.zeros((n, height, width, 1), np.uint8)
    mask[:, height // 4 : height - height // 4, width // 4 : width - width // 4] = value
    return mask


class TickingClock:
    """Stands in for the `time` module of code that times itself: each `perf_counter()` reads
    `tick` seconds later than the one before, so the figures are exact whatever the load."""

    def __init__(self, tick: float):
        self.tick = tick
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += self.tick
        return self.now
