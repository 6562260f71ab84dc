"""Paper 2: the Table-1 dilated-convolution generator and the four WGAN critics (Tables 2-5).

Mo & Zhou, "The image inpainting algorithm used on multi-scale generative adversarial networks
and neighbourhood", Automatika 61(4), 2020; layer tables and resolved ambiguities in
SPEC-paper2.md. `build_generator(config)` and `build_gan(config, global_batch_size)` are the
registry entry points (`tfinpaint.models`).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfinpaint import losses
from tfinpaint.training.wgan_clip import Paper2GAN

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

# Tables 2-5: conv widths (at critic_width 64) and the input view of each critic role.
CRITIC_ROLES = {
    "local": {"widths": (64, 128, 256, 512, 512, 512), "downsample": 1},
    "global": {"widths": (64, 128, 256, 512, 512), "downsample": 1},
    "x2": {"widths": (64, 128, 256, 512, 512), "downsample": 2},
    "x4": {"widths": (64, 128, 256, 512), "downsample": 4},
}


def _scaled(channels: int, width: int) -> int:
    return max(1, channels * width // 64)


@keras.saving.register_keras_serializable(package="tfinpaint")
class WeightClip(keras.constraints.Constraint):
    """WGAN weight clipping: every weight is projected into [-clip_value, clip_value].

    Keras 3 optimisers apply a variable's constraint right after each update, so attaching this
    to every critic weight clips "after every critic update" with no extra code in the step.

    Args:
        clip_value: positive bound c (0.01 in the WGAN paper).

    Reference:
        Arjovsky, Chintala, Bottou, "Wasserstein GAN", ICML 2017, Algorithm 1.
    """

    def __init__(self, clip_value: float = 0.01):
        if not clip_value > 0:
            raise ValueError(f"clip_value={clip_value!r}: expected a positive number")
        self.clip_value = float(clip_value)

    def __call__(self, w):
        return keras.ops.clip(w, -self.clip_value, self.clip_value)

    def get_config(self):
        return {"clip_value": self.clip_value}


@keras.saving.register_keras_serializable(package="tfinpaint")
class DilatedConv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` whose dilated convolution is one native `Conv2D` op.

    Keras lowers a dilated convolution to `tf.nn.convolution`, which wraps an undilated conv in
    SpaceToBatch / BatchToSpace; at paper 2's dilations 8 and 16 on small feature maps that runs
    the conv on hundreds of tiny padded tiles. The oneDNN (and cuDNN) Conv2D kernels take the
    dilation directly: on a 2-core CPU the rate-16 layer's forward + backward went from 107 to 29
    ms (bfloat16, 32x32x256, batch 4), the same numbers to float rounding. TensorFlow's plain CPU
    kernels cannot differentiate a dilated Conv2D, so on a CPU without oneDNN (e.g. with
    `TF_ENABLE_ONEDNN_OPTS=0`) or in float16 (which oneDNN does not cover) this layer is exactly
    `keras.layers.Conv2D`.

    Args:
        As `keras.layers.Conv2D`.
    """

    def convolution_op(self, inputs, kernel):
        if not (
            self.dilation_rate != (1, 1)
            and self.groups == 1
            and self.data_format == "channels_last"
            and keras.backend.backend() == "tensorflow"
            and _native_dilated_conv(inputs.dtype)
        ):
            return super().convolution_op(inputs, kernel)
        return tf.nn.conv2d(
            inputs,
            kernel,
            strides=[1, *self.strides, 1],
            padding=self.padding.upper(),
            dilations=[1, *self.dilation_rate, 1],
        )


def _native_dilated_conv(dtype) -> bool:
    if tf.config.list_logical_devices("GPU"):
        return True
    if tf.as_dtype(dtype) not in (tf.float32, tf.bfloat16):
        return False
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        return False
    return bool(_pywrap_util_port.IsMklEnabled())


@keras.saving.register_keras_serializable(package="tfinpaint")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` that trains with TensorFlow's fused kernel when it can.

    Keras 3 computes training-mode batch norm from separate reductions and element-wise ops (in
    float32, with casts, under a mixed policy); TensorFlow's `FusedBatchNormV3` does the
    normalisation and its gradient in one kernel each and takes bfloat16 / float16 inputs
    directly. On a 2-core CPU it made the paper-2 generator's training step ~10% faster under
    mixed_bfloat16 (4% in float32). Same weights, config and results as the Keras layer (the
    kernel's Bessel-corrected variance is converted back to the biased variance Keras keeps in
    `moving_variance`). The fused kernel sees one replica's batch, so with `synchronized=True`
    and more than one replica in sync, or for any case the kernel does not cover (masks,
    renorm, an axis other than the last of a 4-D input), the Keras computation runs instead.

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
            not self.fused
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


@keras.saving.register_keras_serializable(package="tfinpaint")
class Paper2Generator(keras.Model):
    """Paper 2's generator (Table 1) as an inference model: image + mask -> completed image.

    The network sees `concat([(1 - mask) * image, mask])` (4 channels, GLCIC), runs conv ->
    BatchNorm -> ReLU blocks with dilations 2/4/8/16 at 1/4 resolution, two 4x4 stride-2
    transposed convs back up and a sigmoid output conv; the result is pasted into the hole:
    `image * (1 - mask) + prediction * mask`, so pixels outside the hole are exactly the input.
    Fully convolutional: any H, W divisible by 4. BatchNorm is synchronized across replicas so
    N replicas train the same weights as one device. Under a mixed-precision policy the last conv
    runs in float32 and the output is float32.

    Args:
        width: channels of the first layer (64 in the paper); every width in Table 1 scales
            with it (128 -> 2 * width, 256 -> 4 * width, 32 -> width / 2).
        batchnorm: conv -> BatchNorm -> ReLU (GLCIC); False gives conv -> ReLU.
        train_size: the image side the network was trained at (None = unknown). Inference
            runs the network at that scale (`tfinpaint.inference`); kept in the saved config.

    Inputs:
        dict `{"image": float [B, H, W, 3] in [0, 1], "mask": float [B, H, W, 1]}`, mask 1 = hole.

    Returns:
        float32 [B, H, W, 3] in [0, 1].

    Reference:
        Mo & Zhou, Automatika 61(4), 2020, Table 1; Iizuka et al., "Globally and Locally
        Consistent Image Completion", SIGGRAPH 2017.
    """

    size_multiple = 4
    max_side = None

    def __init__(self, width: int = 64, batchnorm: bool = True, train_size: int | None = None, **kwargs):
        # No input autocast: under a mixed policy the known pixels must be pasted back from the
        # float32 input, not from a bfloat16 / float16 copy; the inner layers cast for themselves.
        kwargs["autocast"] = False
        super().__init__(**kwargs)
        if int(width) < 1:
            raise ValueError(f"generator width={width!r}: expected a positive integer")
        self.width = int(width)
        self.batchnorm = bool(batchnorm)
        self.train_size = None if train_size is None else int(train_size)
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
            filters = _scaled(channels, self.width)
            if kind == "deconv":
                layers.append(
                    keras.layers.Conv2DTranspose(
                        filters, kernel, strides=stride, padding="same", name=f"deconv{i}"
                    )
                )
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
            layers.append(keras.layers.ReLU(name=f"relu{i}"))
        return layers

    def build(self, input_shape=None):
        # Spatial sides stay unknown: the network is fully convolutional.
        self.network.build((None, None, None, 4))
        self.built = True

    def call(self, inputs, training=False):
        image, mask = _image_and_mask(inputs, self.size_multiple, type(self).__name__)
        prediction = self.network(tf.concat([image * (1.0 - mask), mask], axis=-1), training=training)
        return losses.complete(image, mask, prediction)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape["image"])

    def get_config(self):
        return {
            **_base_config(self),
            "width": self.width,
            "batchnorm": self.batchnorm,
            "train_size": self.train_size,
        }


@keras.saving.register_keras_serializable(package="tfinpaint")
class Paper2Critic(keras.Model):
    """One of paper 2's four WGAN critics, configured by its role.

    The critic takes the full image and the mask and looks at its own view of it:
    - `local`: the `image_size / 2` square window around the hole (`hole_window`), which for the
      paper's centre 128x128 hole in a 256x256 image is exactly the hole;
    - `global`: the whole image;
    - `x2`, `x4`: the whole image average-pooled 2x2 / 4x4 (pix2pixHD's multi-scale critics).
    Then 5x5 stride-2 "same" convs with LeakyReLU(0.2), no normalisation, Flatten -> Dense(1),
    linear (a Wasserstein critic, no sigmoid). Every weight carries a `WeightClip(clip_value)`
    constraint, which the optimiser applies after each update. The score is float32 under a
    mixed-precision policy.

    Args:
        role: `local`, `global`, `x2` or `x4`.
        image_size: side of the (square) training images; fixes the Dense layer's input.
        width: channels of the first conv (64 in the paper); the others scale with it.
        clip_value: weight-clipping bound c; `None` for no constraint.
        negative_slope: LeakyReLU slope (0.2).

    Inputs:
        dict `{"image": float [B, S, S, 3] in [0, 1], "mask": float [B, S, S, 1]}` with
        S = `image_size`; only the local critic reads the mask.

    Returns:
        float32 [B, 1], unbounded scores.

    Reference:
        Mo & Zhou, Automatika 61(4), 2020, Tables 2-5; Wang et al., "High-Resolution Image
        Synthesis ... with Conditional GANs" (pix2pixHD), CVPR 2018; Arjovsky et al., WGAN 2017.
    """

    def __init__(
        self,
        role: str,
        image_size: int,
        width: int = 64,
        clip_value=0.01,
        negative_slope: float = 0.2,
        **kwargs,
    ):
        kwargs.setdefault("name", f"critic_{role}")
        super().__init__(**kwargs)
        if role not in CRITIC_ROLES:
            raise ValueError(f"critic role {role!r}: expected one of {', '.join(CRITIC_ROLES)}")
        if int(image_size) < 32 or int(image_size) % 4:
            raise ValueError(f"critic image_size={image_size!r}: expected a multiple of 4, at least 32")
        self.role = role
        self.image_size = int(image_size)
        self.width = int(width)
        self.clip_value = None if clip_value is None else float(clip_value)
        self.negative_slope = float(negative_slope)
        spec = CRITIC_ROLES[role]
        self.downsample = spec["downsample"]
        self.view_size = self.image_size // (2 if role == "local" else self.downsample)
        self.pool = (
            keras.layers.AveragePooling2D(self.downsample, name="pool") if self.downsample > 1 else None
        )
        clip = None if self.clip_value is None else WeightClip(self.clip_value)
        layers = []
        for i, channels in enumerate(spec["widths"], start=1):
            layers.append(
                keras.layers.Conv2D(
                    _scaled(channels, self.width),
                    5,
                    strides=2,
                    padding="same",
                    kernel_constraint=clip,
                    bias_constraint=clip,
                    name=f"conv{i}",
                )
            )
            layers.append(keras.layers.LeakyReLU(self.negative_slope, name=f"lrelu{i}"))
        layers.append(keras.layers.Flatten(name="flatten"))
        layers.append(
            keras.layers.Dense(1, kernel_constraint=clip, bias_constraint=clip, dtype="float32", name="score")
        )
        self.network = keras.Sequential(layers, name="network")

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
        if not isinstance(inputs, dict) or "image" not in inputs:
            raise ValueError(
                f"{self.name}: expected a dict with 'image' (and 'mask' for the local "
                f"critic), got {type(inputs).__name__}"
            )
        image = inputs["image"]
        _check_side(image, self.image_size, self.name)
        mask = inputs.get("mask")
        if self.role == "local" and mask is None:
            raise ValueError(f"{self.name}: the local critic needs inputs['mask'] to find the hole")
        return self.network(self.view(image, mask), training=training)

    def compute_output_shape(self, input_shape):
        return (input_shape["image"][0], 1)

    def get_config(self):
        return {
            **_base_config(self),
            "role": self.role,
            "image_size": self.image_size,
            "width": self.width,
            "clip_value": self.clip_value,
            "negative_slope": self.negative_slope,
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


def _image_and_mask(inputs, multiple: int, who: str):
    if not isinstance(inputs, dict) or "image" not in inputs or "mask" not in inputs:
        raise ValueError(
            f"{who}: expected a dict {{'image': [B,H,W,3], 'mask': [B,H,W,1]}}, got {type(inputs).__name__}"
        )
    image = tf.cast(inputs["image"], "float32")
    mask = tf.cast(inputs["mask"], "float32")
    if image.shape.rank != 4 or image.shape[-1] not in (3, None):
        raise ValueError(f"{who}: 'image' must be [B,H,W,3], got shape {tuple(image.shape)}")
    if mask.shape.rank != 4 or mask.shape[-1] not in (1, None):
        raise ValueError(f"{who}: 'mask' must be [B,H,W,1], got shape {tuple(mask.shape)}")
    for axis, name in ((1, "height"), (2, "width")):
        side = image.shape[axis]
        if side is not None and side % multiple:
            raise ValueError(
                f"{who}: image {name} {side} is not a multiple of {multiple}; pad or crop "
                f"the input (the inference helpers reflect-pad automatically)"
            )
    return image, mask


def _check_side(image, size: int, who: str):
    if tuple(image.shape[1:3]) not in ((size, size), (None, None)):
        raise ValueError(
            f"{who}: expected images of {size}x{size} (the critic's image_size), "
            f"got {image.shape[1]}x{image.shape[2]}"
        )


def _base_config(model) -> dict:
    # Only the generic Layer keys: Keras' automatic config would record __init__ defaults.
    config = keras.layers.Layer.get_config(model)
    return {k: v for k, v in config.items() if k in ("name", "trainable", "dtype")}


def build_generator(config) -> Paper2Generator:
    """The inference generator of a paper-2 `ExperimentConfig`, built (weights created)."""
    generator = Paper2Generator(
        width=config.model.generator_width,
        batchnorm=config.model.generator_batchnorm,
        train_size=config.data.image_size,
        name="generator",
    )
    generator.build()
    return generator


def build_critics(config) -> dict:
    """The four critics of a paper-2 `ExperimentConfig` at its training size, built."""
    m, size = config.model, config.data.image_size
    if m.critic_pooling != "avg":
        raise ValueError(
            f"model.critic_pooling={m.critic_pooling!r}: expected 'avg' (2x2 / 4x4 average "
            f"pooling for the x2 / x4 critics)"
        )
    critics = {
        role: Paper2Critic(role, size, width=m.critic_width, clip_value=m.clip_value) for role in CRITIC_ROLES
    }
    for critic in critics.values():
        critic.build()
    return critics


def build_gan(config, global_batch_size: int) -> Paper2GAN:
    """Paper 2's training model; call inside the strategy's scope, then `gan.build_optimizers()`."""
    m = config.model
    return Paper2GAN(
        build_generator(config),
        build_critics(config),
        global_batch_size,
        t1=m.t1,
        t2=m.t2,
        adv_weight=m.adv_weight,
        optimizer=m.optimizer,
        lr=m.lr,
        beta_1=m.beta_1,
        beta_2=m.beta_2,
        rmsprop_lr=m.rmsprop_lr,
        name="paper2_gan",
    )
