"""Convolution layers."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfinpaint.layers import internals


@keras.saving.register_keras_serializable(package="tfinpaint")
class DilatedConv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` whose dilated convolution is one native `Conv2D` op.

    Keras lowers a dilated convolution to `tf.nn.convolution`, which wraps an undilated conv in
    SpaceToBatch / BatchToSpace; at paper 2's dilations 8 and 16 on small feature maps that runs
    the conv on hundreds of tiny padded tiles. The oneDNN (and cuDNN) Conv2D kernels take the
    dilation directly and give the same numbers to float rounding (docs/BENCHMARKS.md has the
    speed). TensorFlow's plain CPU kernels cannot differentiate a dilated Conv2D, so on a CPU
    without oneDNN (e.g. with `TF_ENABLE_ONEDNN_OPTS=0`), in float16 (which oneDNN does not
    cover) or with `TFINPAINT_FAST_KERNELS=0` this layer is exactly `keras.layers.Conv2D`.

    Args:
        As `keras.layers.Conv2D`.
    """

    def convolution_op(self, inputs, kernel):
        if not (
            self.dilation_rate != (1, 1)
            and self.groups == 1
            and self.data_format == "channels_last"
            and keras.backend.backend() == "tensorflow"
            and internals.native_dilated_conv(inputs.dtype)
        ):
            return super().convolution_op(inputs, kernel)
        return tf.nn.conv2d(
            inputs,
            kernel,
            strides=[1, *self.strides, 1],
            padding=self.padding.upper(),
            dilations=[1, *self.dilation_rate, 1],
        )
