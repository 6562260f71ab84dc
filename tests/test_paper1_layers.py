"""Paper 1's building blocks: shapes at the paper's sizes, PyTorch alignment, attention formula."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfinpaint.layers.attention import ShortLongAttention
from tfinpaint.layers.residual import OutputHead, ResBlock, ResBlockStart, ResDecoderBlock, UpConv
from tfinpaint.layers.spectral import SpectralNorm


def _zeros(*shape):
    return tf.zeros((1,) + shape)


# (layer, input shape, expected output shape): every block of docs/SPEC-paper1.md's tables at 256.
PAPER_BLOCKS = [
    (lambda: ResBlockStart(32), (256, 256, 3), (128, 128, 32)),
    (lambda: ResBlock(64, 32, downsample=True), (128, 128, 32), (64, 64, 64)),
    (lambda: ResBlock(128, 64, downsample=True), (64, 64, 64), (32, 32, 128)),
    (lambda: ResBlock(128, 128, downsample=True), (32, 32, 128), (16, 16, 128)),
    (lambda: ResBlock(128, 128, downsample=True), (16, 16, 128), (8, 8, 128)),
    (lambda: ResBlock(128, 128), (8, 8, 128), (8, 8, 128)),
    (lambda: ResBlock(256, 128), (8, 8, 128), (8, 8, 256)),
    (lambda: ResDecoderBlock(128, 128), (8, 8, 128), (16, 16, 128)),
    (lambda: ResDecoderBlock(128, 128), (16, 16, 128), (32, 32, 128)),
    (lambda: OutputHead(3), (32, 32, 128), (32, 32, 3)),
    (lambda: ResDecoderBlock(128, 128), (32, 32, 131), (64, 64, 128)),
    (lambda: ResDecoderBlock(64, 64), (64, 64, 131), (128, 128, 64)),
    (lambda: ResDecoderBlock(32, 32), (128, 128, 67), (256, 256, 32)),
    (lambda: OutputHead(3), (256, 256, 32), (256, 256, 3)),
]


@pytest.mark.parametrize("make, in_shape, out_shape", PAPER_BLOCKS)
def test_block_shapes_at_paper_size(make, in_shape, out_shape):
    layer = make()
    out = layer(_zeros(*in_shape))
    assert tuple(out.shape) == (1,) + out_shape
    assert layer.compute_output_shape((1,) + in_shape) == (1,) + out_shape


def test_attention_shape_and_zero_init_at_paper_size():
    layer = ShortLongAttention(128)
    out = layer([_zeros(32, 32, 128), _zeros(32, 32, 128), _zeros(32, 32, 1)])
    assert tuple(out.shape) == (1, 32, 32, 128)
    assert float(layer.gamma.numpy()) == 0.0 and float(layer.alpha.numpy()) == 0.0
    # query 128 -> 32 (no spectral norm), gamma, alpha, fusion ResBlock(256 -> 128, hidden 128).
    assert sum(int(np.prod(v.shape)) for v in layer.trainable_variables) == 4128 + 2 + 475520


def _pytorch_conv_transpose(x, kernel):
    """ConvTranspose2d(k=3, s=2, padding=1, output_padding=1) on one channel, in numpy."""
    h, w = x.shape
    full = np.zeros((2 * h + 2, 2 * w + 2))
    for i in range(h):
        for j in range(w):
            full[2 * i : 2 * i + 3, 2 * j : 2 * j + 3] += x[i, j] * kernel
    # padding=1 crops one row/column at the start and, with output_padding=1, none at the end.
    return full[1 : 2 * h + 1, 1 : 2 * w + 1]


def test_upconv_matches_pytorch_alignment():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 6)).astype("float32")
    kernel = rng.normal(size=(3, 3)).astype("float32")
    layer = UpConv(1)
    layer.build((1, 5, 6, 1))
    conv = layer.conv.layer
    conv.kernel.assign(kernel.reshape(3, 3, 1, 1))
    conv.bias.assign(np.zeros(1, "float32"))
    out = layer(x[None, :, :, None], training=False).numpy()[0, :, :, 0]
    np.testing.assert_allclose(out, _pytorch_conv_transpose(x, kernel), atol=1e-5)
    # Keras' "same" keeps a different window: the crop is what makes the two agree.
    same = keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same")
    same.build((1, 5, 6, 1))
    same.kernel.assign(kernel.reshape(3, 3, 1, 1))
    assert not np.allclose(
        same(x[None, :, :, None]).numpy()[0, :, :, 0], _pytorch_conv_transpose(x, kernel), atol=1e-3
    )


def test_spectral_norm_rewrites_kernel_on_training_calls_only():
    block = ResBlock(8, 8)
    x = tf.random.stateless_normal((2, 8, 8, 8), seed=(1, 2))
    block(x)
    sn = block.conv1
    before = sn.layer.kernel.numpy().copy()
    block(x, training=False)
    np.testing.assert_array_equal(sn.layer.kernel.numpy(), before)

    def sigma():
        matrix = sn.layer.kernel.numpy().reshape(-1, sn.layer.kernel.shape[-1])
        return np.linalg.svd(matrix, compute_uv=False)[0]

    sn.layer.kernel.assign(3.0 * before)
    assert sigma() > 1.5
    for _ in range(50):
        block(x, training=True)
    # One power iteration per call: sigma converges to 1 (slowly when singular values are close).
    assert sigma() == pytest.approx(1.0, abs=0.01)


def _constant_over_positions(channels, value_seed):
    v = tf.random.stateless_normal((1, 1, 1, channels), seed=(value_seed, 0))
    return tf.tile(v, (2, 4, 4, 1))


def test_attention_formula():
    layer = ShortLongAttention(8)
    x = _constant_over_positions(8, 1)
    f = _constant_over_positions(8, 2)
    visible = tf.cast(tf.random.stateless_uniform((2, 4, 4, 1), seed=(3, 4)) > 0.5, "float32")
    at_init = layer([x, f, visible])
    np.testing.assert_allclose(
        at_init.numpy(), layer.fuse(tf.concat([x, visible * f], -1)).numpy(), atol=1e-6
    )
    layer.gamma.assign(1.0)
    layer.alpha.assign(1.0)
    # Attention rows sum to 1, so features constant over positions are reproduced by A x.
    expected = layer.fuse(tf.concat([2.0 * x, (1.0 - visible) * f + visible * f], -1))
    np.testing.assert_allclose(layer([x, f, visible]).numpy(), expected.numpy(), atol=1e-5)


def test_attention_long_term_copies_only_into_the_hole():
    layer = ShortLongAttention(8)
    x = tf.random.stateless_normal((1, 8, 8, 8), seed=(5, 6))
    f = tf.random.stateless_normal((1, 8, 8, 8), seed=(7, 8))
    all_visible = tf.ones((1, 8, 8, 1))
    base = layer([x, f, all_visible])
    layer.alpha.assign(3.0)
    np.testing.assert_allclose(layer([x, f, all_visible]).numpy(), base.numpy(), atol=1e-6)
    one_hole = tf.tensor_scatter_nd_update(all_visible, [[0, 1, 1, 0]], [0.0])
    without_copy = layer.fuse(tf.concat([x, one_hole * f], -1))
    changed = np.abs(layer([x, f, one_hole]).numpy() - without_copy.numpy()).max(axis=-1)[0]
    assert changed[1, 1] > 1e-3
    # The fusion block's two 3x3 convs spread the copied feature 2 pixels at most.
    assert changed[4:, 4:].max() < 1e-6


def test_resize_upconv_is_nearest_2x_then_a_same_conv_and_paints_no_checkerboard():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 6)).astype("float32")
    kernel = rng.normal(size=(3, 3)).astype("float32")
    layer = UpConv(1, mode="resize")
    layer.build((1, 5, 6, 1))
    conv = layer.conv.layer
    conv.kernel.assign(kernel.reshape(3, 3, 1, 1))
    conv.bias.assign(np.zeros(1, "float32"))
    out = layer(x[None, :, :, None], training=False).numpy()[0, :, :, 0]
    padded = np.pad(np.repeat(np.repeat(x, 2, axis=0), 2, axis=1), 1)
    expected = np.array(
        [[np.sum(padded[i : i + 3, j : j + 3] * kernel) for j in range(12)] for i in range(10)]
    )
    np.testing.assert_allclose(out, expected, atol=1e-5)
    # A constant input: the resize-conv's output is constant inside (every output pixel has the
    # same taps); the transposed conv's alternates between rows (the checkerboard).
    ones = np.ones((1, 5, 6, 1), "float32")
    inside = {}
    for mode in ("resize", "transpose"):
        up = UpConv(1, mode=mode)
        up.build((1, 5, 6, 1))
        up.conv.layer.kernel.assign(np.abs(kernel).reshape(3, 3, 1, 1))
        inside[mode] = up(ones, training=False).numpy()[0, 2:-2, 2:-2, 0]
    assert np.ptp(inside["resize"]) < 1e-5
    assert np.ptp(inside["transpose"]) > 0.1


def test_upconv_names_an_unknown_mode():
    with pytest.raises(ValueError, match="mode='bilinear'.*transpose, resize"):
        UpConv(4, mode="bilinear")


def test_output_head_range_and_reflect_padding():
    head = OutputHead(3)
    out = head(10.0 * tf.random.stateless_normal((1, 4, 4, 5), seed=(1, 1)))
    assert out.shape == (1, 4, 4, 3)
    assert float(tf.reduce_max(tf.abs(out))) <= 1.0


@pytest.mark.parametrize(
    "layer, inputs",
    [
        (ResBlock(8, 4, downsample=True, negative_slope=0.2), [(1, 8, 8, 4)]),
        (ResBlockStart(8), [(1, 8, 8, 3)]),
        (ResDecoderBlock(6, 5), [(1, 4, 4, 7)]),
        (ResDecoderBlock(6, 5, upsample="resize"), [(1, 4, 4, 7)]),
        (UpConv(4), [(1, 4, 4, 3)]),
        (UpConv(4, mode="resize"), [(1, 4, 4, 3)]),
        (OutputHead(3), [(1, 4, 4, 6)]),
        (ShortLongAttention(8), [(1, 4, 4, 8), (1, 4, 4, 8), (1, 4, 4, 1)]),
    ],
)
def test_config_round_trip(layer, inputs):
    tensors = [tf.random.stateless_uniform(s, seed=(i, 9)) for i, s in enumerate(inputs)]
    arg = tensors if len(tensors) > 1 else tensors[0]
    out = layer(arg)
    clone = layer.__class__.from_config(layer.get_config())
    clone(arg)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(arg).numpy(), out.numpy(), atol=1e-6)
    for key, value in layer.get_config().items():
        if key not in ("name", "dtype"):
            assert clone.get_config()[key] == value


def test_spectral_norm_matches_keras_and_survives_a_zero_kernel():
    x = tf.random.stateless_normal((2, 6, 6, 3), seed=(4, 4))
    ours = SpectralNorm(keras.layers.Conv2D(5, 3))
    theirs = keras.layers.SpectralNormalization(keras.layers.Conv2D(5, 3))
    ours.build(x.shape)
    theirs.build(x.shape)
    theirs.set_weights(ours.get_weights())
    for _ in range(3):
        np.testing.assert_allclose(
            ours(x, training=True).numpy(), theirs(x, training=True).numpy(), atol=1e-5
        )
    np.testing.assert_allclose(ours.layer.kernel.numpy(), theirs.layer.kernel.numpy(), atol=1e-6)
    ours.layer.kernel.assign(tf.zeros_like(ours.layer.kernel))
    ours(x, training=True)
    assert np.all(ours.layer.kernel.numpy() == 0.0)
    clone = SpectralNorm.from_config(ours.get_config())
    assert clone.get_config()["epsilon"] == ours.epsilon


def test_spectral_norm_keeps_float32_kernels_under_mixed_precision():
    keras.config.set_dtype_policy("mixed_bfloat16")  # conftest restores the policy after the test
    block = ResBlock(8, 8)
    alone = SpectralNorm(keras.layers.Conv2D(8, 3))
    x = tf.random.stateless_normal((1, 6, 6, 8), seed=(2, 2))
    out = block(x, training=True)
    alone(x, training=True)
    assert out.dtype == tf.bfloat16
    assert block.conv1.layer.compute_dtype == "bfloat16"
    for kernel in (block.conv1.layer.kernel, alone.layer.kernel):
        assert kernel.dtype == "float32"
        rounded = tf.cast(tf.cast(kernel.value, tf.bfloat16), tf.float32).numpy()
        # A kernel rewritten from a bfloat16 read would equal its own bfloat16 rounding.
        assert np.mean(kernel.numpy() != rounded) > 0.9
