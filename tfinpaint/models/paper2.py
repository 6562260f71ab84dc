"""Paper 2: the Table-1 dilated-convolution generator (the critics: `paper2_critics`).

Mo & Zhou, "The image inpainting algorithm used on multi-scale generative adversarial networks
and neighbourhood", Automatika 61(4), 2020; layer tables and resolved ambiguities in
docs/SPEC-paper2.md. `build_generator(config)` builds the generator of a config; the training
model is `tfinpaint.training.wgan_clip.Paper2GAN`.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfinpaint.config.papers import UPSAMPLE_MODES
from tfinpaint.convention import composite
from tfinpaint.layers.convolution import BinomialBlur2D, DilatedConv2D
from tfinpaint.layers.noise import NoiseInjection
from tfinpaint.layers.normalization import FusedBatchNormalization
from tfinpaint.models.common import scaled_channels
from tfinpaint.models.generator import InpaintingGenerator

# Table 1: (kind, kernel, dilation, stride, channels at generator_width 64). Every layer but
# the last is followed by BatchNorm (optional) and ReLU; the last is a sigmoid.
GENERATOR_TABLE = (
    ("conv", 5, 1, 1, 64),
    ("conv", 3, 1, 2, 128),
    ("conv", 3, 1, 1, 128),
    ("conv", 3, 1, 2, 256),
    ("conv", 3, 1, 1, 256),
    ("conv", 3, 2, 1, 256),
    ("conv", 3, 4, 1, 256),
    ("conv", 3, 8, 1, 256),
    ("conv", 3, 16, 1, 256),
    ("conv", 3, 1, 1, 256),
    ("deconv", 4, 1, 2, 128),
    ("conv", 3, 1, 1, 128),
    ("deconv", 4, 1, 2, 64),
    ("conv", 3, 1, 1, 32),
    ("output", 3, 1, 1, 3),
)
# The decoder's rows (after the dilated middle, at 1/2 and full resolution): where `noise` adds
# its inputs.
DECODER_ROWS = range(11, 15)
# The last row of the 1/4-resolution middle: where `antialias` blurs.
MIDDLE_LAST_ROW = 10


@keras.saving.register_keras_serializable(package="tfinpaint")
class Paper2Generator(InpaintingGenerator):
    """Paper 2's generator (Table 1) as an inference model: image + mask -> completed image.

    The network sees `concat([(1 - mask) * image, mask])` (4 channels, GLCIC), runs conv ->
    BatchNorm -> ReLU blocks with dilations 2/4/8/16 at 1/4 resolution, two 4x4 stride-2
    transposed convs back up (or nearest 2x and a 3x3 conv each: `upsample`) and a sigmoid output
    conv; the result is pasted into the hole: `image * (1 - mask) + prediction * mask`, so pixels
    outside the hole are exactly the input.
    Fully convolutional: any H, W divisible by 4. BatchNorm is synchronized across replicas so
    N replicas train the same weights as one device. Under a mixed-precision policy the last conv
    runs in float32 and the output is float32. Inputs, outputs and checks: `InpaintingGenerator`.

    Args:
        width: channels of the first layer (64 in the paper); every width in Table 1 scales
            with it (128 -> 2 * width, 256 -> 4 * width, 32 -> width / 2).
        batchnorm: conv -> BatchNorm -> ReLU (GLCIC); False gives conv -> ReLU.
        upsample: `transpose` (Table 1's deconvs) or `resize`: nearest-neighbour 2x, then a 3x3
            conv, which gives every output pixel the same taps where a transposed conv's uneven
            overlap can paint a checkerboard (Odena et al., Distill 2016).
        noise: StyleGAN's noise inputs (`NoiseInjection`, scales zero at init) after the
            BatchNorm of each decoder row (11-14); not the paper.
        antialias: a fixed [1, 2, 1] binomial blur (`BinomialBlur2D`) after row 10, the last of
            the 1/4-resolution middle (not the paper). Its response is zero at that map's
            Nyquist frequency, so no component of period 8 px at full resolution reaches the
            decoder: the period of the block grid adversarial training draws into the fills,
            which the decoder makes from exactly that component (docs/PAPER_COMPARISONS.md).
        train_size: see `InpaintingGenerator`.

    Reference:
        Mo & Zhou, Automatika 61(4), 2020, Table 1; Iizuka et al., "Globally and Locally
        Consistent Image Completion", SIGGRAPH 2017.
    """

    paper = 2
    size_multiple = 4
    # The paper Poisson-blends its completions (docs/SPEC-paper2.md, "Post-processing").
    default_blend = "poisson"

    def __init__(
        self,
        width: int = 64,
        batchnorm: bool = True,
        upsample: str = "transpose",
        noise: bool = False,
        antialias: bool = False,
        train_size: int | None = None,
        **kwargs,
    ):
        super().__init__(train_size=train_size, **kwargs)
        if int(width) < 1:
            raise ValueError(f"generator width={width!r}: expected a positive integer")
        if upsample not in UPSAMPLE_MODES:
            raise ValueError(f"generator upsample={upsample!r}: expected one of {', '.join(UPSAMPLE_MODES)}")
        self.width = int(width)
        self.batchnorm = bool(batchnorm)
        self.upsample = upsample
        self.noise = bool(noise)
        self.antialias = bool(antialias)
        self.network = keras.Sequential(self._table_layers(), name="network")

    def _table_layers(self) -> list:
        layers = []
        for i, (kind, kernel, dilation, stride, channels) in enumerate(GENERATOR_TABLE, start=1):
            if kind == "output":
                # float32 so the sigmoid and the completion stay float32 under mixed precision.
                layers.append(
                    keras.layers.Conv2D(
                        channels,
                        kernel,
                        padding="same",
                        activation="sigmoid",
                        dtype="float32",
                        name=f"conv{i}",
                    )
                )
                continue
            filters = scaled_channels(channels, self.width)
            if kind == "deconv" and self.upsample == "transpose":
                layers.append(
                    keras.layers.Conv2DTranspose(
                        filters, kernel, strides=stride, padding="same", name=f"deconv{i}"
                    )
                )
            elif kind == "deconv":
                layers.append(keras.layers.UpSampling2D(stride, interpolation="nearest", name=f"up{i}"))
                layers.append(keras.layers.Conv2D(filters, 3, padding="same", name=f"conv{i}"))
            else:
                conv = DilatedConv2D if dilation > 1 else keras.layers.Conv2D
                layers.append(
                    conv(
                        filters,
                        kernel,
                        strides=stride,
                        dilation_rate=dilation,
                        padding="same",
                        name=f"conv{i}",
                    )
                )
            if self.batchnorm:
                layers.append(FusedBatchNormalization(synchronized=True, name=f"bn{i}"))
            if self.noise and i in DECODER_ROWS:
                layers.append(NoiseInjection(seed=i, name=f"noise{i}"))
            layers.append(keras.layers.ReLU(name=f"relu{i}"))
            if self.antialias and i == MIDDLE_LAST_ROW:
                layers.append(BinomialBlur2D(name=f"blur{i}"))
        return layers

    def build(self, input_shape=None):
        # Spatial sides stay unknown: the network is fully convolutional.
        self.network.build((None, None, None, 4))
        self.built = True

    def call(self, inputs, training=False):
        image, mask = self.checked_inputs(inputs)
        prediction = self.network(tf.concat([image * (1.0 - mask), mask], axis=-1), training=training)
        return composite(image, mask, prediction)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape["image"])

    def get_config(self):
        return {
            **super().get_config(),
            "width": self.width,
            "batchnorm": self.batchnorm,
            "upsample": self.upsample,
            "noise": self.noise,
            "antialias": self.antialias,
        }


def build_generator(config) -> Paper2Generator:
    """The inference generator of a paper-2 `ExperimentConfig`, built (weights created)."""
    generator = Paper2Generator(
        width=config.model.generator_width,
        batchnorm=config.model.generator_batchnorm,
        upsample=config.model.decoder_upsample,
        noise=config.model.generator_noise,
        antialias=config.model.generator_antialias,
        train_size=config.data.image_size,
        name="generator",
    )
    generator.build()
    return generator
