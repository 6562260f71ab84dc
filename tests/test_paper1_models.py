"""Paper 1's networks: exact parameter counts, shapes at 256, the critic's 70x70 receptive
field, the inference generator's contract, `.keras` round trips."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import assert_keras_round_trip

from tfinpaint import models
from tfinpaint.config import get_config
from tfinpaint.models import paper1

TINY = ["data.image_size=32", "model.width=4", "model.latent_channels=8", "model.critic_width=8"]


def n_params(model):
    return int(sum(np.prod(v.shape) for v in model.trainable_variables))


@pytest.fixture(scope="module")
def paper_generator():
    return models.build_generator(get_config(1, "paper"))


@pytest.fixture(scope="module")
def tiny_generator():
    return paper1.build_generator(get_config(1, "demo", TINY))


def _batch(size=32, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.random((batch, size, size, 3), dtype=np.float32)
    mask = np.zeros((batch, size, size, 1), np.float32)
    mask[:, size // 4 : 3 * size // 4, size // 8 : size // 2 + size // 8] = 1.0
    return {"image": image, "mask": mask}


def test_parameter_counts_at_paper_size(paper_generator):
    assert n_params(paper_generator.encoder) == 2_045_824
    assert n_params(paper_generator.decoder) == 2_374_016
    model = get_config(1, "paper").model
    assert n_params(paper1.build_critic(model, "d1")) == 2_764_737
    picnet = get_config(1, "paper", ["model.critic_spectral_norm=true"]).model
    assert n_params(paper1.build_critic(picnet, "d1")) == 1_711_104
    six = get_config(1, "paper", ["model.infer_blocks=6"])
    assert n_params(paper1.build_generator(six).encoder) == 3_604_224


def test_separate_encoders_double_the_trunk():
    shared = paper1.Paper1Encoder(4, 8, shared_encoder=True)
    separate = paper1.Paper1Encoder(4, 8, shared_encoder=False)
    for encoder in (shared, separate):
        encoder.build((None, None, None, 3))
    trunk = sum(n_params(b) for b in shared.trunk)
    assert n_params(separate) == n_params(shared) + trunk
    x = tf.random.stateless_uniform((1, 32, 32, 3), seed=(1, 1))
    a, _ = separate.posterior(x)
    separate.posterior_trunk[0].conv1.layer.kernel.assign_add(1.0)
    b, _ = separate.posterior(x)
    assert not np.allclose(a.numpy(), b.numpy())
    # Encoder configs saved when the option was called `shared_trunk` load the same.
    legacy = {**separate.get_config(), "shared_trunk": False}
    del legacy["shared_encoder"]
    assert paper1.Paper1Encoder.from_config(legacy).shared_encoder is False


def test_shapes_at_paper_size(paper_generator):
    x = tf.zeros((1, 256, 256, 3))
    mean, std, fused, feature = paper_generator.encoder(x)
    assert mean.shape == std.shape == (1, 8, 8, 128)
    assert fused.shape == (1, 8, 8, 128) and feature.shape == (1, 32, 32, 128)
    assert float(tf.reduce_min(std)) > 0.0
    post_mean, post_std = paper_generator.encoder.posterior(x)
    assert post_mean.shape == post_std.shape == (1, 8, 8, 128)
    outputs = paper_generator.decoder([mean, fused, feature, tf.ones((1, 32, 32, 1))])
    assert [tuple(o.shape) for o in outputs] == [(1, s, s, 3) for s in (32, 64, 128, 256)]
    critic = paper1.build_critic(get_config(1, "paper").model, "d1")
    assert critic(x).shape == (1, 30, 30, 1)


def _positive_critic(**kwargs):
    critic = paper1.PatchCritic(width=4, **kwargs)
    critic.build((None, None, None, 3))
    for v in critic.trainable_variables:
        v.assign(tf.fill(v.shape, 0.05))
    return critic


@pytest.mark.parametrize("residual", [False, True])
def test_critic_receptive_field_is_70(residual):
    # Positive weights and leaky activations make every path's gradient positive, so the
    # gradient's support is exactly the receptive field (no cancellations).
    critic = _positive_critic(residual=residual)
    x = tf.random.stateless_uniform((1, 160, 160, 3), seed=(3, 3))
    row, col = 6, 7
    with tf.GradientTape() as tape:
        tape.watch(x)
        patch = critic(x)[0, row, col, 0]
    support = np.argwhere(np.abs(tape.gradient(patch, x).numpy()[0]).sum(-1) > 0)
    (top, left), (bottom, right) = support.min(0), support.max(0)
    assert (bottom - top + 1, right - left + 1) == (70, 70)
    assert len(support) == 70 * 70
    # Three stride-2 convs: patches are 8 pixels apart; padding shifts the window by 23.
    assert (top, left) == (8 * row - 23, 8 * col - 23)


def test_generator_completion_contract(tiny_generator):
    batch = _batch()
    out = tiny_generator(batch)
    assert out.dtype == tf.float32 and out.shape == (2, 32, 32, 3)
    out = out.numpy()
    assert out.min() >= 0.0 and out.max() <= 1.0
    outside = batch["mask"][..., 0] == 0
    np.testing.assert_array_equal(out[outside], batch["image"][outside])
    np.testing.assert_array_equal(tiny_generator(batch).numpy(), out)
    assert tiny_generator.size_multiple == 32 and tiny_generator.max_side == 512


def test_samples_differ_inside_the_hole_only(tiny_generator):
    batch = _batch()
    hole = batch["mask"][..., 0] == 1
    first = tiny_generator.sample(batch, seed=1).numpy()
    again = tiny_generator.sample(batch, seed=tf.constant(1, tf.int64)).numpy()
    second = tiny_generator.sample(batch, seed=2).numpy()
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first[~hole], second[~hole])
    np.testing.assert_array_equal(first[~hole], batch["image"][~hole])
    assert np.abs(first[hole] - second[hole]).mean() > 1e-4


def test_generator_rejects_bad_sizes(tiny_generator):
    with pytest.raises(ValueError, match="multiples of 32"):
        tiny_generator(_batch(size=48))
    small = paper1.Paper1Generator(width=4, latent_channels=8, max_side=64)
    with pytest.raises(ValueError, match="max_side=64.*tfinpaint.inference"):
        small(_batch(size=96, batch=1))
    with pytest.raises(ValueError, match="'mask'"):
        tiny_generator(
            {"image": np.zeros((1, 32, 32, 3), np.float32), "mask": np.zeros((1, 32, 32, 3), np.float32)}
        )
    with pytest.raises(ValueError, match="dict with 'image'"):
        tiny_generator(np.zeros((1, 32, 32, 3), np.float32))


def test_generator_size_checks_run_in_graphs_with_unknown_sizes():
    # An exported signature sees [None, None, None, 3]: the checks must be graph ops there.
    small = paper1.build_generator(get_config(1, "demo", TINY + ["model.max_side=64"]))
    run = tf.function(
        small,
        input_signature=[
            {
                "image": tf.TensorSpec([None, None, None, 3], tf.float32),
                "mask": tf.TensorSpec([None, None, None, 1], tf.float32),
            }
        ],
    )
    assert run(_batch(size=64, batch=1)).shape == (1, 64, 64, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="max_side=64"):
        run(_batch(size=96, batch=1))
    with pytest.raises(tf.errors.InvalidArgumentError, match="multiples of 32"):
        run(_batch(size=40, batch=1))


def test_keras_round_trip_gives_identical_outputs(tiny_generator, tmp_path):
    batch = _batch()
    assert_keras_round_trip(tiny_generator, batch, str(tmp_path))
    assert_keras_round_trip(tiny_generator, batch, str(tmp_path), call=lambda m, x: m.sample(x, 3))


def test_critic_round_trip(tmp_path):
    critic = paper1.PatchCritic(width=4, spectral_norm=True, residual=True)
    x = tf.random.stateless_uniform((1, 32, 32, 3), seed=(5, 5))
    assert_keras_round_trip(critic, x, str(tmp_path))


def test_get_config_records_passed_values():
    generator = paper1.build_generator(
        get_config(
            1,
            "demo",
            TINY
            + [
                "model.infer_blocks=2",
                "model.shared_encoder=false",
                "model.max_side=128",
                "model.decoder_upsample=resize",
            ],
        )
    )
    config = generator.get_config()
    assert (
        config["width"],
        config["latent_channels"],
        config["infer_blocks"],
        config["shared_encoder"],
        config["upsample"],
        config["max_side"],
    ) == (4, 8, 2, False, "resize", 128)
    assert generator.decoder.scale_blocks[-1].up.mode == "resize"
    assert paper1.Paper1Generator.from_config(config).get_config() == config


def test_mixed_precision_outputs_float32_and_keeps_known_pixels():
    keras.config.set_dtype_policy("mixed_bfloat16")  # conftest restores the policy after the test
    generator = paper1.build_generator(get_config(1, "demo", TINY))
    critic = paper1.build_critic(get_config(1, "demo", TINY).model, "d1")
    batch = _batch()
    out = generator(batch)
    assert out.dtype == tf.float32
    outside = batch["mask"][..., 0] == 0
    np.testing.assert_array_equal(out.numpy()[outside], batch["image"][outside])
    assert generator.decoder.compute_dtype == "bfloat16"
    assert critic(batch["image"]).dtype == tf.float32
