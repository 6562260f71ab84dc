"""Paper 2's three-phase training: phases touch only what they should, one BatchNorm mode for
the critics' fakes, clipping, resume, 1 vs 2 replicas, a tiny run that learns, mixed precision,
the optimisers. Narrow networks at 32x32; compiled steps are shared through module fixtures
(read-only) because tracing a GAN step costs seconds."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfinpaint import losses
from tfinpaint.config import ConfigError, get_config
from tfinpaint.layers.normalization import FusedBatchNormalization
from tfinpaint.training import wgan_clip
from tfinpaint.training.distribute import make_step_function, make_strategy, split_batch
from tfinpaint.training.optimizers import FusedAdam, TorchRMSprop
from tfinpaint.training.wgan_clip import Paper2GAN

SIZE = 32
GLOBAL_BATCH = 4
TINY = ["model.generator_width=8", "model.critic_width=8", f"data.image_size={SIZE}"]
# t1 = t2 = 1: step 0 is phase 1, step 1 phase 2, steps 2.. phase 3. Two of the four critics,
# one of each kind (a crop of the hole's window, a downscaled whole image): each critic is
# updated, clipped and all-reduced by the same code, and tracing two costs half of four.
SCHEDULE_OVERRIDES = TINY + ["model.t1=1", "model.t2=1", "model.critics=local,x4"]
SCHEDULE = get_config(2, "demo", SCHEDULE_OVERRIDES)
CLIP = SCHEDULE.model.clip_value
N_STEPS = 4


def _centre_mask(n, size=SIZE):
    mask = np.zeros((n, size, size, 1), np.float32)
    mask[:, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1.0
    return mask


def _random_batches(n_batches, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.random((n_batches, GLOBAL_BATCH, SIZE, SIZE, 3), dtype=np.float32)
    masks = np.broadcast_to(_centre_mask(GLOBAL_BATCH), (n_batches, GLOBAL_BATCH, SIZE, SIZE, 1))
    index = np.arange(n_batches * GLOBAL_BATCH, dtype=np.int64).reshape(n_batches, GLOBAL_BATCH)
    return tf.data.Dataset.from_tensor_slices({"image": images, "mask": masks.copy(), "index": index})


def _sgd(role):
    return keras.optimizers.SGD(0.05)


def _build(strategy, config, factory=None, batch_size=GLOBAL_BATCH):
    with strategy.scope():
        keras.utils.set_random_seed(0)
        gan = wgan_clip.build_gan(config, batch_size)
        gan.build_optimizers(factory)
    return gan, make_step_function(strategy, gan.train_one_step)


def _snapshot(gan):
    return {
        "generator": [v.numpy().copy() for v in gan.generator.variables],
        "critics": [v.numpy().copy() for c in gan.critics.values() for v in c.variables],
        "updates": {role: int(o.iterations.numpy()) for role, o in gan.optimizers().items()},
    }


def _run_schedule(strategy):
    """Run N_STEPS steps from step 0 with SGD; return the snapshots before/after each step and logs.

    BatchNorm runs Keras' computation on one device too (not the fused kernel, whose float
    rounding differs by ~1e-5 and grows to ~1e-4 in 4 steps), so 1 vs 2 replicas compares the
    distribution logic alone; the fused kernel's agreement with Keras is tested on its own.
    """
    gan, step_fn = _build(strategy, SCHEDULE, _sgd)
    for layer in gan.generator.network.layers:
        if isinstance(layer, FusedBatchNormalization):
            layer.fused = False
    iterator = iter(_random_batches(N_STEPS))
    snapshots, logs = [_snapshot(gan)], []
    for _ in range(N_STEPS):
        logs.append({k: float(v) for k, v in step_fn(iterator).items()})
        snapshots.append(_snapshot(gan))
    return gan, step_fn, snapshots, logs


@pytest.fixture(scope="module")
def mirrored():
    return make_strategy("mirrored")  # one per process, shared with every other test


@pytest.fixture(scope="module")
def one_device():
    return _run_schedule(tf.distribute.get_strategy())


@pytest.fixture(scope="module")
def two_replicas(mirrored):
    return _run_schedule(mirrored)


def _changed(before, after):
    return [not np.array_equal(a, b) for a, b in zip(before, after)]


def _trainable(gan, changed):
    return [c for c, v in zip(changed, gan.generator.variables) if v.trainable]


def test_phase_names_follow_the_schedule():
    gan, _ = _build(tf.distribute.get_strategy(), get_config(2, "demo", TINY + ["model.t1=3", "model.t2=2"]))
    assert [gan.phase(s) for s in range(7)] == ["reconstruction"] * 3 + ["critics"] * 2 + ["joint"] * 2
    assert gan.phase(10**9) == "joint"
    paper = Paper2GAN(gan.generator, gan.critics, 32)
    assert (paper.phase(19_999), paper.phase(20_000), paper.phase(30_000)) == (
        "reconstruction",
        "critics",
        "joint",
    )


def _critic_changes_expected(gan):
    # D(completed) - D(real) does not depend on a critic's output bias: its gradient is exactly 0.
    return [not v.path.endswith("score/bias") for c in gan.critics.values() for v in c.variables]


def test_each_phase_updates_only_its_networks(one_device):
    gan, _, snapshots, _ = one_device
    assert [gan.phase(s) for s in range(N_STEPS)] == ["reconstruction", "critics", "joint", "joint"]
    critic_expected = _critic_changes_expected(gan)
    for step, (before, after) in enumerate(zip(snapshots, snapshots[1:])):
        g_changed = _changed(before["generator"], after["generator"])
        c_changed = _changed(before["critics"], after["critics"])
        if step == 0:
            assert not any(c_changed), "phase 1 changed a critic variable"
            assert all(g_changed[i] for i, v in enumerate(gan.generator.variables) if v.trainable)
        elif step == 1:
            # No generator weight changes (BatchNorm's moving statistics follow the batches).
            assert not any(_trainable(gan, g_changed)), "phase 2 changed a generator weight"
            assert c_changed == critic_expected
        else:
            assert c_changed == critic_expected
            assert all(g_changed[i] for i, v in enumerate(gan.generator.variables) if v.trainable)
    assert int(gan.step.numpy()) == N_STEPS


def test_update_order_of_each_phase(one_device):
    """Algorithm 1, one step per phase: phase 1 one generator update, phase 2 one critic update,
    phase 3 one of each (`Paper2GAN.run_updates`)."""
    _, _, snapshots, _ = one_device
    updates = [s["updates"] for s in snapshots]
    steps = [{role: b[role] - a[role] for role in b} for a, b in zip(updates, updates[1:])]
    assert steps == [
        {"generator": 1, "critics": 0},
        {"generator": 0, "critics": 1},
        {"generator": 1, "critics": 1},
        {"generator": 1, "critics": 1},
    ]


def test_critic_weights_are_clipped_from_the_start_and_after_every_update(one_device):
    _, _, snapshots, _ = one_device
    # Clipped when built (Glorot weights reach several times c), and by the constraints after
    # every update (`test_critics_carry_the_clip_constraint...` in test_paper2_models).
    for snapshot in snapshots:
        assert max(np.abs(v).max() for v in snapshot["critics"]) <= np.float32(CLIP)


def test_critics_see_fakes_made_with_batch_statistics_in_phases_2_and_3():
    """The critics' update depends not on the generator's BatchNorm moving statistics (inference
    mode) but on the batch's statistics, in phase 2 as in phase 3."""
    gan, step_fn = _build(
        tf.distribute.get_strategy(),
        get_config(2, "demo", TINY + ["model.t1=0", "model.t2=1", "model.critics=local,x4"]),
    )
    state = list(gan.variables) + [v for opt in gan.optimizers().values() for v in opt.variables]
    start = [v.numpy() for v in state]
    moving_means = [
        layer.moving_mean
        for layer in gan.generator.network.layers
        if isinstance(layer, FusedBatchNormalization)
    ]
    for step, phase in ((0, "critics"), (1, "joint")):
        critics = []
        for moving_mean in (0.0, 50.0):
            for variable, value in zip(state, start):
                variable.assign(value)
            for variable in moving_means:
                variable.assign(tf.fill(variable.shape, moving_mean))
            gan.step.assign(step)
            assert gan.phase(step) == phase
            step_fn(iter(_random_batches(1)))
            critics.append(_snapshot(gan)["critics"])
        changed = _changed(_snapshot_values(start, gan), critics[0])
        assert any(changed), phase
        for with_zero, with_fifty in zip(*critics):
            np.testing.assert_allclose(with_fifty, with_zero, rtol=1e-5, atol=1e-7)


def _snapshot_values(values, gan):
    """The critics' part of a list of values of `gan.variables` (+ optimiser variables)."""
    index = {id(v): i for i, v in enumerate(gan.variables)}
    return [values[index[id(v)]] for c in gan.critics.values() for v in c.variables]


def test_every_tracker_is_reported_finite_in_every_phase(one_device):
    gan, _, _, logs = one_device
    names = [
        "rec_loss",
        "wasserstein_local",
        "wasserstein_x4",
        "g_adv",
        "adv_weight",
        "grad_ratio",
        "psnr",
    ]
    for entry in logs:
        assert list(entry) == names
        assert all(np.isfinite(v) for v in entry.values())
    # Phase 1 computes no critic scores: those trackers read 0, the others are live.
    assert logs[0]["wasserstein_local"] == 0.0 and logs[0]["g_adv"] == 0.0
    assert logs[0]["rec_loss"] > 0 and logs[0]["psnr"] > 5
    assert logs[1]["g_adv"] != 0.0


@pytest.mark.parametrize("init_from, first_decay", [(None, 2 / 11), ("default", 0.5)])
def test_averaged_weights_warm_up_from_fresh_weights_only(init_from, first_decay):
    """`train.ema_decay`: from fresh weights the first update's decay is min(decay, 2/11) (the
    warm-up's (1 + t) / (10 + t) with the step counted, t = 1), from trained ones
    (`train.init_from`) the decay itself, so a fine-tune's average keeps the weights it started
    from."""
    from tfinpaint.training.build import build_gan

    start_from = [f"train.init_from={init_from}"] if init_from else []
    config = get_config(2, "demo", [*SCHEDULE_OVERRIDES, "train.ema_decay=0.5", *start_from])
    keras.utils.set_random_seed(0)
    gan = build_gan(config, GLOBAL_BATCH)
    gan.build_optimizers(_sgd)
    step_fn = make_step_function(tf.distribute.get_strategy(), gan.train_one_step)
    start = [v.numpy().copy() for v in gan.generator.weights]
    step_fn(iter(_random_batches(1)))
    trained = [
        (a, s, w)
        for a, s, w in zip(gan.generator_average.weights, start, gan.generator.weights)
        if w.trainable
    ]
    assert any(not np.array_equal(s, w.numpy()) for _, s, w in trained)
    for average, s, w in trained:
        expected = first_decay * s + (1.0 - first_decay) * w.numpy()
        np.testing.assert_allclose(average.numpy(), expected, rtol=1e-5, atol=1e-7)


def test_checkpointed_step_resumes_in_the_right_phase(tmp_path):
    gan, step_fn = _build(tf.distribute.get_strategy(), SCHEDULE, _sgd)
    gan.step.assign(3)
    checkpoint = tf.train.Checkpoint(gan=gan)
    path = checkpoint.write(str(tmp_path / "ckpt"))
    gan.step.assign(0)
    checkpoint.read(path).assert_consumed()
    assert int(gan.step.numpy()) == 3 and gan.phase(int(gan.step.numpy())) == "joint"
    # The same compiled step, its step counter rewound to phase 2, trains the critics only.
    gan.step.assign(1)
    before = _snapshot(gan)
    step_fn(iter(_random_batches(1, seed=5)))
    after = _snapshot(gan)
    assert not any(_trainable(gan, _changed(before["generator"], after["generator"])))
    assert _changed(before["critics"], after["critics"]) == _critic_changes_expected(gan)
    assert int(gan.step.numpy()) == 2


def test_two_replicas_train_the_same_weights_as_one_device(one_device, two_replicas):
    _, _, one, one_logs = one_device
    gan, _, two, two_logs = two_replicas
    assert gan.generator.network.layers[1].synchronized
    for key in ("generator", "critics"):
        for a, b in zip(one[-1][key], two[-1][key]):
            np.testing.assert_allclose(b, a, atol=1e-4, rtol=0)
    np.testing.assert_allclose(two_logs[-1]["rec_loss"], one_logs[-1]["rec_loss"], rtol=1e-4)
    # The gradient norms behind grad_ratio (and the adaptive weight) span both replicas' examples.
    np.testing.assert_allclose(two_logs[-1]["grad_ratio"], one_logs[-1]["grad_ratio"], rtol=1e-3)
    assert max(np.abs(v).max() for v in two[-1]["critics"]) <= np.float32(CLIP)


def test_optimizers_follow_the_config():
    gan, _ = _build(tf.distribute.get_strategy(), SCHEDULE)
    adam = gan.optimizers()["generator"]
    assert isinstance(adam, FusedAdam)
    assert np.isclose(float(adam.learning_rate), 2e-4) and adam.beta_1 == 0.5 and adam.beta_2 == 0.999
    rms, _ = _build(tf.distribute.get_strategy(), get_config(2, "demo", TINY + ["model.optimizer=rmsprop"]))
    for opt in rms.optimizers().values():
        assert isinstance(opt, TorchRMSprop) and np.isclose(float(opt.learning_rate), 5e-5)
        assert (opt.rho, opt.epsilon) == (0.99, 1e-8) and opt.built
    # A fine-tune's slower generator: its own rate, the critics' unchanged.
    tuned, _ = _build(tf.distribute.get_strategy(), get_config(2, "demo", TINY + ["model.generator_lr=2e-5"]))
    rates = {role: float(opt.learning_rate) for role, opt in tuned.optimizers().items()}
    assert np.isclose(rates.pop("generator"), 2e-5) and all(np.isclose(r, 2e-4) for r in rates.values())
    with pytest.raises(ConfigError, match="model.generator_lr=0.0"):
        get_config(2, "demo", ["model.generator_lr=0"])


def test_torch_rmsprop_matches_pytorchs_update():
    """w -= lr g / (sqrt(v) + eps), v = rho v + (1 - rho) g^2 (torch.optim.RMSprop), in NumPy."""
    rng = np.random.default_rng(2)
    start = rng.normal(size=(3, 4)).astype(np.float32)
    gradients = [rng.normal(scale=10.0**-k, size=(3, 4)).astype(np.float32) for k in (6, 3, 0)]
    variable = keras.Variable(start)
    optimizer = TorchRMSprop(1e-2)
    optimizer.build([variable])
    w, v = start.astype(np.float64), np.zeros((3, 4))
    for g in gradients:
        optimizer.apply([tf.constant(g)], [variable])
        v = 0.99 * v + 0.01 * g.astype(np.float64) ** 2
        w = w - 1e-2 * g / (np.sqrt(v) + 1e-8)
    np.testing.assert_allclose(variable.numpy(), w, rtol=1e-5, atol=1e-6)
    # Keras' own RMSprop (epsilon inside the square root) moves a weight with tiny gradients
    # far less.
    keras_variable = keras.Variable(start)
    keras_rmsprop = keras.optimizers.RMSprop(1e-2, rho=0.99, epsilon=1e-8)
    for g in gradients:
        keras_rmsprop.apply([tf.constant(g)], [keras_variable])
    assert not np.allclose(keras_variable.numpy(), w, rtol=1e-5, atol=1e-6)


def test_a_subset_of_critics_with_a_lambda_each():
    config = get_config(2, "demo", TINY + ["model.critics=local,global", "model.adv_weight_global=0.01"])
    gan = wgan_clip.build_gan(config, GLOBAL_BATCH)
    assert list(gan.critics) == ["local", "global"]
    assert gan.adv_weights == {"local": 0.001, "global": 0.01}
    assert gan.tracked_names == (
        "rec_loss",
        "wasserstein_local",
        "wasserstein_global",
        "g_adv",
        "adv_weight",
        "grad_ratio",
        "psnr",
    )
    with pytest.raises(ValueError, match="one or more of"):
        Paper2GAN(gan.generator, {"middle": gan.critics["local"]}, 4)


def _joint_only(*overrides):
    """A paper-2 GAN whose every step is a joint step (t1 = t2 = 0), trained with SGD."""
    return _build(
        tf.distribute.get_strategy(),
        get_config(2, "demo", TINY + ["model.t1=0", "model.t2=0", *overrides]),
        _sgd,
    )


def _step_logs(gan, step_fn, n_steps):
    """Each step's own tracked values (the trackers are reset before every step)."""
    iterator, logs = iter(_random_batches(n_steps)), []
    for _ in range(n_steps):
        for tracker in gan.trackers.values():
            tracker.reset_state()
        logs.append({k: float(v) for k, v in step_fn(iterator).items()})
    return logs


@pytest.mark.parametrize("rec_lowpass, chroma", [(0.0, 1.0), (2.0, 1.0), (0.0, 4.0)])
def test_the_two_stage_generator_gradient_is_the_gradient_of_the_weighted_loss(rec_lowpass, chroma):
    gan, _ = _joint_only(
        "model.adv_weighting=mean",
        "model.adv_weight=0.5",
        f"model.rec_lowpass={rec_lowpass}",
        f"model.rec_chroma_weight={chroma}",
    )
    batch = next(iter(_random_batches(1)))
    inputs = {"image": batch["image"], "mask": batch["mask"]}
    variables = gan.generator.trainable_variables
    with tf.GradientTape() as tape:
        completed = gan.generator(inputs, training=True)
        rec = gan.average(
            losses.lowpass_masked_l2(batch["image"], completed, batch["mask"], rec_lowpass, chroma)
        )
        fake = {"image": completed, "mask": batch["mask"]}
        adv = [
            0.5 * gan.average(losses.wasserstein_generator_loss(c(fake, training=True)))
            for c in gan.critics.values()
        ]
        direct = tape.gradient(rec + tf.add_n(adv), variables)
    with tf.GradientTape() as tape:
        completed = gan.generator(inputs, training=True)
        with tape.stop_recording():
            output_gradient = gan._output_gradient(
                batch["image"], batch["mask"], completed, tf.constant(0, "int64")
            )
        two_stage = tape.gradient(tf.reduce_sum(output_gradient * completed), variables)
    for a, b in zip(direct, two_stage):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-4, atol=1e-7)
    assert gan.trackers["adv_weight"].result() == 1.0 and gan.trackers["grad_ratio"].result() > 0


def test_the_reconstruction_phase_fits_the_chroma_weighted_loss_and_tracks_eq_1():
    """One phase-1 SGD step moves the generator by the gradient of the colour-weighted loss;
    `rec_loss` is logged as the paper's eq. 1 (comparable across weights)."""
    config = get_config(2, "demo", TINY + ["model.t1=10", "model.rec_chroma_weight=4"])
    gan, step_fn = _build(tf.distribute.get_strategy(), config, _sgd)
    batch = next(iter(_random_batches(1)))
    inputs = {"image": batch["image"], "mask": batch["mask"]}
    variables = gan.generator.trainable_variables
    with tf.GradientTape() as tape:
        completed = gan.generator(inputs, training=True)
        weighted = gan.average(losses.masked_l2(batch["image"], completed, batch["mask"], 4.0))
    expected = [v.numpy() - 0.05 * g.numpy() for v, g in zip(variables, tape.gradient(weighted, variables))]
    eq_1 = float(tf.reduce_mean(losses.masked_l2(batch["image"], completed, batch["mask"])))
    logs = step_fn(iter(_random_batches(1)))
    for v, e in zip(variables, expected):
        np.testing.assert_allclose(v.numpy(), e, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(float(logs["rec_loss"]), eq_1, rtol=1e-5)


def test_summed_lambdas_weigh_one_pixel_term():
    gan, _ = _joint_only("model.adv_weighting=summed")
    batch = next(iter(_random_batches(1)))
    gan._output_gradient(batch["image"], batch["mask"], batch["image"], tf.constant(0, "int64"))
    # L_r is a mean over 3 * 32 * 32 terms; the paper's eq. 1 sums them.
    np.testing.assert_allclose(gan.trackers["adv_weight"].result(), 1 / (3 * SIZE * SIZE), rtol=1e-6)


def test_gradient_penalty_critics_and_an_adaptive_ramped_weight():
    overrides = ["model.critic_regularizer=gp", "model.critics=local,x4", "model.adv_weighting=adaptive"]
    config = get_config(2, "demo", TINY + ["model.t1=0", "model.t2=1", "model.adv_ramp=4", *overrides])
    gan, step_fn = _build(tf.distribute.get_strategy(), config, _sgd)
    logs = _step_logs(gan, step_fn, 3)
    assert all(v.constraint is None for c in gan.critics.values() for v in c.variables)
    assert max(np.abs(v).max() for c in gan.critics.values() for v in c.variables) > CLIP
    assert all(log["gp_local"] > 0 and log["gp_x4"] > 0 for log in logs)
    # Step 0 trains the critics; joint steps 1 and 2 hold the ratio at 0.2 x 1/4 and 0.2 x 2/4.
    np.testing.assert_allclose([log["grad_ratio"] for log in logs], [0.0, 0.05, 0.1], rtol=1e-3)


def test_feature_matching_holds_its_gradient_ratio_and_moves_the_generator():
    """With no adversarial gradient (lambda 0), the critics' feature matching alone is scaled to
    fm_ratio x the reconstruction gradient, under the adversarial ramp, and trains the generator."""
    plain, fm = ("model.adv_weighting=mean", "model.adv_weight=0", "model.adv_ramp=2"), "model.fm_ratio=0.5"
    gan, step_fn = _joint_only(*plain, fm)
    logs = _step_logs(gan, step_fn, 2)
    np.testing.assert_allclose([log["fm_grad_ratio"] for log in logs], [0.25, 0.5], rtol=1e-3)
    assert all(log["fm_loss"] > 0 and log["grad_ratio"] == 0 for log in logs)
    control, control_fn = _joint_only(*plain)
    _step_logs(control, control_fn, 2)
    assert "fm_loss" not in control.trackers
    # (Biases before BatchNorm get no gradient either way.)
    assert any(
        not np.allclose(a.numpy(), b.numpy())
        for a, b in zip(gan.generator.trainable_variables, control.generator.trainable_variables)
    )


def test_critic_features_are_the_activations_before_the_score():
    critic = wgan_clip.build_gan(SCHEDULE, GLOBAL_BATCH).critics["local"]
    batch = next(iter(_random_batches(1)))
    inputs = {"image": batch["image"], "mask": batch["mask"]}
    features = critic.features(inputs)
    convs = [layer for layer in critic.network.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [f.shape[-1] for f in features] == [c.filters for c in convs]
    score = critic.network.get_layer("score")(critic.network.get_layer("flatten")(features[-1]))
    np.testing.assert_allclose(score.numpy(), critic(inputs).numpy(), rtol=1e-5)


@pytest.mark.parametrize("gan_loss", ["hinge", "wasserstein"])
def test_the_critics_step_down_their_configured_loss(gan_loss):
    """Spectrally normalised critics (a PatchGAN beside the local critic): one SGD critic update
    is the step down the configured loss's gradient, taken by hand here."""
    critics = ["model.critics=local,patch", "model.critic_regularizer=spectral", f"model.gan_loss={gan_loss}"]
    config = get_config(2, "demo", TINY + ["model.t1=0", "model.t2=1", *critics])
    gan, step_fn = _build(tf.distribute.get_strategy(), config, _sgd)
    # Real and fake local scores near 1.5: beyond the hinge's real margin, inside its fake one.
    gan.critics["local"].network.get_layer("score_sn").layer.bias.assign([1.5])
    batch = next(iter(_random_batches(1)))
    state = [v.numpy().copy() for c in gan.critics.values() for v in c.variables]
    completed = gan.generator({"image": batch["image"], "mask": batch["mask"]}, training=True)
    both = {"image": tf.concat([batch["image"], completed], 0), "mask": tf.concat([batch["mask"]] * 2, 0)}
    critic_loss = losses.hinge_critic_loss if gan_loss == "hinge" else losses.wasserstein_critic_loss
    variables = [v for c in gan.critics.values() for v in c.trainable_variables]
    with tf.GradientTape() as tape:
        total = tf.add_n([critic_loss(*tf.split(c(both, training=True), 2)) for c in gan.critics.values()])
        loss = tf.reduce_mean(total)
    expected = [v.numpy() - 0.05 * g.numpy() for v, g in zip(variables, tape.gradient(loss, variables))]
    for v, value in zip([v for c in gan.critics.values() for v in c.variables], state):
        v.assign(value)  # the kernels and power-iteration vectors as built
    logs = {k: float(v) for k, v in step_fn(iter(_random_batches(1))).items()}
    for v, e in zip(variables, expected):
        np.testing.assert_allclose(v.numpy(), e, rtol=1e-4, atol=1e-6, err_msg=v.path)
    assert np.isfinite(list(logs.values())).all() and "gp_patch" not in logs


def test_adversarial_settings_are_checked():
    for override, expected in (
        ("model.critic_regularizer=sn", "expected one of clip, gp, spectral"),
        ("model.gan_loss=lsgan", "expected one of wasserstein, hinge"),
        ("model.critics=local,patch", "the patch critic is not clipped"),
        ("model.adv_weighting=sum", "expected one of summed, mean, adaptive"),
        ("model.adv_ratio=0", "expected a positive number"),
        ("model.adv_ramp=-1", "expected 0 or more steps"),
        ("model.fm_ratio=-1", "expected 0 or a positive number"),
        ("model.rec_lowpass=-1", "expected 0 or a positive number"),
        ("model.rec_chroma_weight=0", "expected a positive number"),
    ):
        with pytest.raises(ConfigError, match=expected):
            get_config(2, "demo", [override])


def test_a_tiny_run_learns_under_mixed_bfloat16(photo_paths):
    """8 photos, 32x32, the configured Adam: 30 reconstruction steps, then 2 joint steps.

    The loss halves within ~16 steps; bf16 convolutions are emulated (~10x float32) on CPUs
    without AVX512-BF16, so the run is no longer than that, with one critic to trace."""
    images = []
    for path in photo_paths[:8]:
        with Image.open(path) as im:
            images.append(
                np.asarray(im.convert("RGB").resize((SIZE, SIZE), Image.BILINEAR), np.float32) / 255
            )
    batch = {"image": np.stack(images), "mask": _centre_mask(8), "index": np.arange(8, dtype=np.int64)}
    keras.mixed_precision.set_global_policy("mixed_bfloat16")  # restored by conftest
    gan, step_fn = _build(
        tf.distribute.get_strategy(),
        get_config(2, "demo", TINY + ["model.t1=30", "model.t2=0", "model.critics=local"]),
        batch_size=8,
    )
    iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
    logs = []
    for _ in range(32):
        for tracker in gan.metrics:
            tracker.reset_state()
        logs.append({k: float(v) for k, v in step_fn(iterator).items()})
    losses = [entry["rec_loss"] for entry in logs]
    assert np.mean(losses[-2:]) <= 0.5 * losses[0], (losses[0], losses[-2:])
    assert gan.phase(29) == "reconstruction" and gan.phase(30) == "joint"
    assert logs[0]["wasserstein_local"] == 0.0 and logs[-1]["wasserstein_local"] != 0.0
    assert all(np.isfinite(v) for entry in logs for v in entry.values())
    assert (
        max(float(tf.reduce_max(tf.abs(v))) for c in gan.critics.values() for v in c.trainable_variables)
        <= CLIP
    )
    assert all(v.dtype == "float32" for v in gan.generator.weights)


def test_mixed_float16_scales_the_loss_and_trains():
    keras.mixed_precision.set_global_policy("mixed_float16")  # restored by conftest
    gan, step_fn = _build(
        tf.distribute.get_strategy(),
        get_config(2, "demo", TINY + ["model.t1=0", "model.t2=0", "model.critics=local,x4"]),
    )
    assert all(isinstance(o, keras.optimizers.LossScaleOptimizer) for o in gan.optimizers().values())
    before = _snapshot(gan)
    iterator = iter(_random_batches(2))
    logs = [{k: float(v) for k, v in step_fn(iterator).items()} for _ in range(2)]
    after = _snapshot(gan)
    assert gan.phase(0) == "joint"
    assert all(np.isfinite(v) and v != 0.0 for entry in logs for v in entry.values())
    assert _changed(before["critics"], after["critics"]) == _critic_changes_expected(gan)
    changed = _changed(before["generator"], after["generator"])
    assert all(c for c, v in zip(changed, gan.generator.variables) if v.trainable)


@pytest.mark.parametrize("replicas", [1, 2])
def test_fused_adam_matches_keras_adam(replicas, mirrored):
    def train(optimizer_class, strategy):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            layer = keras.layers.Dense(5)
            layer.build((None, 7))
            optimizer = optimizer_class(1e-2, beta_1=0.5, beta_2=0.999)
            optimizer.build(layer.trainable_variables)
        x = tf.random.stateless_normal([4, 7], [1, 2])

        def replica_step(x):
            with tf.GradientTape() as tape:
                loss = tf.nn.compute_average_loss(
                    tf.reduce_sum(tf.square(layer(x)), axis=1), global_batch_size=4
                )
            optimizer.apply(tape.gradient(loss, layer.trainable_variables), layer.trainable_variables)

        step = tf.function(lambda: strategy.run(replica_step, args=(split_batch(strategy, x),)))
        for _ in range(5):
            step()
        return [v.numpy() for v in layer.trainable_variables + optimizer.variables]

    strategy = tf.distribute.get_strategy() if replicas == 1 else mirrored
    expected = train(keras.optimizers.Adam, tf.distribute.get_strategy())
    for got, want in zip(train(FusedAdam, strategy), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_bench_finds_phase_starts_and_reads_the_peer(one_device, tmp_path):
    from tfinpaint.bench.train import phase_start, run_peer

    gan = one_device[0]
    assert [phase_start(gan, p, 100) for p in ("reconstruction", "critics", "joint")] == [0, 1, 2]
    with pytest.raises(SystemExit, match="has the phases reconstruction, critics, joint"):
        phase_start(gan, "warmup", 100)
    peer = tmp_path / "peer.py"
    peer.write_text(
        "import sys\nprint('torch x threads=2 size=' + sys.argv[1])\n"
        "print('images_per_sec', 2.5 if sys.argv[2:] == ['4', '8', 'bf16'] else 1.0)\n"
    )
    assert run_peer(str(peer), 32, 4, 8, bf16=True) == 2.5
    assert run_peer(str(peer), 32, 4, 8, bf16=False) == 1.0
    peer.write_text("raise SystemExit('no torch here')\n")
    with pytest.raises(SystemExit, match="failed with exit code 1"):
        run_peer(str(peer), 32, 4, 8, bf16=False)


@pytest.mark.parametrize("replicas", [1, 2])
def test_the_averaged_generator_is_the_warmed_up_moving_average_of_every_step(replicas, mirrored):
    strategy = tf.distribute.get_strategy() if replicas == 1 else mirrored
    gan, step_fn = _build(strategy, SCHEDULE, _sgd)
    with strategy.scope():
        gan.average_weights(0.5)
    assert gan.inference_generator is gan.generator_average
    expected = [np.asarray(w).copy() for w in gan.generator.weights]
    iterator = iter(_random_batches(N_STEPS))
    for t in range(1, N_STEPS + 1):
        step_fn(iterator)
        decay = min(0.5, (1 + t) / (10 + t))  # the warm-up: 2/11, 3/12, 4/13, then 0.5
        expected = [decay * e + (1 - decay) * np.asarray(w) for e, w in zip(expected, gan.generator.weights)]
    averaged = [np.asarray(w) for w in gan.generator_average.weights]
    # BatchNorm's moving statistics are averaged too; the generator itself moved away from them.
    assert len(averaged) == len(expected) > len(gan.generator.trainable_weights)
    for a, e in zip(averaged, expected):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)
    moved = [not np.allclose(a, np.asarray(w)) for a, w in zip(averaged, gan.generator.weights)]
    assert sum(moved) > len(moved) // 2
    with pytest.raises(ValueError, match="decay 1.0; expected a value in"):
        gan.average_weights(1.0)
