"""Normalisation layers."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfinpaint.layers import internals


@keras.saving.register_keras_serializable(package="tfinpaint")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` that trains with TensorFlow's fused kernel when it can.

    Keras 3 computes training-mode batch norm from separate reductions and element-wise ops (in
    float32, with casts, under a mixed policy); TensorFlow's `FusedBatchNormV3` does the
    normalisation and its gradient in one kernel each and takes bfloat16 / float16 inputs
    directly (docs/BENCHMARKS.md has the speed). Same weights, config and results as the Keras
    layer (the kernel's Bessel-corrected variance is converted back to the biased variance Keras
    keeps in `moving_variance`). The fused kernel sees one replica's batch, so with
    `synchronized=True` and more than one replica in sync, for any case the kernel does not
    cover (masks, renorm, an axis other than the last of a 4-D input), or with
    `TFINPAINT_FAST_KERNELS=0`, the Keras computation runs instead.

    Args:
        fused: use the fused kernel where it applies (True); False keeps Keras' computation
            everywhere, e.g. to compare 1 and N replicas with bit-for-bit comparable numerics.
        **kwargs: as `keras.layers.BatchNormalization`.

    Reference:
        Ioffe & Szegedy, "Batch Normalization", ICML 2015.
    """

    def __init__(self, fused: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.fused = bool(fused)

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable and self._fused_kernel_applies(inputs, mask)):
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        gamma = tf.cast(self.gamma, "float32") if self.scale else tf.ones([channels], "float32")
        beta = tf.cast(self.beta, "float32") if self.center else tf.zeros([channels], "float32")
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, gamma, beta, epsilon=self.epsilon, data_format="NHWC", is_training=True
        )[:3]
        count = tf.cast(tf.size(inputs) // channels, "float32")
        variance = variance * (count - 1.0) / tf.maximum(count, 1.0)
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return tf.cast(outputs, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "fused": self.fused}

    def _fused_kernel_applies(self, inputs, mask) -> bool:
        if (
            not (self.fused and internals.FAST_KERNELS)
            or mask is not None
            or self.renorm
            or len(inputs.shape) != 4
            or self.axis not in (-1, 3)
        ):
            return False
        if inputs.shape[-1] is None or self.epsilon < 1.001e-5:
            return False
        replica = tf.distribute.get_replica_context()
        return not self.synchronized or (replica is not None and replica.num_replicas_in_sync == 1)
