"""Weight constraints."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="tfinpaint")
class WeightClip(keras.constraints.Constraint):
    """WGAN weight clipping: every weight is projected into [-clip_value, clip_value].

    Keras 3 optimisers apply a variable's constraint right after each update, so attaching this
    to every critic weight clips "after every critic update" with no extra code in the step.
    Initial weights are not constrained: `clip_weights` clips a freshly built model once.

    Args:
        clip_value: positive bound c (0.01 in the WGAN paper).

    Reference:
        Arjovsky, Chintala, Bottou, "Wasserstein GAN", ICML 2017, Algorithm 1.
    """

    def __init__(self, clip_value: float = 0.01):
        if not clip_value > 0:
            raise ValueError(f"clip_value={clip_value!r}: expected a positive number")
        self.clip_value = float(clip_value)

    def __call__(self, w):
        return keras.ops.clip(w, -self.clip_value, self.clip_value)

    def get_config(self):
        return {"clip_value": self.clip_value}


def clip_weights(model) -> None:
    """Apply every variable's constraint once, e.g. to a critic right after it is built.

    Glorot-initialised weights reach several times a WGAN clip bound; without this the first
    critic update would start from them.
    """
    for variable in model.variables:
        if variable.constraint is not None:
            variable.assign(variable.constraint(variable))
