"""Paper 1's short+long-term attention (PICNet's `Auto_Attn`)."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfinpaint.layers.residual import ResBlock


@keras.saving.register_keras_serializable(package="tfinpaint")
class ShortLongAttention(keras.layers.Layer):
    """Short+long-term attention over all H*W positions of a decoder feature map.

    `q = conv1x1(x)` (C/4 channels, no spectral norm), key = query, `A = softmax(q q^T)` over
    positions. Short term (self-attention in the decoder): `gamma * A x + x`. Long term (copies
    encoder features of the visible region into the hole): `alpha * (1 - v) * A f + v * f`, with
    `f` the encoder feature of the masked image at this resolution and `v` the visible-pixel
    mask resized to it. Both are fused by a `ResBlock(2C -> C)` with LeakyReLU slope 0.01.
    `gamma` and `alpha` start at 0, so at initialisation the layer passes `x` and `v * f` through.

    Memory is O((H*W)^2) per image: 1024^2 attention weights at a 32x32 map (256x256 input),
    16384^2 at 1024x1024 input, which is why the inference generator refuses large inputs.
    Energies and softmax are computed in float32 under mixed precision (float16 q q^T
    overflows).

    Args:
        channels: C, channels of `x` and of the output.
        negative_slope: LeakyReLU slope of the fusion block (0.01, PICNet's default).

    Call arguments:
        inputs: `[x, f, visible]`: x [B, H, W, C] decoder feature, f [B, H, W, C_f] encoder
            feature, visible [B, H, W, 1] in [0, 1] (1 = known pixel).

    Shapes: output [B, H, W, C].

    Reference:
        Zheng, Cham & Cai, "Pluralistic Image Completion", CVPR 2019, Sec. 3.4 and `Auto_Attn`.
    """

    def __init__(self, channels, negative_slope=0.01, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.negative_slope = float(negative_slope)
        if self.channels < 4:
            raise ValueError(
                f"ShortLongAttention: channels={channels}; expected at least 4 (the query has channels // 4)"
            )
        self.query = keras.layers.Conv2D(self.channels // 4, 1, name="query")
        self.fuse = ResBlock(self.channels, self.channels, negative_slope=self.negative_slope, name="fuse")

    def build(self, input_shape):
        x_shape, f_shape, _ = input_shape
        self.query.build(x_shape)
        self.gamma = self.add_weight(shape=(), initializer="zeros", name="gamma")
        self.alpha = self.add_weight(shape=(), initializer="zeros", name="alpha")
        self.fuse.build(tuple(x_shape[:-1]) + (x_shape[-1] + f_shape[-1],))

    def call(self, inputs, training=False):
        x, f, visible = inputs
        visible = tf.cast(visible, x.dtype)
        shape = tf.shape(x)
        batch, positions = shape[0], shape[1] * shape[2]
        q = tf.reshape(tf.cast(self.query(x), "float32"), [batch, positions, -1])
        weights = tf.nn.softmax(tf.matmul(q, q, transpose_b=True), axis=-1)
        weights = tf.cast(weights, x.dtype)

        def attend(values):
            flat = tf.reshape(values, [batch, positions, -1])
            return tf.reshape(tf.matmul(weights, flat), tf.shape(values))

        gamma = tf.cast(self.gamma, x.dtype)
        alpha = tf.cast(self.alpha, x.dtype)
        short = gamma * attend(x) + x
        long = alpha * (1.0 - visible) * attend(f) + visible * f
        return self.fuse(tf.concat([short, long], axis=-1), training=training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (self.channels,)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "negative_slope": self.negative_slope}
