"""Spectral normalisation: `keras.layers.SpectralNormalization` without its per-call `cond`."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfinpaint")
class SpectralNorm(keras.layers.SpectralNormalization):
    """`keras.layers.SpectralNormalization` with the same update, minus the all-zero `cond`.

    Like the Keras layer, each training call runs one power iteration, rewrites the wrapped
    kernel in place as kernel / sigma and then runs the wrapped layer on the rewritten
    variable: gradients reach the kernel but do not flow through sigma (PyTorch's
    `spectral_norm` differentiates through it; docs/SPEC-paper1.md accepts the difference).
    Inference calls use the kernel as last normalised.

    Two differences from the Keras layer:
    - It guards an all-zero kernel with `ops.cond(all(kernel == 0), ...)` on every training
      call; in paper 1's generator (about 60 wrapped convs) those conds doubled the time of a
      small training step on CPU. Here sigma is clipped below at `epsilon` instead, so a zero
      kernel stays zero without a branch.
    - Under a mixed-precision policy the Keras layer reads the kernel inside the autocast
      scope, so every training call writes back a float16/bfloat16-rounded kernel (relative
      precision 1e-3 / 8e-3), which erases optimizer updates smaller than that. This wrapper
      does not autocast and its own policy is the kernel's dtype: the power iteration and the
      rewrite run on the float32 kernel, and the wrapped layer still computes in the policy's
      compute dtype.

    Args:
        layer: the wrapped layer (with a `kernel`), e.g. `Conv2D` or `Conv2DTranspose`.
        power_iterations: power iterations per training call.
        epsilon: smallest sigma divided by.

    Reference:
        Miyato et al., "Spectral Normalization for Generative Adversarial Networks", ICLR 2018.
    """

    def __init__(self, layer, power_iterations=1, epsilon=1e-12, **kwargs):
        # The wrapper's own policy is the kernel's dtype and it does not autocast, so the
        # kernel is read in full precision even inside a mixed-precision parent layer.
        kwargs.pop("autocast", None)
        kwargs["dtype"] = layer.dtype_policy.variable_dtype
        super().__init__(layer, power_iterations=power_iterations, autocast=False, **kwargs)
        self.epsilon = float(epsilon)

    def call(self, inputs, training=False):
        if training:
            vector_u, kernel = self.normalized_weights()
            self.vector_u.assign(vector_u)
            self.kernel.assign(kernel)
        return ops.cast(self.layer(inputs), inputs.dtype)

    def normalized_weights(self):
        weights = ops.reshape(self.kernel, [-1, self.kernel_shape[-1]])
        vector_u = self.vector_u.value
        for _ in range(self.power_iterations):
            vector_v = ops.nn.normalize(ops.matmul(vector_u, ops.transpose(weights)), axis=None)
            vector_u = ops.nn.normalize(ops.matmul(vector_v, weights), axis=None)
        vector_u = ops.stop_gradient(vector_u)
        vector_v = ops.stop_gradient(vector_v)
        sigma = ops.matmul(ops.matmul(vector_v, weights), ops.transpose(vector_u))
        kernel = ops.reshape(self.kernel / ops.maximum(sigma, self.epsilon), self.kernel_shape)
        return (ops.cast(vector_u, self.vector_u.dtype), ops.cast(kernel, self.kernel.dtype))

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
