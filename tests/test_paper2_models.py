"""Paper 2's generator and critics: Table 1-5 shapes and exact parameter counts at 256x256,
both readings of the critics' depths, the local window, the inference contract, serialization
(including files saved before the layers moved) and mixed precision."""

import importlib
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import assert_keras_round_trip

from tfinpaint import config as config_module
from tfinpaint.config import get_config
from tfinpaint.layers import internals
from tfinpaint.layers.constraints import WeightClip
from tfinpaint.layers.convolution import BinomialBlur2D, DilatedConv2D
from tfinpaint.layers.noise import NoiseInjection
from tfinpaint.layers.normalization import FusedBatchNormalization
from tfinpaint.layers.spectral import SpectralNorm
from tfinpaint.models import paper2, paper2_critics
from tfinpaint.models.paper2 import Paper2Generator
from tfinpaint.models.paper2_critics import Paper2Critic, hole_window

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

PAPER = get_config(2, "paper")

# Table 1 at 256x256: (side, channels) after each conv / deconv (BatchNorm and ReLU keep it).
GENERATOR_SHAPES = [
    (256, 64),
    (128, 128),
    (128, 128),
    (64, 256),
    (64, 256),
    (64, 256),
    (64, 256),
    (64, 256),
    (64, 256),
    (64, 256),
    (128, 128),
    (128, 128),
    (256, 64),
    (256, 32),
    (256, 3),
]

# Tables 2-5 at 256x256 (depths "tables"): parameters, the view's side, the side of each conv's
# output.
CRITICS = {
    "local": (17_416_833, 128, [64, 32, 16, 8, 4, 2], [64, 128, 256, 512, 512, 512]),
    "global": (10_893_441, 256, [128, 64, 32, 16, 8], [64, 128, 256, 512, 512]),
    "x2": (10_868_865, 128, [64, 32, 16, 8, 4], [64, 128, 256, 512, 512]),
    "x4": (4_314_753, 64, [32, 16, 8, 4], [64, 128, 256, 512]),
}


def _n_params(variables):
    return sum(int(np.prod(v.shape)) for v in variables)


def _symbolic_shapes(layers, input_shape):
    x = keras.KerasTensor(input_shape)
    shapes = []
    for layer in layers:
        x = layer(x)
        shapes.append((layer.name, tuple(x.shape)))
    return shapes


def _inputs(batch=2, height=32, width=32, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.random((batch, height, width, 3), dtype=np.float32)
    mask = np.zeros((batch, height, width, 1), np.float32)
    mask[:, height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = 1.0
    return {"image": image, "mask": mask}


@pytest.fixture(scope="module")
def paper_generator():
    return paper2.build_generator(PAPER)


def test_generator_parameter_counts_at_paper_size(paper_generator):
    assert paper_generator.count_params() == 4_895_875
    assert _n_params(paper_generator.trainable_variables) == 4_890_947
    plain = Paper2Generator(batchnorm=False)
    plain.build()
    assert plain.count_params() == 4_886_019


def test_generator_layer_shapes_at_256(paper_generator):
    shapes = _symbolic_shapes(paper_generator.network.layers, (None, 256, 256, 4))
    convs = [shape for name, shape in shapes if name.startswith(("conv", "deconv"))]
    assert convs == [(None, side, side, c) for side, c in GENERATOR_SHAPES]
    # Every conv but the output one is followed by BatchNorm and ReLU of the same shape.
    assert len(shapes) == 14 * 3 + 1
    assert [layer.dilation_rate for layer in paper_generator.network.layers if layer.name.startswith("conv")][
        5:9
    ] == [
        (2, 2),
        (4, 4),
        (8, 8),
        (16, 16),
    ]


def test_resize_upsampling_keeps_table_1_shapes_with_3x3_convs():
    cfg = get_config(2, "paper", ["model.decoder_upsample=resize"])
    generator = paper2.build_generator(cfg)
    # Each 4x4 deconv (256 -> 128, 128 -> 64 channels) becomes a 3x3 conv: 7 * (256*128 + 128*64)
    # fewer weights.
    assert generator.count_params() == 4_895_875 - 7 * (256 * 128 + 128 * 64)
    shapes = _symbolic_shapes(generator.network.layers, (None, 256, 256, 4))
    convs = [shape for name, shape in shapes if name.startswith("conv")]
    assert convs == [(None, side, side, c) for side, c in GENERATOR_SHAPES]
    assert [name for name, _ in shapes if name.startswith(("up", "deconv"))] == ["up11", "up13"]


def test_resize_upsampling_has_no_checkerboard_on_a_constant_input():
    constant = tf.ones([1, 8, 8, 16])
    layers = {
        mode: {layer.name: layer for layer in Paper2Generator(width=8, upsample=mode).network.layers}
        for mode in ("transpose", "resize")
    }
    resized = layers["resize"]["conv11"](layers["resize"]["up11"](constant)).numpy()[0, 2:-2, 2:-2]
    transposed = layers["transpose"]["deconv11"](constant).numpy()[0, 2:-2, 2:-2]
    # Away from the border every output pixel has the same taps; a stride-2 4x4 transposed conv
    # gives even and odd pixels different ones, a period-2 pattern.
    np.testing.assert_allclose(resized, np.broadcast_to(resized[:1, :1], resized.shape), rtol=1e-5)
    assert np.abs(transposed[0, 0] - transposed[0, 1]).max() > 1e-3
    np.testing.assert_allclose(transposed[0, 0], transposed[2, 2], rtol=1e-5)


def test_noise_inputs_start_as_the_identity_then_vary_in_training_only():
    inputs = _inputs(batch=2, height=32, width=32)
    plain = Paper2Generator(width=8, name="generator")
    noisy = Paper2Generator(width=8, noise=True, name="generator")
    plain.build()
    noisy.build()
    copied = {w.path: w for w in plain.weights}
    added = [w for w in noisy.weights if w.path not in copied]
    for w in noisy.weights:
        if w.path in copied:
            w.assign(copied[w.path])
    # One noise layer after each decoder row's BatchNorm, its scales zero.
    assert [w.path.split("/")[-2] for w in added if w.name == "scale"] == [
        "noise11",
        "noise12",
        "noise13",
        "noise14",
    ]
    for training in (False, True):
        np.testing.assert_array_equal(plain(inputs, training=training), noisy(inputs, training=training))
    for w in added:
        if w.name == "scale":
            w.assign(tf.fill(w.shape, 0.5))
    np.testing.assert_array_equal(noisy(inputs), noisy(inputs))
    assert np.abs(noisy(inputs) - plain(inputs)).max() > 1e-3
    assert np.abs(noisy(inputs, training=True) - noisy(inputs, training=True)).max() > 1e-3
    cfg = get_config(2, "demo", ["model.generator_noise=true"])
    assert paper2.build_generator(cfg).noise


def test_noise_pattern_repeats_over_any_input_size():
    layer = NoiseInjection(tile=4, seed=3)
    layer.build((None, None, None, 2))
    layer.scale.assign([1.0, -1.0])
    noise = layer(tf.zeros([1, 6, 9, 2])).numpy()[0]
    pattern = layer.pattern.numpy()[:, :, 0]
    np.testing.assert_allclose(noise[:4, :4, 0], pattern)
    np.testing.assert_allclose(noise[4:6, 4:8, 1], -pattern[:2])
    assert NoiseInjection.from_config(layer.get_config()).get_config() == layer.get_config()
    with pytest.raises(ValueError, match="NoiseInjection tile=0: expected a positive integer"):
        NoiseInjection(tile=0)


def test_generator_rejects_an_unknown_upsampling():
    with pytest.raises(ValueError, match="generator upsample='bilinear': expected one of transpose, resize"):
        Paper2Generator(width=8, upsample="bilinear")


@pytest.mark.parametrize("role", list(CRITICS))
def test_critic_parameter_counts_and_shapes_at_256(role):
    params, view_side, sides, widths = CRITICS[role]
    critic = Paper2Critic(role, 256)
    critic.build()
    assert critic.count_params() == params
    image = tf.zeros([1, 256, 256, 3])
    mask = tf.pad(tf.ones([1, 128, 128, 1]), [[0, 0], [64, 64], [64, 64], [0, 0]])
    assert tuple(critic.view(image, mask).shape) == (1, view_side, view_side, 3)
    shapes = _symbolic_shapes(critic.network.layers, (None, view_side, view_side, 3))
    convs = [shape for name, shape in shapes if name.startswith("conv")]
    assert convs == [(None, s, s, w) for s, w in zip(sides, widths)]
    assert shapes[-1] == ("score", (None, 1))


# GLCIC's reading (depths "glcic"): local and global swap depths, every critic ends in 4x4x512.
GLCIC_CRITICS = {
    "local": (10_868_865, [64, 32, 16, 8, 4]),
    "global": (17_422_977, [128, 64, 32, 16, 8, 4]),
    "x2": (10_868_865, [64, 32, 16, 8, 4]),
    "x4": (4_314_753, [32, 16, 8, 4]),
}


@pytest.mark.parametrize("role", list(GLCIC_CRITICS))
def test_glcic_critic_depths_end_every_critic_in_4x4x512(role):
    params, sides = GLCIC_CRITICS[role]
    critic = Paper2Critic(role, 256, depths="glcic")
    critic.build()
    assert critic.count_params() == params
    shapes = _symbolic_shapes(critic.network.layers, (None, critic.view_size, critic.view_size, 3))
    convs = [shape for name, shape in shapes if name.startswith("conv")]
    assert [s[1] for s in convs] == sides and convs[-1] == (None, 4, 4, 512)
    with pytest.raises(ValueError, match="depths='deep'"):
        Paper2Critic(role, 256, depths="deep")


def test_critic_names_agree_with_the_config():
    assert tuple(paper2_critics.CRITIC_DOWNSAMPLE) == config_module.CRITIC_ROLES
    assert tuple(paper2_critics.CRITIC_WIDTHS) == config_module.CRITIC_DEPTHS


def test_hole_window_is_exactly_the_centre_hole():
    inputs = _inputs(batch=3, height=32, width=32)
    window = hole_window(inputs["image"], inputs["mask"], 16)
    np.testing.assert_array_equal(window.numpy(), inputs["image"][:, 8:24, 8:24])


def test_hole_window_centres_on_random_holes_and_stays_inside():
    image = np.random.default_rng(1).random((4, 32, 32, 3), dtype=np.float32)
    mask = np.zeros((4, 32, 32, 1), np.float32)
    mask[0, 0:4, 1:6] = 1  # top-left corner: shifted inside to (0, 0)
    mask[1, 28:32, 25:31] = 1  # bottom-right corner: shifted to (16, 16)
    mask[2, 10:14, 18:22] = 1  # centre (12, 20): window starts at (4, 12)
    mask[3, 5:7, 2:4] = 1
    mask[3, 20:22, 9:11] = 1  # two blobs: the bounding box rows 5-21, cols 2-10 -> centre (13, 6)
    window = hole_window(tf.constant(image), tf.constant(mask), 16).numpy()
    for i, (top, left) in enumerate([(0, 0), (16, 16), (4, 12), (5, 0)]):
        np.testing.assert_array_equal(window[i], image[i, top : top + 16, left : left + 16])


def test_hole_window_gradient_reaches_only_the_window():
    inputs = _inputs(batch=1, height=32, width=32)
    image = tf.constant(inputs["image"])
    with tf.GradientTape() as tape:
        tape.watch(image)
        total = tf.reduce_sum(hole_window(image, inputs["mask"], 16))
    grad = tape.gradient(total, image).numpy()
    expected = np.zeros_like(grad)
    expected[:, 8:24, 8:24] = 1.0
    np.testing.assert_array_equal(grad, expected)


def test_generator_completes_any_multiple_of_4():
    generator = Paper2Generator(width=8)
    inputs = _inputs(batch=2, height=36, width=44)
    out = generator(inputs, training=False)
    assert out.dtype == tf.float32 and tuple(out.shape) == (2, 36, 44, 3)
    out = out.numpy()
    known = inputs["mask"][..., 0] == 0
    np.testing.assert_array_equal(out[known], inputs["image"][known])
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert generator.size_multiple == 4 and generator.max_side is None


def test_generator_rejects_a_side_not_a_multiple_of_4():
    generator = Paper2Generator(width=8)
    with pytest.raises(ValueError, match="30x32; its height and width must be multiples of 4"):
        generator(_inputs(height=30, width=32))
    with pytest.raises(ValueError, match="expected a dict"):
        generator(tf.zeros([1, 32, 32, 4]))


def test_critic_rejects_bad_inputs():
    with pytest.raises(ValueError, match="critic role 'middle'"):
        Paper2Critic("middle", 64)
    critic = Paper2Critic("global", 32, width=8)
    with pytest.raises(ValueError, match="expected images of 32x32"):
        critic({"image": tf.zeros([1, 64, 64, 3])})
    with pytest.raises(ValueError, match="needs inputs\\['mask'\\]"):
        Paper2Critic("local", 32, width=8)({"image": tf.zeros([1, 32, 32, 3])})


def test_weight_clip_constraint():
    clip = WeightClip(0.01)
    np.testing.assert_allclose(
        clip(tf.constant([-1.0, -0.005, 0.0, 0.2])).numpy(), [-0.01, -0.005, 0.0, 0.01]
    )
    assert WeightClip.from_config(clip.get_config()).clip_value == 0.01
    with pytest.raises(ValueError, match="clip_value=0"):
        WeightClip(0)


def test_critics_carry_the_clip_constraint_on_every_weight_and_start_clipped():
    cfg = get_config(2, "demo", ["model.critic_width=8", "data.image_size=32", "model.clip_value=0.02"])
    critics = paper2_critics.build_critics(cfg)
    assert list(critics) == ["local", "global", "x2", "x4"]
    for critic in critics.values():
        for v in critic.trainable_variables:
            assert isinstance(v.constraint, WeightClip) and v.constraint.clip_value == 0.02
            # Clipped once when built: Glorot weights reach several times the bound.
            assert np.abs(v.numpy()).max() <= np.float32(0.02)
    # The kernels were clipped, not zero: most reach the bound.
    kernel = critics["global"].network.layers[0].kernel.numpy()
    assert np.mean(np.abs(kernel) == np.float32(0.02)) > 0.5
    unclipped = Paper2Critic("global", 32, width=8, clip_value=0.02)
    unclipped.build()
    assert np.abs(unclipped.network.layers[0].kernel.numpy()).max() > 5 * 0.02


def test_spectral_critics_normalise_every_layer_and_the_patch_critic_scores_a_map():
    cfg = get_config(
        2,
        "demo",
        ["model.critic_width=8", "data.image_size=64", "model.critics=patch,x2"]
        + ["model.critic_regularizer=spectral"],
    )
    critics = paper2_critics.build_critics(cfg)
    inputs = {"image": tf.random.uniform([2, 64, 64, 3], seed=1)}
    # pix2pix's 70x70 PatchGAN: one score per patch, a 6x6 map at 64 px; four hidden activations.
    patch = critics["patch"]
    assert patch(inputs).shape == (2, 6, 6, 1) == patch.compute_output_shape({"image": (2,)})
    assert [f.shape[-1] for f in patch.features(inputs)] == [8, 16, 32, 32]
    assert critics["x2"](inputs).shape == (2, 1)
    for critic in critics.values():
        assert all(v.constraint is None for v in critic.variables)
        kernels = [v for v in critic.trainable_variables if "kernel" in v.path]
        wrapped = [layer for layer in critic._flatten_layers() if isinstance(layer, SpectralNorm)]
        assert len(wrapped) == len(kernels) > 0, critic.name
        for layer in wrapped:
            layer.kernel.assign(5.0 * layer.kernel)  # top singular values of 3-6
        for _ in range(20):  # each a power iteration and the rewrite kernel / sigma
            critic(inputs, training=True)
        for layer in wrapped:
            top = np.linalg.svd(layer.kernel.numpy().reshape(-1, layer.kernel.shape[-1]), compute_uv=False)[0]
            assert top == pytest.approx(1.0, rel=0.1), (critic.name, layer.name, top)
    with pytest.raises(ValueError, match="'patch' with clip_value=0.01"):
        Paper2Critic("patch", 64, clip_value=0.01)


def test_build_critics_builds_the_configured_subset():
    cfg = get_config(2, "demo", ["model.critic_width=8", "data.image_size=32", "model.critics=global, local"])
    assert list(paper2_critics.build_critics(cfg)) == ["global", "local"]


def _period_two_amplitude(grad):
    """How much a [S, S] gradient differs between even and odd rows and columns, relative to its
    mean magnitude (0 = no period-2 grid)."""
    rows = grad[0::2].mean() - grad[1::2].mean()
    cols = grad[:, 0::2].mean() - grad[:, 1::2].mean()
    return max(abs(rows), abs(cols)) / np.abs(grad).mean()


def test_a_blur_before_a_strided_conv_removes_the_period_two_grid_from_its_gradient():
    """The rule behind `critic_antialias`: a 5x5 stride-2 conv's gradient on its input is uneven
    between even and odd pixels; after the [1, 2, 1] blur it has no period-2 component."""
    init = keras.initializers.RandomNormal(seed=0)
    conv = keras.layers.Conv2D(1, 5, strides=2, padding="same", kernel_initializer=init)
    x = tf.zeros([1, 32, 32, 1])
    shares = []
    for blur in (None, BinomialBlur2D()):
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(conv(x if blur is None else blur(x)))
        shares.append(_period_two_amplitude(tape.gradient(total, x).numpy()[0, 4:-4, 4:-4, 0]))
    assert shares[0] > 0.1 and shares[1] < 1e-5


def test_binomial_blur_keeps_a_constant_halves_and_round_trips(tmp_path):
    np.testing.assert_allclose(BinomialBlur2D()(tf.fill([1, 8, 8, 2], 0.7)).numpy(), 0.7, rtol=1e-6)
    assert tuple(BinomialBlur2D(strides=2)(tf.zeros([2, 15, 16, 3])).shape) == (2, 8, 8, 3)
    with pytest.raises(ValueError, match="strides=3: expected 1 or 2"):
        BinomialBlur2D(strides=3)


@pytest.mark.parametrize("role", ["local", "x4"])
def test_antialiased_critics_have_the_papers_weights_and_smooth_views(role, tmp_path):
    paper = Paper2Critic(role, 64, width=8)
    critic = Paper2Critic(role, 64, width=8, antialias=True, name="critic_aa")
    for c in (paper, critic):
        c.build()
    # The blur has no weights: the same critic, read through a low-pass before each subsampling.
    assert [v.shape for v in critic.trainable_variables] == [v.shape for v in paper.trainable_variables]
    inputs = _inputs(batch=2, height=64, width=64)
    assert tuple(critic(inputs).shape) == (2, 1)
    assert_keras_round_trip(critic, inputs, str(tmp_path))
    image = tf.constant(inputs["image"])
    with tf.GradientTape() as tape:
        tape.watch(image)
        total = tf.reduce_sum(critic.view(image, inputs["mask"]))
    grad = tape.gradient(total, image).numpy()[0, 8:-8, 8:-8, 0]
    if role == "x4":
        # Average pooling's gradient is one value per 4x4 block; the blurred halvings' is flat.
        np.testing.assert_allclose(grad, grad.mean(), rtol=1e-5)
    cfg = get_config(2, "demo", ["model.critic_width=8", "data.image_size=32", "model.critic_antialias=true"])
    assert all(c.antialias for c in paper2_critics.build_critics(cfg).values())


def test_an_antialiased_generator_keeps_the_weights_and_no_8px_component_reaches_its_decoder():
    plain = Paper2Generator(width=8, name="generator")
    blurred = Paper2Generator(width=8, antialias=True, name="generator")
    plain.build()
    blurred.build()
    # The same weights by path: `--init-from` a generator without the blur fills every one.
    assert [(w.path, w.shape) for w in blurred.weights] == [(w.path, w.shape) for w in plain.weights]
    layers = blurred.network.layers
    blur = [i for i, layer in enumerate(layers) if isinstance(layer, BinomialBlur2D)]
    assert [layers[i - 1].name for i in blur] == ["relu10"]
    # A period-2 pattern on the 1/4-resolution middle (8 px at 128 px) changes nothing the decoder
    # sees away from the map's edges; without the blur it would pass straight in.
    middle = tf.random.uniform([1, 8, 8, 4 * 8], seed=1)
    checker = np.where(np.add.outer(np.arange(8), np.arange(8)) % 2 == 0, 0.3, -0.3)[None, :, :, None]
    seen = layers[blur[0]](middle).numpy(), layers[blur[0]](middle + checker).numpy()
    np.testing.assert_allclose(seen[0][:, 1:-1, 1:-1], seen[1][:, 1:-1, 1:-1], atol=1e-6)
    cfg = get_config(2, "demo", ["model.generator_antialias=true"])
    assert paper2.build_generator(cfg).antialias


@pytest.mark.parametrize(
    "upsample, noise, antialias",
    [
        ("transpose", False, False),
        ("resize", False, False),
        ("transpose", True, False),
        ("transpose", False, True),
    ],
)
def test_keras_round_trip_gives_identical_outputs(tmp_path, upsample, noise, antialias):
    generator = Paper2Generator(
        width=8, upsample=upsample, noise=noise, antialias=antialias, name="generator"
    )
    critic = Paper2Critic("local", 32, width=8, clip_value=0.05, depths="glcic")
    inputs = _inputs(batch=2, height=32, width=32)
    # A training call moves the BatchNorm statistics away from their initial values.
    generator(inputs, training=True)
    assert_keras_round_trip(generator, inputs, str(tmp_path))
    loaded_critic = assert_keras_round_trip(critic, inputs, str(tmp_path))
    assert all(v.constraint.clip_value == 0.05 for v in loaded_critic.trainable_variables)
    assert Paper2Generator.from_config(generator.get_config()).get_config() == generator.get_config()


def test_a_generator_saved_before_the_layers_moved_loads_with_the_same_outputs():
    """tests/data/legacy_paper2_generator.keras was saved by the code of main at d240221, when
    the layers lived in tfinpaint/models/paper2.py (as the shipped default weights were)."""
    from tfinpaint.inference import load_generator

    expected = np.load(os.path.join(DATA, "legacy_generators.npz"))
    generator = load_generator(os.path.join(DATA, "legacy_paper2_generator.keras"))
    assert isinstance(generator, Paper2Generator) and generator.train_size == 32
    out = generator({"image": expected["image"], "mask": expected["mask"]}, training=False)
    np.testing.assert_allclose(out.numpy(), expected["paper2"], atol=1e-6)
    layers = {type(layer) for layer in generator.network.layers}
    assert {DilatedConv2D, FusedBatchNormalization} <= layers


def test_registered_names_are_unchanged():
    # Saved `.keras` files name their classes by these; renaming one breaks every saved model.
    for module in ("tfinpaint.models.paper1", "tfinpaint.training.wgan_clip", "tfinpaint.training.wgan_gp"):
        importlib.import_module(module)  # registers the module's classes

    names = [
        "Paper2Generator",
        "Paper2Critic",
        "WeightClip",
        "DilatedConv2D",
        "NoiseInjection",
        "FusedBatchNormalization",
        "FusedAdam",
        "Paper2GAN",
        "Paper1Generator",
        "Paper1Encoder",
        "Paper1Decoder",
        "PatchCritic",
        "Paper1GAN",
        "SpectralNorm",
        "ShortLongAttention",
        "ResBlock",
        "ResBlockStart",
        "ResDecoderBlock",
        "OutputHead",
        "UpConv",
    ]
    for name in names:
        assert keras.saving.get_registered_object(f"tfinpaint>{name}") is not None, name


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_outputs_stay_float32(precision):
    keras.config.set_dtype_policy(precision)  # conftest restores the policy after the test
    generator = Paper2Generator(width=8)
    critic = Paper2Critic("x2", 32, width=8)
    inputs = _inputs(batch=2, height=32, width=32)
    out = generator(inputs, training=False)
    assert out.dtype == tf.float32
    known = inputs["mask"][..., 0] == 0
    np.testing.assert_array_equal(out.numpy()[known], inputs["image"][known])
    assert generator.network.layers[0].compute_dtype == precision.split("_")[1]
    score = critic({"image": out})
    assert score.dtype == tf.float32 and np.isfinite(score.numpy()).all()
    assert all(v.dtype == "float32" for v in generator.weights + critic.weights)


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_fused_batch_norm_matches_keras_batch_norm(precision):
    keras.config.set_dtype_policy(precision)  # conftest restores the policy after the test
    rng = np.random.default_rng(3)
    x = tf.constant(rng.normal(2.0, 3.0, (4, 6, 5, 7)).astype(np.float32))
    weights = tf.constant(rng.normal(0.0, 1.0, (4, 6, 5, 7)).astype(np.float32))
    layers = [
        cls(synchronized=True, momentum=0.9)
        for cls in (keras.layers.BatchNormalization, FusedBatchNormalization)
    ]
    results = []
    for layer in layers:
        layer.build(x.shape)
        layer.gamma.assign(np.linspace(0.5, 1.5, 7))
        layer.beta.assign(np.linspace(-1.0, 1.0, 7))
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.cast(y, "float32") * weights)
        grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
        results.append([y, layer.moving_mean, layer.moving_variance, *grads, layer(x, training=False)])
    assert results[1][0].dtype == results[0][0].dtype
    graph = tf.function(lambda: layers[1](x, training=True)).get_concrete_function().graph
    assert "FusedBatchNormV3" in {op.type for op in graph.get_operations()}
    tol = 1e-5 if precision == "float32" else 3e-2
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(
            np.asarray(tf.cast(got, "float32")), np.asarray(tf.cast(want, "float32")), rtol=tol, atol=tol
        )


@pytest.mark.parametrize("rate", [2, 16])
def test_dilated_conv_matches_keras_conv(rate):
    rng = np.random.default_rng(4)
    x = tf.constant(rng.normal(size=(2, 32, 32, 5)).astype(np.float32))
    layers = [cls(6, 3, dilation_rate=rate, padding="same") for cls in (keras.layers.Conv2D, DilatedConv2D)]
    results = []
    for layer in layers:
        layer.build(x.shape)
        layer.set_weights(layers[0].get_weights())
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(tf.square(y))
        results.append([y, *tape.gradient(loss, [x, layer.kernel, layer.bias])])
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-4)
    graph = tf.function(lambda: layers[1](x)).get_concrete_function().graph
    native = internals.native_dilated_conv(tf.float32)
    assert ("SpaceToBatchND" in {op.type for op in graph.get_operations()}) != native


@pytest.mark.parametrize("depths", list(paper2_critics.CRITIC_WIDTHS))
@pytest.mark.parametrize("size", [32, 64, 128])
def test_no_critic_conv_strides_over_a_1x1_input(depths, size):
    """TF 2.21's bfloat16 kernel gradient of a stride-2 conv on a 1x1 input holds garbage (the
    tiny bf16 run went NaN): the critics' convs that see 1x1 have stride 1, the same function."""
    for role in config_module.PAPER2_CRITICS:
        critic = Paper2Critic(role, size, width=8, depths=depths)
        critic.build()
        side = critic.view_size
        for layer in critic.network.layers:
            if isinstance(layer, keras.layers.Conv2D):
                assert layer.strides == ((1, 1) if side == 1 else (2, 2)), (role, layer.name, side)
                side = layer.compute_output_shape((None, side, side, 3))[1]


def test_a_conv_on_a_1x1_input_is_the_same_function_at_stride_1_and_2():
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(3, 1, 1, 4)).astype(np.float32))
    kernel = tf.constant(rng.normal(size=(5, 5, 4, 6)).astype(np.float32))
    outputs = [tf.nn.conv2d(x, kernel, stride, "SAME") for stride in (1, 2)]
    np.testing.assert_array_equal(outputs[0].numpy(), outputs[1].numpy())
