"""Paper 1: dual-path inpainting GAN (a condensed PICNet) — encoder, generator, PatchGAN critics.

Networks (docs/SPEC-paper1.md, widths for `width=32`, latent 128, a 256x256 input):
- `Paper1Encoder`: a residual trunk (128^2 -> 8^2) with a prior head (generation path, on the
  masked image `I_m`) and a posterior head (reconstruction path, on the hole content `I_c`),
  each giving the mean and softplus std of a spatial latent z [B, 8, 8, 128].
- `Paper1Decoder` (the paper's G): z block, fusion with the encoder feature `f_m` of `I_m`,
  five residual decoder blocks, short+long-term attention at 32x32, images at 32, 64, 128, 256.
- `PatchCritic`: the 70x70 PatchGAN used for both D1 (reconstruction path) and D2 (generation
  path).
- `Paper1Generator`: the inference model (image + mask -> completed image), generation path only.

Images are in [-1, 1] inside the networks and in [0, 1] at the `Paper1Generator` boundary.
`build_generator(config)` and `build_critic(model_config, name)` build the networks of a
config; the training model is `tfinpaint.training.wgan_gp.Paper1GAN`.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfinpaint.convention import composite
from tfinpaint.layers.attention import ShortLongAttention
from tfinpaint.layers.residual import OutputHead, ResBlock, ResBlockStart, ResDecoderBlock
from tfinpaint.models.common import base_config
from tfinpaint.models.generator import InpaintingGenerator
from tfinpaint.models.patch_critic import PatchCritic

# Encoder output and decoder input resolutions, as divisors of the image side.
LATENT_STRIDE = 32
ATTENTION_STRIDE = 8
OUTPUT_STRIDES = (8, 4, 2, 1)
# Seed stream of `Paper1Generator.sample` (training uses streams keyed by step, see wgan_gp).
SAMPLE_STREAM = 0x5A4D


def _shape(shape):
    return tuple(None if s is None else int(s) for s in shape)


def downsample(x, factor):
    """Average-pool an image or mask by an integer factor (exact area resize for multiples)."""
    if factor == 1:
        return x
    return tf.nn.avg_pool2d(x, factor, factor, "VALID")


def _trunk_blocks(width, prefix):
    return [
        ResBlockStart(width, name=f"{prefix}start"),
        ResBlock(2 * width, width, downsample=True, name=f"{prefix}down1"),
        ResBlock(4 * width, 2 * width, downsample=True, name=f"{prefix}down2"),
        ResBlock(4 * width, 4 * width, downsample=True, name=f"{prefix}down3"),
        ResBlock(4 * width, 4 * width, downsample=True, name=f"{prefix}down4"),
    ]


# The trunk block whose output is `f`, the long-term attention's encoder feature (32^2 at 256).
FEATURE_BLOCK = 2


@keras.saving.register_keras_serializable(package="tfinpaint")
class Paper1Encoder(keras.Model):
    """Residual encoder E with the prior (generation) and posterior (reconstruction) heads.

    Trunk: ResBlockStart(3 -> w), ResBlock down (w -> 2w), (2w -> 4w) — its output is `f`, the
    attention's encoder feature at 1/8 resolution — then (4w -> 4w) twice, giving `f_m` at 1/32.
    Prior path: `L` ResBlocks (4w) then a ResBlock head 4w -> 2 * latent, split into the mean and
    `softplus` std. Posterior path: the trunk (shared, or its own copy with
    `shared_encoder=False`, the literal E1/E2 reading of the paper) then its own head, no infer
    blocks. Residual hidden widths are the blocks' input widths. Encoders see RGB only (no
    mask channel), as in PICNet.

    Args:
        width: w, the first block's width (32 in the paper).
        latent_channels: channels of z (128).
        infer_blocks: L, ResBlocks before the prior head (1; PICNet's code uses 6).
        shared_encoder: one trunk for both paths (PICNet).

    Call: `encoder(masked)` with the masked image `I_m` [B, H, W, 3] in [-1, 1] (H, W multiples
    of 32) returns `(prior_mean, prior_std, f_m, f)`: [B, H/32, W/32, latent] twice,
    [B, H/32, W/32, 4w], [B, H/8, W/8, 4w]. `encoder.posterior(complement)` with `I_c` returns
    `(posterior_mean, posterior_std)`.

    Reference:
        Zheng, Cham & Cai, "Pluralistic Image Completion", CVPR 2019 (`ResEncoder`).
    """

    def __init__(self, width=32, latent_channels=128, infer_blocks=1, shared_encoder=True, **kwargs):
        # Files saved before the option had one name called it `shared_trunk` here.
        shared_encoder = kwargs.pop("shared_trunk", shared_encoder)
        super().__init__(**kwargs)
        self.width = int(width)
        self.latent_channels = int(latent_channels)
        self.infer_blocks = int(infer_blocks)
        self.shared_encoder = bool(shared_encoder)
        self.trunk = _trunk_blocks(self.width, "")
        # Keras would track one list under two names, so a shared trunk is not stored twice.
        self.posterior_trunk = None if self.shared_encoder else _trunk_blocks(self.width, "post_")
        self.infer = [
            ResBlock(4 * self.width, 4 * self.width, name=f"infer{i}") for i in range(self.infer_blocks)
        ]
        self.prior_head = ResBlock(2 * self.latent_channels, 4 * self.width, name="prior_head")
        self.posterior_head = ResBlock(2 * self.latent_channels, 4 * self.width, name="posterior_head")

    def build(self, input_shape):
        input_shape = _shape(input_shape)
        for trunk in (self.posterior_trunk or [], self.trunk):
            shape = input_shape
            for block in trunk:
                block.build(shape)
                shape = block.compute_output_shape(shape)
        for block in self.infer:
            block.build(shape)
        self.prior_head.build(shape)
        self.posterior_head.build(shape)

    def _run_trunk(self, trunk, x, training):
        feature = None
        for i, block in enumerate(trunk):
            x = block(x, training=training)
            if i == FEATURE_BLOCK:
                feature = x
        return x, feature

    def _head(self, head, x, training):
        mean, raw_std = tf.split(head(x, training=training), 2, axis=-1)
        return mean, tf.nn.softplus(raw_std)

    def call(self, masked, training=False):
        fused, feature = self._run_trunk(self.trunk, masked, training)
        x = fused
        for block in self.infer:
            x = block(x, training=training)
        mean, std = self._head(self.prior_head, x, training)
        return mean, std, fused, feature

    def posterior(self, complement, training=False):
        """The reconstruction path's N(mean, std^2) from the hole content `I_c`."""
        x, _ = self._run_trunk(self.posterior_trunk or self.trunk, complement, training)
        return self._head(self.posterior_head, x, training)

    def get_config(self):
        return {
            **base_config(self),
            "width": self.width,
            "latent_channels": self.latent_channels,
            "infer_blocks": self.infer_blocks,
            "shared_encoder": self.shared_encoder,
        }


@keras.saving.register_keras_serializable(package="tfinpaint")
class Paper1Decoder(keras.Model):
    """Generator G, shared by both paths: latent z -> images at four scales.

    z block ResBlock(latent -> 4w, no norm) + `f_m` (fusion); ResDecoderBlock 4w -> 4w twice
    (to 1/8 resolution); ShortLongAttention(4w) with the encoder feature `f` and the visible
    mask; output head (1/8 scale); then ResDecoderBlocks (4w + 3 -> 4w), (4w + 3 -> 2w),
    (2w + 3 -> w), each after concatenating the previous scale's image, each with its own
    output head. Every conv is spectrally normalised except the attention's query; decoder
    blocks use instance norm. Residual hidden widths are the blocks' output widths.

    Args:
        width: w (32 in the paper: decoder widths 128, 128, 128, 64, 32).
        latent_channels: channels of z (128).
        upsample: the decoder blocks' upsampling, `transpose` (the paper) or `resize` (`UpConv`).

    Call: `decoder([z, f_m, f, visible])` with z [B, h, w, latent], f_m [B, h, w, 4w],
    f [B, 4h, 4w, 4w], visible [B, 4h, 4w, 1] (1 = known pixel) returns a list of four images
    [B, 4h * s, 4w * s, 3] for s = 1, 2, 4, 8, values in [-1, 1] (tanh).

    Reference:
        Zheng, Cham & Cai, "Pluralistic Image Completion", CVPR 2019 (`ResGenerator`).
    """

    def __init__(self, width=32, latent_channels=128, upsample="transpose", **kwargs):
        super().__init__(**kwargs)
        self.width = int(width)
        self.latent_channels = int(latent_channels)
        self.upsample = upsample
        w = self.width
        self.z_block = ResBlock(4 * w, 4 * w, name="z_block")
        self.up_blocks = [
            ResDecoderBlock(4 * w, 4 * w, upsample=upsample, name="dec0"),
            ResDecoderBlock(4 * w, 4 * w, upsample=upsample, name="dec1"),
        ]
        self.attention = ShortLongAttention(4 * w, name="attention")
        self.scale_blocks = [
            ResDecoderBlock(4 * w, 4 * w, upsample=upsample, name="dec2"),
            ResDecoderBlock(2 * w, 2 * w, upsample=upsample, name="dec3"),
            ResDecoderBlock(w, w, upsample=upsample, name="dec4"),
        ]
        self.heads = [OutputHead(3, name=f"out{i + 1}") for i in range(4)]

    def build(self, input_shape):
        z_shape, fused_shape, feature_shape, visible_shape = (_shape(s) for s in input_shape)
        self.z_block.build(z_shape)
        shape = self.z_block.compute_output_shape(z_shape)
        for block in self.up_blocks:
            block.build(shape)
            shape = block.compute_output_shape(shape)
        self.attention.build([shape, feature_shape, visible_shape])
        self.heads[0].build(shape)
        for block, head in zip(self.scale_blocks, self.heads[1:]):
            shape = shape[:-1] + (shape[-1] + 3,)
            block.build(shape)
            shape = block.compute_output_shape(shape)
            head.build(shape)

    def call(self, inputs, training=False):
        z, fused, feature, visible = inputs
        x = self.z_block(z, training=training) + fused
        for block in self.up_blocks:
            x = block(x, training=training)
        x = self.attention([x, feature, visible], training=training)
        image = self.heads[0](x, training=training)
        outputs = [image]
        for block, head in zip(self.scale_blocks, self.heads[1:]):
            x = block(tf.concat([x, tf.cast(image, x.dtype)], axis=-1), training=training)
            image = head(x, training=training)
            outputs.append(image)
        return outputs

    def get_config(self):
        return {
            **base_config(self),
            "width": self.width,
            "latent_channels": self.latent_channels,
            "upsample": self.upsample,
        }


@keras.saving.register_keras_serializable(package="tfinpaint")
class Paper1Generator(InpaintingGenerator):
    """Paper 1's inference model: the generation path, image + mask -> completed image.

    `I_m = (1 - M) * (2 I - 1)` -> encoder -> prior N(mean, std^2) -> z -> decoder -> the
    256-scale output; the result is `I * (1 - M) + out * M`, so pixels outside the hole are the
    input exactly. `call` uses z = the prior mean (deterministic); `sample(inputs, seed)` draws
    z from the prior with a stateless RNG keyed by `seed` (PICNet's pluralistic completions).
    Holds both the encoder and the decoder; the training model reaches them as
    `generator.encoder` / `generator.decoder`. Inputs, outputs and checks: `InpaintingGenerator`.

    Args:
        width, latent_channels, infer_blocks, shared_encoder: see `Paper1Encoder`.
        upsample: see `Paper1Decoder`.
        max_side: largest input side accepted (`model.max_side`): attention memory is
            (H/8 * W/8)^2 per image, so larger inputs raise an error instead of running.
        train_size: see `InpaintingGenerator`.

    Reference:
        Zheng, Cham & Cai, "Pluralistic Image Completion", CVPR 2019.
    """

    paper = 1
    size_multiple = LATENT_STRIDE
    # The paper has no post-processing.
    default_blend = "none"

    def __init__(
        self,
        width=32,
        latent_channels=128,
        infer_blocks=1,
        shared_encoder=True,
        upsample="transpose",
        max_side=512,
        train_size=None,
        **kwargs,
    ):
        super().__init__(max_side=max_side, train_size=train_size, **kwargs)
        self.width = int(width)
        self.latent_channels = int(latent_channels)
        self.infer_blocks = int(infer_blocks)
        self.shared_encoder = bool(shared_encoder)
        self.upsample = upsample
        self.encoder = Paper1Encoder(width, latent_channels, infer_blocks, shared_encoder, name="encoder")
        self.decoder = Paper1Decoder(width, latent_channels, upsample, name="decoder")

    def build(self, input_shape):
        image_shape = (None, None, None, 3)
        self.encoder.build(image_shape)
        w, latent = self.width, self.latent_channels
        self.decoder.build(
            [
                (None, None, None, latent),
                (None, None, None, 4 * w),
                (None, None, None, 4 * w),
                (None, None, None, 1),
            ]
        )

    def _complete(self, inputs, seed, training):
        image, mask = self.checked_inputs(inputs)
        visible = 1.0 - mask
        mean, std, fused, feature = self.encoder(visible * (2.0 * image - 1.0), training=training)
        z = mean
        if seed is not None:
            seed = tf.stack([tf.cast(seed, "int64"), tf.constant(SAMPLE_STREAM, "int64")])
            noise = tf.random.stateless_normal(tf.shape(mean), seed=seed)
            z = mean + std * tf.cast(noise, std.dtype)
        outputs = self.decoder([z, fused, feature, downsample(visible, ATTENTION_STRIDE)], training=training)
        prediction = (tf.cast(outputs[-1], "float32") + 1.0) / 2.0
        return composite(image, mask, prediction)

    def call(self, inputs, training=False):
        return self._complete(inputs, None, training)

    def sample(self, inputs, seed):
        """A random completion: z drawn from the prior with a stateless RNG keyed by `seed`.

        The same inputs and seed give the same output; different seeds differ inside the hole
        only. `seed` is an integer (Python or scalar tensor).
        """
        return self._complete(inputs, seed, False)

    def get_config(self):
        return {
            **super().get_config(),
            "width": self.width,
            "latent_channels": self.latent_channels,
            "infer_blocks": self.infer_blocks,
            "shared_encoder": self.shared_encoder,
            "upsample": self.upsample,
            "max_side": self.max_side,
        }


def _input_shapes():
    return {"image": (None, None, None, 3), "mask": (None, None, None, 1)}


def build_generator(config):
    """The built inference generator of an `ExperimentConfig` (or a `Paper1Config`)."""
    model = getattr(config, "model", config)
    generator = Paper1Generator(
        width=model.width,
        latent_channels=model.latent_channels,
        infer_blocks=model.infer_blocks,
        shared_encoder=model.shared_encoder,
        upsample=model.decoder_upsample,
        max_side=model.max_side,
        train_size=getattr(getattr(config, "data", None), "image_size", None),
        name="paper1_generator",
    )
    generator.build(_input_shapes())
    return generator


def build_critic(model, name):
    """One built PatchGAN critic configured by a `Paper1Config`."""
    critic = PatchCritic(
        width=model.critic_width,
        spectral_norm=model.critic_spectral_norm,
        residual=model.critic_residual,
        name=name,
    )
    critic.build((None, None, None, 3))
    return critic
