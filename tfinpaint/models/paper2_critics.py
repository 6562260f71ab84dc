"""Paper 2's four WGAN critics (Tables 2-5), a PatchGAN beside them, and the local critic's view.

Mo & Zhou, Automatika 61(4), 2020; layer tables and resolved ambiguities in docs/SPEC-paper2.md.
`build_critics(config)` builds the critics of a config; the generator is in `paper2`.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfinpaint.config.papers import CRITIC_ROLES
from tfinpaint.layers.constraints import WeightClip, clip_weights
from tfinpaint.layers.convolution import BinomialBlur2D
from tfinpaint.layers.spectral import SpectralNorm
from tfinpaint.models.common import base_config, scaled_channels
from tfinpaint.models.patch_critic import PatchCritic

# Tables 2-5: the input view of each critic role, and its conv widths (at critic_width 64) in
# the two readings of the paper (`critic_depths`): "tables" follows the tables' captions
# (local 6 convs, global 5); "glcic" keeps GLCIC's discriminators as the text says (global 6
# convs at 256, local 5 at 128), so that all four critics end in a 4x4x512 map.
CRITIC_DOWNSAMPLE = {"local": 1, "global": 1, "x2": 2, "x4": 4, "patch": 1}
_FIVE, _SIX = (64, 128, 256, 512, 512), (64, 128, 256, 512, 512, 512)
CRITIC_WIDTHS = {
    "tables": {"local": _SIX, "global": _FIVE, "x2": _FIVE, "x4": (64, 128, 256, 512)},
    "glcic": {"local": _FIVE, "global": _SIX, "x2": _FIVE, "x4": (64, 128, 256, 512)},
}


@keras.saving.register_keras_serializable(package="tfinpaint")
class Paper2Critic(keras.Model):
    """One of paper 2's four WGAN critics, or a PatchGAN (not the paper), configured by its role.

    The critic takes the full image and the mask and looks at its own view of it:
    - `local`: the `image_size / 2` square window around the hole (`hole_window`), which for the
      paper's centre 128x128 hole in a 256x256 image is exactly the hole;
    - `global`: the whole image;
    - `x2`, `x4`: the whole image average-pooled 2x2 / 4x4 (pix2pixHD's multi-scale critics).
    Then 5x5 stride-2 "same" convs with LeakyReLU(0.2), no normalisation, Flatten -> Dense(1),
    linear (a Wasserstein critic, no sigmoid). The dense layer weighs each cell of the last map
    with its own weights, so the critic judges a texture differently at each place.
    - `patch` (not the paper): the whole image through pix2pix's 70x70 PatchGAN (`PatchCritic`,
      PICNet's variant when spectrally normalised), one score per overlapping patch, the same
      weights everywhere; its score is the patch map [B, S/8 - 2, S/8 - 2, 1].
    With `antialias` (not the paper) a `BinomialBlur2D` precedes each strided conv and blurred
    halvings replace the pooling, so the gradient handed to the generator has no period-2
    component and no 2x2 / 4x4 blocks (the patch critic ignores it).
    How many convs depends on `depths` (see `CRITIC_WIDTHS`). Every weight carries a
    `WeightClip(clip_value)` constraint, which the optimiser applies after each update
    (`build_critics` also clips the initial weights); with `spectral_norm` every conv and the
    dense layer are spectrally normalised instead. The score is float32 under a mixed-precision
    policy.

    Args:
        role: `local`, `global`, `x2`, `x4` or `patch`.
        image_size: side of the (square) training images; fixes the Dense layer's input.
        width: channels of the first conv (64 in the paper); the others scale with it.
        clip_value: weight-clipping bound c; `None` for no constraint (always, for `patch`).
        negative_slope: LeakyReLU slope (0.2).
        depths: "tables" (the tables' captions: local 6 convs, global 5) or "glcic" (GLCIC's
            discriminators: global 6, local 5; every critic ends in 4x4x512).
        antialias: blur before every subsampling (see above); False is the paper.
        spectral_norm: spectrally normalised layers (SN-GAN); False is the paper.

    Inputs:
        dict `{"image": float [B, S, S, 3] in [0, 1], "mask": float [B, S, S, 1]}` with
        S = `image_size`; only the local critic reads the mask.

    Returns:
        float32 [B, 1], unbounded scores (`patch`: [B, S/8 - 2, S/8 - 2, 1]).

    Reference:
        Mo & Zhou, Automatika 61(4), 2020, Tables 2-5; Wang et al., "High-Resolution Image
        Synthesis ... with Conditional GANs" (pix2pixHD), CVPR 2018; Arjovsky et al., WGAN 2017;
        Isola et al., pix2pix, CVPR 2017 (PatchGAN); Miyato et al., SN-GAN, ICLR 2018.
    """

    def __init__(
        self,
        role: str,
        image_size: int,
        width: int = 64,
        clip_value=0.01,
        negative_slope: float = 0.2,
        depths: str = "tables",
        antialias: bool = False,
        spectral_norm: bool = False,
        **kwargs,
    ):
        kwargs.setdefault("name", f"critic_{role}")
        super().__init__(**kwargs)
        if role not in CRITIC_ROLES:
            raise ValueError(f"critic role {role!r}: expected one of {', '.join(CRITIC_ROLES)}")
        if int(image_size) < 32 or int(image_size) % 4:
            raise ValueError(f"critic image_size={image_size!r}: expected a multiple of 4, at least 32")
        if depths not in CRITIC_WIDTHS:
            raise ValueError(f"critic depths={depths!r}: expected one of {', '.join(CRITIC_WIDTHS)}")
        if role == "patch" and clip_value is not None:
            raise ValueError(
                f"critic role 'patch' with clip_value={clip_value}: expected None (it is never clipped)"
            )
        self.role = role
        self.depths = depths
        self.image_size = int(image_size)
        self.width = int(width)
        self.clip_value = None if clip_value is None else float(clip_value)
        self.negative_slope = float(negative_slope)
        self.antialias = bool(antialias)
        self.spectral_norm = bool(spectral_norm)
        self.downsample = CRITIC_DOWNSAMPLE[role]
        self.view_size = self.image_size // (2 if role == "local" else self.downsample)
        self.pool = self._pool() if self.downsample > 1 else None
        if role == "patch":
            self.network = PatchCritic(self.width, spectral_norm=self.spectral_norm, name="network")
        else:
            self.network = keras.Sequential(self._strided_layers(), name="network")

    def _strided_layers(self):
        """The paper's critic: strided convs, then Flatten -> Dense(1)."""
        clip = None if self.clip_value is None else WeightClip(self.clip_value)
        layers, side = [], self.view_size
        for i, channels in enumerate(CRITIC_WIDTHS[self.depths][self.role], start=1):
            if self.antialias:
                layers.append(BinomialBlur2D(name=f"blur{i}"))
            conv = keras.layers.Conv2D(
                scaled_channels(channels, self.width),
                5,
                # On a 1x1 input stride 1 is the same function as stride 2 (one output, the
                # same padding), and TF 2.21's bfloat16 kernel gradient of a stride-2 conv
                # on a 1x1 input holds garbage, NaN in a third of calls (2026-12-05).
                strides=1 if side == 1 else 2,
                padding="same",
                kernel_constraint=clip,
                bias_constraint=clip,
                name=f"conv{i}",
            )
            layers.append(SpectralNorm(conv, name=f"conv{i}_sn") if self.spectral_norm else conv)
            layers.append(keras.layers.LeakyReLU(self.negative_slope, name=f"lrelu{i}"))
            side = (side + 1) // 2
        # float32 from here: the score is float32 under a mixed-precision policy, also through
        # `SpectralNorm`, which returns its input's dtype.
        layers.append(keras.layers.Flatten(dtype="float32", name="flatten"))
        score = keras.layers.Dense(
            1, kernel_constraint=clip, bias_constraint=clip, dtype="float32", name="score"
        )
        layers.append(SpectralNorm(score, name="score_sn") if self.spectral_norm else score)
        return layers

    def _pool(self):
        if not self.antialias:
            return keras.layers.AveragePooling2D(self.downsample, name="pool")
        halvings = self.downsample.bit_length() - 1
        return keras.Sequential(
            [BinomialBlur2D(strides=2, name=f"blur_half{i}") for i in range(1, halvings + 1)], name="pool"
        )

    def build(self, input_shape=None):
        self.network.build((None, self.view_size, self.view_size, 3))
        self.built = True

    def view(self, image, mask):
        """The part of the image this critic scores: [B, view_size, view_size, 3]."""
        if self.role == "local":
            return hole_window(image, mask, self.view_size)
        if self.pool is not None:
            return self.pool(image)
        return image

    def call(self, inputs, training=False):
        return self.network(self._checked_view(inputs), training=training)

    def features(self, inputs, training=False):
        """Each conv block's activation, first to last (what feature matching compares)."""
        if self.role == "patch":
            return self.network.features(self._checked_view(inputs), training=training)
        x, activations = self._checked_view(inputs), []
        for layer in self.network.layers:
            x = layer(x, training=training)
            if isinstance(layer, keras.layers.LeakyReLU):
                activations.append(x)
        return activations

    def _checked_view(self, inputs):
        if not isinstance(inputs, dict) or "image" not in inputs:
            raise ValueError(
                f"{self.name}: expected a dict with 'image' (and 'mask' for the local "
                f"critic), got {type(inputs).__name__}"
            )
        image, mask, size = inputs["image"], inputs.get("mask"), self.image_size
        if tuple(image.shape[1:3]) not in ((size, size), (None, None)):
            raise ValueError(
                f"{self.name}: expected images of {size}x{size} (the critic's image_size), "
                f"got {image.shape[1]}x{image.shape[2]}"
            )
        if self.role == "local" and mask is None:
            raise ValueError(f"{self.name}: the local critic needs inputs['mask'] to find the hole")
        return self.view(image, mask)

    def compute_output_shape(self, input_shape):
        if self.role == "patch":
            side = self.image_size // 8 - 2
            return (input_shape["image"][0], side, side, 1)
        return (input_shape["image"][0], 1)

    def get_config(self):
        return {
            **base_config(self),
            "role": self.role,
            "image_size": self.image_size,
            "width": self.width,
            "clip_value": self.clip_value,
            "negative_slope": self.negative_slope,
            "depths": self.depths,
            "antialias": self.antialias,
            "spectral_norm": self.spectral_norm,
        }


def hole_window(image, mask, size: int):
    """Crop, per example, the `size` x `size` window centred on the hole's bounding box.

    The window is shifted to stay inside the image (GLCIC's local-discriminator input); for a
    centred square hole of side `size` it is exactly the hole. An empty mask gives the centre
    window. Vectorised (two batched gathers, differentiable with respect to `image`).

    Args:
        image: [B, H, W, C].
        mask: [B, H, W, 1], 1 = hole (> 0.5 counts as hole).
        size: window side, at most min(H, W).

    Returns:
        [B, size, size, C], same dtype as `image`.
    """
    hole = tf.cast(mask, "float32")[..., 0] > 0.5
    top = _window_start(tf.reduce_any(hole, axis=2), size)
    left = _window_start(tf.reduce_any(hole, axis=1), size)
    offsets = tf.range(size, dtype=top.dtype)
    rows = tf.gather(image, top[:, None] + offsets, axis=1, batch_dims=1)
    return tf.gather(rows, left[:, None] + offsets, axis=2, batch_dims=1)


def _window_start(occupied, size: int):
    """First index of a `size` window centred on the occupied span of each row of [B, N]."""
    n = tf.shape(occupied)[1]
    first = tf.argmax(tf.cast(occupied, "int32"), axis=1, output_type="int32")
    last = n - 1 - tf.argmax(tf.cast(occupied[:, ::-1], "int32"), axis=1, output_type="int32")
    # All-False rows give first = 0, last = n - 1: the centred window.
    centre = (first + last + 1) // 2
    return tf.clip_by_value(centre - size // 2, 0, n - size)


def build_critics(config) -> dict:
    """The critics a paper-2 `ExperimentConfig` names (`model.critics`), built (and clipped).

    `critic_regularizer`: `clip` gives the clipped critics, `spectral` spectrally normalised
    ones, `gp` plain ones (the penalty is the training model's).

    Keras constraints act after an optimiser update only, so the Glorot-initialised weights
    (several times the clip bound) are clipped here once, before the first critic step.
    """
    m, size = config.model, config.data.image_size
    clip_value = m.clip_value if m.critic_regularizer == "clip" else None
    spectral = m.critic_regularizer == "spectral"
    critics = {}
    for role in m.critic_roles:
        critic = Paper2Critic(
            role,
            size,
            width=m.critic_width,
            clip_value=clip_value,
            depths=m.critic_depths,
            antialias=m.critic_antialias,
            spectral_norm=spectral,
        )
        critic.build()
        clip_weights(critic)
        critics[role] = critic
    return critics
