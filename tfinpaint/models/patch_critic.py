"""Paper 1's critics D1 and D2: the 70x70 PatchGAN (pix2pix / PICNet `PatchDiscriminator`)."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfinpaint.layers.spectral import SpectralNorm
from tfinpaint.models.common import base_config


@keras.saving.register_keras_serializable(package="tfinpaint")
class PatchCritic(keras.Model):
    """70x70 PatchGAN critic (pix2pix / PICNet `PatchDiscriminator`), one score per patch.

    Five 4x4 convs, each after `ZeroPadding2D(1)` (PyTorch's padding 1), strides 2, 2, 2, 1, 1,
    widths w, 2w, 4w, 8w, 1, LeakyReLU(0.2) between them, no normalisation. Receptive field:
    70x70. Default: no spectral norm (the spec explains why it fights the gradient penalty).
    `spectral_norm=True` is PICNet's variant: spectrally normalised convs without biases,
    LeakyReLU(0.1), 4w channels in layer 4 (the training model then penalises the gradient of
    the summed patch map). `residual=True` adds `avgpool2(conv1x1(x))` shortcuts around the
    stride-2 convs (receptive field still 70).

    Args:
        width: w, first layer width (64).
        spectral_norm: PICNet's spectrally normalised critic.
        residual: shortcuts around the stride-2 convs.

    Shapes: [B, H, W, 3] in [-1, 1] -> float32 [B, H/8 - 2, W/8 - 2, 1] (30x30 at 256);
    H, W >= 32. A critic's value for an image is the mean of its patch map.

    Reference:
        Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks",
        CVPR 2017 (70x70 PatchGAN).
    """

    STRIDES = (2, 2, 2, 1, 1)

    def __init__(self, width=64, spectral_norm=False, residual=False, **kwargs):
        super().__init__(**kwargs)
        self.width = int(width)
        self.spectral_norm = bool(spectral_norm)
        self.residual = bool(residual)
        w = self.width
        widths = (w, 2 * w, 4 * w, (4 if self.spectral_norm else 8) * w, 1)
        self.negative_slope = 0.1 if self.spectral_norm else 0.2
        self.widths = widths
        self.pad = keras.layers.ZeroPadding2D(1)
        self.activation = keras.layers.LeakyReLU(negative_slope=self.negative_slope)
        self.convs = [
            self._conv(f, 4, s, f"conv{i + 1}") for i, (f, s) in enumerate(zip(widths, self.STRIDES))
        ]
        self.shortcuts = [
            self._conv(f, 1, 1, f"shortcut{i + 1}")
            for i, (f, s) in enumerate(zip(widths, self.STRIDES))
            if s == 2 and self.residual
        ]
        self.pool = keras.layers.AveragePooling2D(2)

    def _conv(self, filters, kernel, stride, name):
        conv = keras.layers.Conv2D(
            filters, kernel, strides=stride, padding="valid", use_bias=not self.spectral_norm, name=name
        )
        if self.spectral_norm:
            return SpectralNorm(conv, name=f"{name}_sn")
        return conv

    def build(self, input_shape):
        channels = int(input_shape[-1])
        for i, conv in enumerate(self.convs):
            conv.build((None, None, None, channels))
            if i < len(self.shortcuts):
                self.shortcuts[i].build((None, None, None, channels))
            channels = self.widths[i]

    def call(self, images, training=False):
        return tf.cast(self._layer_outputs(images, training)[-1], "float32")

    def features(self, images, training=False):
        """Each hidden conv's activation, first to last (what feature matching compares)."""
        return self._layer_outputs(images, training)[:-1]

    def _layer_outputs(self, images, training):
        """The four hidden activations, then the patch map."""
        x, outputs = images, []
        for i, conv in enumerate(self.convs):
            y = conv(self.pad(x), training=training)
            if i < len(self.shortcuts):
                y = y + self.pool(self.shortcuts[i](x, training=training))
            x = self.activation(y) if i < len(self.convs) - 1 else y
            outputs.append(x)
        return outputs

    def get_config(self):
        return {
            **base_config(self),
            "width": self.width,
            "spectral_norm": self.spectral_norm,
            "residual": self.residual,
        }
