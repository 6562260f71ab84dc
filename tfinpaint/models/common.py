"""What the papers' network classes share."""

from __future__ import annotations

import contextlib

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


@contextlib.contextmanager
def dtype_policy_scope(policy: str | None):
    """Build layers under `policy` (a Keras dtype policy name; None = the current one).

    Keras gives a layer the global policy when it is created, and a subclassed model's layers
    do not inherit the model's own `dtype`, so a network that must compute in another precision
    than the run's is built inside this scope.
    """
    previous = keras.config.dtype_policy()
    if policy is not None:
        keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
