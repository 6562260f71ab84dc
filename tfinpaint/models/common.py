"""What the papers' network classes share."""

from __future__ import annotations

import keras


def base_config(model) -> dict:
    """Name, trainable and dtype policy of a subclassed model; the rest of a config is written by hand.

    Keras' automatic config of a subclassed model would record its `__init__` defaults.
    """
    return {
        "name": model.name,
        "trainable": model.trainable,
        "dtype": keras.dtype_policies.serialize(model.dtype_policy),
    }


def scaled_channels(channels: int, width: int) -> int:
    """A layer table's channel count (given at width 64) at another `width`, at least 1."""
    return max(1, channels * width // 64)
