"""Helpers shared by the test modules."""

from __future__ import annotations

import os

import keras
import numpy as np


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
