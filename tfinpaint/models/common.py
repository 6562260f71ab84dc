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
