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


@keras.saving.register_keras_serializable(package="tfinpaint")
class BinomialBlur2D(keras.layers.Layer):
    """A fixed [1, 2, 1] x [1, 2, 1] / 16 blur of every channel, edge-padded, optionally
    subsampling by 2 (anti-aliased downsampling; Zhang 2019, StyleGAN2's discriminator).

    Why a critic might want it: a stride-2 5x5 conv's gradient on its input is uneven between even
    and odd pixels, and that uneven gradient is what the generator is trained on. The blur's
    response is zero at the Nyquist frequency, so what it passes back has no period-2 component
    at its scale. At stride 2 it is also a smooth replacement for 2x2 average pooling, whose
    gradient is constant over 2x2 blocks. (Measured in paper 2's critics, it removed those from
    their gradients and did not change the generator's fills: docs/PAPER_COMPARISONS.md.)

    Args:
        strides: 1 (blur) or 2 (blur, then keep every second row and column; even sides halve).

    Inputs/outputs:
        [B, H, W, C] -> [B, H, W, C] (strides 1) or [B, ceil(H/2), ceil(W/2), C] (strides 2).
    """

    def __init__(self, strides: int = 1, **kwargs):
        super().__init__(**kwargs)
        if strides not in (1, 2):
            raise ValueError(f"BinomialBlur2D strides={strides!r}: expected 1 or 2")
        self.strides = int(strides)

    def call(self, inputs):
        taps = tf.constant([1.0, 2.0, 1.0]) / 4.0
        channels = inputs.shape[-1]
        kernel = tf.tile((taps[:, None] * taps[None, :])[:, :, None, None], [1, 1, channels, 1])
        # SYMMETRIC repeats the edge pixel: defined on the critics' last 1x1 maps too.
        padded = tf.pad(inputs, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
        return tf.nn.depthwise_conv2d(
            padded, tf.cast(kernel, inputs.dtype), [1, self.strides, self.strides, 1], "VALID"
        )

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape

        def subsampled(side):
            return None if side is None else -(-side // self.strides)

        return (batch, subsampled(height), subsampled(width), channels)

    def get_config(self):
        return {**super().get_config(), "strides": self.strides}
