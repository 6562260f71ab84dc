"""Paper 1's training model: a tiny real run learns, 2 replicas match 1 device, noise is keyed
by example index. Compiled steps are shared through module-scoped fixtures (tracing one step
costs tens of seconds here)."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfinpaint import metrics
from tfinpaint.config import get_config
from tfinpaint.training import noise, wgan_gp
from tfinpaint.training.distribute import make_step_function, make_strategy

SIZE, BATCH, N_CRITIC = 32, 8, 2
# SGD (Adam's update is about the sign of a gradient, so float noise between 1 and 2 replicas
# becomes whole steps), slow enough that the KL terms stay stable: 3x this generator rate
# diverged with the summed KL.
LEARNING_RATES = {"generator": 1.5e-3, "d1": 5e-4, "d2": 5e-4}
CONFIG = get_config(
    1,
    "demo",
    [
        f"data.image_size={SIZE}",
        "model.width=4",
        "model.latent_channels=8",
        "model.critic_width=8",
        f"model.n_critic={N_CRITIC}",
        "model.kl_reduction=sum",
    ],
)


@pytest.fixture(scope="module")
def batch(photo_paths):
    images = []
    for path in photo_paths[:BATCH]:
        with Image.open(path) as im:
            side = min(im.size)
            im = im.convert("RGB").crop((0, 0, side, side)).resize((SIZE, SIZE), Image.BILINEAR)
            images.append(np.asarray(im, np.float32) / 255.0)
    mask = np.zeros((BATCH, SIZE, SIZE, 1), np.float32)
    mask[:, 8:24, 8:24] = 1.0
    return {"image": np.stack(images), "mask": mask, "index": np.arange(BATCH, dtype=np.int64)}


def _trainer(strategy_name, batch):
    keras.utils.set_random_seed(0)
    strategy = make_strategy(strategy_name)
    with strategy.scope():
        gan = wgan_gp.build_gan(CONFIG, BATCH)
        gan.build_optimizers(lambda name: keras.optimizers.SGD(LEARNING_RATES[name]))
    step = make_step_function(strategy, gan.train_one_step)
    iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
    return gan, lambda: step(iterator)


def _weights(gan):
    return [v.numpy() for v in gan.generator.weights + gan.critics["d1"].weights + gan.critics["d2"].weights]


def _l1(logs):
    return float(logs["l1_rec"]) + float(logs["l1_gen"])


@pytest.fixture(scope="module")
def one_device(batch):
    """A one-device trainer's first 3 steps (logs, weights, counters), then its L1 over 3 more
    steps after 60 further ones: one compiled step serves every test here (tracing costs tens
    of seconds), and the later steps leave the recorded figures as they were."""
    gan, step = _trainer("one", batch)
    optimizers = gan.optimizers()
    logs, counts = [], []
    for _ in range(3):
        logs.append(step())
        counts.append(
            [int(gan.step.numpy())]
            + [int(optimizers[name].iterations.numpy()) for name in ("generator", "d1", "d2")]
        )
    weights = _weights(gan)
    # The trackers were fresh: logs[-1] holds the means over the first 3 steps.
    l1_first = _l1(logs[-1])
    for _ in range(60):
        step()
    for tracker in gan.metrics:
        tracker.reset_state()
    for _ in range(3):
        last = step()
    return gan, step, logs, weights, counts, (l1_first, _l1(last))


def test_step_logs_and_counters(one_device):
    gan, _, logs, _, counts, _ = one_device
    assert set(logs[-1]) == set(gan.tracked_names)
    assert all(np.isfinite(float(v)) for v in logs[-1].values())
    # The update order of `Paper1GAN.run_updates`, after each step: step counter and generator
    # updates one per step, each critic n_critic per step (the in-graph critic loop).
    assert counts == [[n, n, n * N_CRITIC, n * N_CRITIC] for n in (1, 2, 3)]


def test_two_replicas_match_one_device(batch, one_device):
    assert len(tf.config.list_logical_devices("CPU")) == 2
    gan, step = _trainer("mirrored", batch)
    for _ in range(3):
        step()
    for mirrored, single in zip(_weights(gan), one_device[3]):
        np.testing.assert_allclose(mirrored, single, atol=1e-4)


def test_tiny_run_drives_l1_down(one_device):
    start, end = one_device[5]
    assert end < 0.8 * start, (start, end)


def test_noise_is_keyed_by_global_example_index():
    index = tf.constant([0, 1, 2, 3], tf.int64)
    shape = tf.constant([2, 1, 1, 8])
    full = noise.per_example_normal(noise.noise_seeds(index, 0, 5, 1, 0), shape)
    half = noise.per_example_normal(noise.noise_seeds(index[2:], 0, 5, 1, 0), shape)
    np.testing.assert_array_equal(full[2:].numpy(), half.numpy())
    assert not np.allclose(full[0].numpy(), full[1].numpy())
    for other in [(1, 5, 1, 0), (0, 6, 1, 0), (0, 5, 2, 0), (0, 5, 1, 1)]:
        moved = noise.per_example_normal(noise.noise_seeds(index, *other), shape)
        assert not np.allclose(moved.numpy(), full.numpy())
    eps = noise.per_example_uniform(noise.noise_seeds(index, 0, 5, 1, 1)).numpy()
    assert eps.shape == (4,) and (eps >= 0).all() and (eps < 1).all()


def test_visible_fraction_uses_one_minus_the_hole_mask():
    no_hole = tf.zeros((1, 4, 4, 1))
    all_hole = tf.ones((1, 4, 4, 1))
    # v = 1 (nothing missing) -> sigmoid(-1.6): a narrow target; v = 0 -> sigmoid(6.4).
    np.testing.assert_allclose(
        wgan_gp.visible_fraction_std(no_hole).numpy().ravel(), [1 / (1 + np.exp(1.6))], rtol=1e-6
    )
    np.testing.assert_allclose(
        wgan_gp.visible_fraction_std(all_hole).numpy().ravel(), [1 / (1 + np.exp(-6.4))], rtol=1e-6
    )


def test_default_optimizers_and_config_round_trip():
    # The paper's optimiser settings (the demo preset raises the learning rate).
    gan = wgan_gp.build_gan(get_config(1, "demo", ["model.critic_spectral_norm=true", "model.lr=1e-4"]), 8)
    assert gan.penalty_score == "sum" and gan.n_critic == 1 and gan.kl_reduction == "mean"
    optimizers = gan.build_optimizers()
    assert sorted(optimizers) == ["d1", "d2", "generator"]
    for optimizer in optimizers.values():
        assert isinstance(optimizer, keras.optimizers.Adam)
        assert float(optimizer.learning_rate) == pytest.approx(1e-4)
        assert (optimizer.beta_1, optimizer.beta_2) == (0.0, 0.9)
    config = gan.get_config()
    clone = wgan_gp.Paper1GAN.from_config(config)
    assert {k: v for k, v in clone.get_config().items() if k not in ("generator", "critics")} == {
        k: v for k, v in config.items() if k not in ("generator", "critics")
    }
    assert clone.critics["d1"].spectral_norm
    with pytest.raises(ValueError, match="critics"):
        wgan_gp.Paper1GAN(gan.generator, {"d1": gan.critics["d1"]}, 8)
    with pytest.raises(ValueError, match=r"missing \['index'\]"):
        gan.train_one_step({"image": tf.zeros((1, 32, 32, 3)), "mask": tf.zeros((1, 32, 32, 1))})


def test_test_step_reports_psnr_and_ssim(batch):
    gan = wgan_gp.build_gan(CONFIG, BATCH)
    logs = gan.test_step({k: tf.constant(v) for k, v in batch.items()})
    completed = gan.generator(batch, training=False)
    assert set(logs) == {"psnr", "ssim"}
    want = {
        "psnr": np.mean(metrics.psnr(batch["image"], completed, max_val=1.0)),
        "ssim": np.mean(metrics.ssim(batch["image"], completed, max_val=1.0)),
    }
    for name, value in want.items():
        assert float(logs[name]) == pytest.approx(float(value), rel=1e-5), name


def test_least_squares_critics_train_without_a_penalty(batch):
    """PICNet's LSGAN with spectral-norm critics (`model.gan_loss=lsgan`): one critic and one
    generator update, run eagerly."""
    keras.utils.set_random_seed(0)
    model = dataclasses.replace(CONFIG.model, gan_loss="lsgan", critic_spectral_norm=True)
    gan = wgan_gp.build_gan(dataclasses.replace(CONFIG, model=model), BATCH)
    gan.build_optimizers(lambda name: keras.optimizers.SGD(LEARNING_RATES[name]))
    assert gan.tracked_names[:2] == ("d1_lsgan", "d2_lsgan") and "d1_gp" not in gan.tracked_names
    tensors = {k: tf.constant(v) for k, v in batch.items()}
    critic_before = [v.numpy() for v in gan.critics["d2"].trainable_variables]
    step = tf.constant(0, "int64")
    gan._critic_update(tensors, step, tf.constant(0))
    gan._generator_update(tensors, step)
    assert any(
        not np.array_equal(a, b.numpy()) for a, b in zip(critic_before, gan.critics["d2"].trainable_variables)
    )
    logs = {name: float(t.result()) for name, t in gan.trackers.items()}
    # Least-squares losses are non-negative (the WGAN estimates can take any sign).
    assert all(logs[k] >= 0 for k in ("d1_lsgan", "d2_lsgan", "adv_rec", "adv_gen")), logs
    assert all(np.isfinite(v) for v in logs.values())
