"""Residual building blocks of paper 1's encoder and generator (PICNet's blocks).

Every convolution here is spectrally normalised with `tfinpaint.layers.spectral.SpectralNorm`
(`keras.layers.SpectralNormalization`'s update without its per-call `cond`). It rewrites the
wrapped kernel in place (kernel / sigma) on each training call and then runs the plain
convolution on the rewritten variable, so gradients reach the kernel but no gradient flows
through sigma (PyTorch's `spectral_norm` differentiates through sigma). docs/SPEC-paper1.md accepts
the difference; inference calls (training=False) use the kernel as last normalised.
"""

from __future__ import annotations

import keras
from keras import ops

from tfinpaint.config.papers import UPSAMPLE_MODES
from tfinpaint.layers.spectral import SpectralNorm


def spectral_conv(filters, kernel_size, name, strides=1, padding="same", use_bias=True, transpose=False):
    """A spectrally normalised `Conv2D` (or `Conv2DTranspose` with `transpose=True`)."""
    conv_class = keras.layers.Conv2DTranspose if transpose else keras.layers.Conv2D
    conv = conv_class(
        filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias, name=f"{name}_conv"
    )
    return SpectralNorm(conv, name=name)


def _with_channels(shape, channels):
    return tuple(shape[:-1]) + (channels,)


def _scaled(shape, factor_num, factor_den, channels):
    def side(s):
        return None if s is None else s * factor_num // factor_den

    return (shape[0], side(shape[1]), side(shape[2]), channels)


@keras.saving.register_keras_serializable(package="tfinpaint")
class ResBlock(keras.layers.Layer):
    """Residual block: act -> conv3x3 -> act -> conv3x3, plus a conv1x1 shortcut.

    With `downsample`, 2x2 average pooling follows both branches (PICNet's
    `ResBlock(sample_type="down")`). No normalisation: paper 1 uses this block where PICNet
    has none (encoder, the generator's z block, the attention's fusion block).

    Args:
        filters: output channels.
        hidden_filters: channels of the first conv; `None` = `filters`.
        downsample: halve the resolution with 2x2 average pooling.
        negative_slope: LeakyReLU slope (0.1; the attention's block uses 0.01).

    Shapes: [B, H, W, C_in] -> [B, H, W, filters], or [B, H/2, W/2, filters] with `downsample`.

    Reference:
        Zheng, Cham & Cai, "Pluralistic Image Completion", CVPR 2019 (`ResBlock`).
    """

    def __init__(self, filters, hidden_filters=None, downsample=False, negative_slope=0.1, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.hidden_filters = None if hidden_filters is None else int(hidden_filters)
        self.downsample = bool(downsample)
        self.negative_slope = float(negative_slope)
        hidden = self.hidden_filters or self.filters
        self.activation = keras.layers.LeakyReLU(negative_slope=self.negative_slope)
        self.conv1 = spectral_conv(hidden, 3, name="conv1")
        self.conv2 = spectral_conv(self.filters, 3, name="conv2")
        self.shortcut = spectral_conv(self.filters, 1, name="shortcut")
        self.pool = keras.layers.AveragePooling2D(2) if self.downsample else None

    def build(self, input_shape):
        hidden = self.hidden_filters or self.filters
        self.conv1.build(input_shape)
        self.conv2.build(_with_channels(input_shape, hidden))
        self.shortcut.build(input_shape)

    def call(self, x, training=False):
        main = self.conv1(self.activation(x), training=training)
        main = self.conv2(self.activation(main), training=training)
        short = self.shortcut(x, training=training)
        if self.downsample:
            main, short = self.pool(main), self.pool(short)
        return main + short

    def compute_output_shape(self, input_shape):
        if self.downsample:
            return _scaled(input_shape, 1, 2, self.filters)
        return _with_channels(input_shape, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "hidden_filters": self.hidden_filters,
            "downsample": self.downsample,
            "negative_slope": self.negative_slope,
        }


@keras.saving.register_keras_serializable(package="tfinpaint")
class ResBlockStart(keras.layers.Layer):
    """First encoder block: conv3x3 -> act -> conv3x3 -> avgpool2, shortcut avgpool2 -> conv1x1.

    Pooling before the shortcut conv (not after, as in `ResBlock`) is PICNet's
    `ResBlockEncoderOptimized`: the block sees raw pixels, so there is no leading activation.

    Args:
        filters: output channels.
        negative_slope: LeakyReLU slope.

    Shapes: [B, H, W, C_in] -> [B, H/2, W/2, filters].

    Reference:
        Zheng, Cham & Cai, "Pluralistic Image Completion", CVPR 2019 (`ResBlockEncoderOptimized`).
    """

    def __init__(self, filters, negative_slope=0.1, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.negative_slope = float(negative_slope)
        self.activation = keras.layers.LeakyReLU(negative_slope=self.negative_slope)
        self.conv1 = spectral_conv(self.filters, 3, name="conv1")
        self.conv2 = spectral_conv(self.filters, 3, name="conv2")
        self.shortcut = spectral_conv(self.filters, 1, name="shortcut")
        self.pool = keras.layers.AveragePooling2D(2)

    def build(self, input_shape):
        self.conv1.build(input_shape)
        self.conv2.build(_with_channels(input_shape, self.filters))
        self.shortcut.build(_scaled(input_shape, 1, 2, input_shape[-1]))

    def call(self, x, training=False):
        main = self.conv2(self.activation(self.conv1(x, training=training)), training=training)
        return self.pool(main) + self.shortcut(self.pool(x), training=training)

    def compute_output_shape(self, input_shape):
        return _scaled(input_shape, 1, 2, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "negative_slope": self.negative_slope}


@keras.saving.register_keras_serializable(package="tfinpaint")
class UpConv(keras.layers.Layer):
    """Spectrally normalised 2x upsampling conv: a 3x3 stride-2 transposed conv aligned like
    PyTorch's (`transpose`, the paper), or nearest-neighbour 2x then a 3x3 conv (`resize`).

    PyTorch's `ConvTranspose2d(k=3, s=2, padding=1, output_padding=1)` crops one pixel from the
    start of the full (2H + 1) output and none from the end. Keras' "same" keeps a different
    window (shifted by one pixel), so `transpose` runs a "valid" transposed conv and drops the
    first row and column. A 3x3 kernel at stride 2 overlaps unevenly (2 taps on even outputs, 1
    on odd ones), which paints a 2-px checkerboard wherever the gradient asks for detail;
    `resize` gives every output pixel the same taps (Odena et al., "Deconvolution and
    Checkerboard Artifacts", Distill 2016).

    Args:
        filters: output channels.
        mode: `transpose` or `resize` (`UPSAMPLE_MODES`).

    Shapes: [B, H, W, C_in] -> [B, 2H, 2W, filters].
    """

    def __init__(self, filters, mode="transpose", **kwargs):
        super().__init__(**kwargs)
        if mode not in UPSAMPLE_MODES:
            raise ValueError(f"UpConv mode={mode!r}: expected one of {', '.join(UPSAMPLE_MODES)}")
        self.filters = int(filters)
        self.mode = mode
        if mode == "transpose":
            self.conv = spectral_conv(
                self.filters, 3, name="deconv", strides=2, padding="valid", transpose=True
            )
        else:
            self.conv = spectral_conv(self.filters, 3, name="conv")

    def build(self, input_shape):
        self.conv.build(
            input_shape if self.mode == "transpose" else _scaled(input_shape, 2, 1, input_shape[-1])
        )

    def call(self, x, training=False):
        if self.mode == "transpose":
            return self.conv(x, training=training)[:, 1:, 1:, :]
        return self.conv(ops.repeat(ops.repeat(x, 2, axis=1), 2, axis=2), training=training)

    def compute_output_shape(self, input_shape):
        return _scaled(input_shape, 2, 1, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "mode": self.mode}


@keras.saving.register_keras_serializable(package="tfinpaint")
class ResDecoderBlock(keras.layers.Layer):
    """Residual decoder block: norm -> act -> conv3x3 -> norm -> act -> deconv3x3 s2, plus a
    deconv3x3 s2 shortcut; the sum is at twice the input resolution.

    Norm is instance norm with a learned scale and offset (`GroupNormalization(groups=-1)`).

    Args:
        filters: output channels.
        hidden_filters: channels of the 3x3 conv; `None` = `filters`.
        negative_slope: LeakyReLU slope.
        upsample: `UpConv`'s mode for both upsampling convs.

    Shapes: [B, H, W, C_in] -> [B, 2H, 2W, filters].

    Reference:
        Zheng, Cham & Cai, "Pluralistic Image Completion", CVPR 2019 (`ResBlockDecoder`).
    """

    def __init__(self, filters, hidden_filters=None, negative_slope=0.1, upsample="transpose", **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.hidden_filters = None if hidden_filters is None else int(hidden_filters)
        self.negative_slope = float(negative_slope)
        self.upsample = upsample
        hidden = self.hidden_filters or self.filters
        self.activation = keras.layers.LeakyReLU(negative_slope=self.negative_slope)
        self.norm1 = keras.layers.GroupNormalization(groups=-1, name="norm1")
        self.conv = spectral_conv(hidden, 3, name="conv")
        self.norm2 = keras.layers.GroupNormalization(groups=-1, name="norm2")
        self.up = UpConv(self.filters, upsample, name="up")
        self.shortcut = UpConv(self.filters, upsample, name="shortcut")

    def build(self, input_shape):
        hidden_shape = _with_channels(input_shape, self.hidden_filters or self.filters)
        self.norm1.build(input_shape)
        self.conv.build(input_shape)
        self.norm2.build(hidden_shape)
        self.up.build(hidden_shape)
        self.shortcut.build(input_shape)

    def call(self, x, training=False):
        main = self.conv(self.activation(self.norm1(x)), training=training)
        main = self.up(self.activation(self.norm2(main)), training=training)
        return main + self.shortcut(x, training=training)

    def compute_output_shape(self, input_shape):
        return _scaled(input_shape, 2, 1, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "hidden_filters": self.hidden_filters,
            "negative_slope": self.negative_slope,
            "upsample": self.upsample,
        }


@keras.saving.register_keras_serializable(package="tfinpaint")
class OutputHead(keras.layers.Layer):
    """Image head: act -> reflect pad 1 -> conv3x3 -> tanh.

    Reflect padding (not zero padding) keeps the border pixels of each output scale from being
    pulled towards 0; it needs feature maps of at least 2x2.

    Args:
        channels: image channels (3).
        negative_slope: LeakyReLU slope.

    Shapes: [B, H, W, C_in] -> [B, H, W, channels], values in [-1, 1].

    Reference:
        Zheng, Cham & Cai, "Pluralistic Image Completion", CVPR 2019 (`Output`).
    """

    def __init__(self, channels=3, negative_slope=0.1, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.negative_slope = float(negative_slope)
        self.activation = keras.layers.LeakyReLU(negative_slope=self.negative_slope)
        self.conv = spectral_conv(self.channels, 3, name="conv", padding="valid")

    def build(self, input_shape):
        self.conv.build(input_shape)

    def call(self, x, training=False):
        x = ops.pad(self.activation(x), [[0, 0], [1, 1], [1, 1], [0, 0]], mode="reflect")
        return ops.tanh(self.conv(x, training=training))

    def compute_output_shape(self, input_shape):
        return _with_channels(input_shape, self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "negative_slope": self.negative_slope}
