"""Per-example losses: golden numbers, the gradient penalty's edge cases, KL of Gaussians."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfinpaint import losses


def test_per_example_reductions():
    x = tf.reshape(tf.range(8, dtype=tf.float32), (2, 2, 2, 1))
    np.testing.assert_allclose(losses.per_example_mean(x).numpy(), [1.5, 5.5])
    image, prediction = tf.zeros((1, 2, 2, 1)), tf.ones((1, 2, 2, 1))
    mask = tf.constant([[[[1.0], [0.0]], [[0.0], [0.0]]]])
    np.testing.assert_allclose(losses.masked_l2(image, prediction + 1.0, mask).numpy(), [1.0])
    real, fake = tf.fill((2, 3, 3, 1), 2.0), tf.fill((2, 3, 3, 1), -1.0)
    np.testing.assert_allclose(losses.wasserstein_critic_loss(real, fake).numpy(), [-3.0, -3.0])
    np.testing.assert_allclose(losses.wasserstein_generator_loss(fake).numpy(), [1.0, 1.0])


def test_masked_l1_golden():
    image = tf.zeros((2, 2, 2, 3))
    prediction = tf.concat([tf.fill((1, 2, 2, 3), 0.5), tf.fill((1, 2, 2, 3), -2.0)], axis=0)
    np.testing.assert_allclose(losses.masked_l1(image, prediction).numpy(), [0.5, 2.0])
    mask = tf.constant([[[[1.0], [0.0]], [[0.0], [0.0]]]] * 2)
    # The mean runs over all pixels: one of four pixels counts.
    np.testing.assert_allclose(losses.masked_l1(image, prediction, mask).numpy(), [0.125, 0.5])


def test_gaussian_kl_golden():
    zeros, ones = tf.zeros((2, 3)), tf.ones((2, 3))
    np.testing.assert_allclose(losses.gaussian_kl(zeros, ones, zeros, ones).numpy(), [0, 0], atol=1e-7)
    # KL(N(1, 1) || N(0, 1)) = 1/2 per element, summed over 3 elements.
    np.testing.assert_allclose(losses.gaussian_kl(ones, ones, zeros, ones).numpy(), [1.5, 1.5], rtol=1e-6)
    # KL(N(0, 1) || N(0, 4)) = log 2 + 1/8 - 1/2.
    expected = 3 * (math.log(2.0) + 1.0 / 8.0 - 0.5)
    np.testing.assert_allclose(
        losses.gaussian_kl(zeros, ones, zeros, 2 * ones).numpy(), [expected] * 2, rtol=1e-6
    )
    # A per-example std broadcasts over the latent and the sum covers the broadcast shape.
    std = tf.constant([[1.0], [2.0]])
    got = losses.gaussian_kl(zeros, std, zeros, ones).numpy()
    np.testing.assert_allclose(got, [0.0, 3 * (-math.log(2.0) + 2.0 - 0.5)], rtol=1e-6, atol=1e-7)


def test_gaussian_kl_is_finite_for_a_collapsed_std():
    zeros = tf.zeros((1, 4))
    std = tf.nn.softplus(tf.fill((1, 4), -200.0))
    assert float(std[0, 0]) == 0.0
    with tf.GradientTape() as tape:
        tape.watch(std)
        kl = losses.gaussian_kl(zeros, tf.ones((1, 4)), zeros, std)
    assert np.isfinite(kl.numpy()).all()
    assert np.isfinite(tape.gradient(kl, std).numpy()).all()


def _interpolation_inputs():
    real = tf.random.stateless_uniform((3, 6, 6, 2), seed=(1, 2), minval=-1, maxval=1)
    fake = tf.random.stateless_uniform((3, 6, 6, 2), seed=(3, 4), minval=-1, maxval=1)
    epsilon = tf.random.stateless_uniform((3,), seed=(5, 6))
    return real, fake, epsilon


def test_gradient_penalty_zero_gradient_critic_is_finite():
    real, fake, epsilon = _interpolation_inputs()
    weight = tf.Variable(1.0)

    def constant_critic(x, training=True):
        return weight * tf.ones((tf.shape(x)[0], 2, 2, 1))

    with tf.GradientTape() as tape:
        gp = losses.gradient_penalty(constant_critic, real, fake, epsilon)
    assert gp.shape == (3,)
    # ||0|| = sqrt(tolerance): the penalty is (1 - 1e-6)^2, and does not depend on the weight.
    np.testing.assert_allclose(gp.numpy(), [1.0] * 3, atol=1e-5)
    grad = tape.gradient(gp, weight, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    assert float(grad) == 0.0

    def flat_critic(x, training=True):
        return 0.0 * tf.reduce_sum(x, axis=[1, 2, 3], keepdims=True) * weight

    with tf.GradientTape() as tape:
        gp = losses.gradient_penalty(flat_critic, real, fake, epsilon)
    # The critic's input gradient is 0 * weight: connected to the weight, zero, and the penalty's
    # gradient through the square root at 0 stays finite (the tolerance).
    np.testing.assert_allclose(gp.numpy(), [1.0] * 3, atol=1e-5)
    grad = tape.gradient(gp, weight)
    assert grad is not None and np.isfinite(grad.numpy())


@pytest.mark.parametrize("score", ["mean", "sum"])
def test_gradient_penalty_is_zero_for_a_unit_norm_linear_critic(score):
    real, fake, epsilon = _interpolation_inputs()
    w = tf.random.stateless_normal((6, 6, 2), seed=(7, 8))
    w = w / tf.norm(w)
    patches = 4

    def linear_critic(x, training=True):
        value = tf.reduce_sum(x * w, axis=[1, 2, 3])
        # A patch map whose mean (or, scaled, whose sum) is the 1-Lipschitz linear function.
        scale = 1.0 if score == "mean" else 1.0 / patches
        return tf.reshape(tf.tile(value[:, None] * scale, [1, patches]), (-1, 2, 2, 1))

    gp = losses.gradient_penalty(linear_critic, real, fake, epsilon, score=score)
    np.testing.assert_allclose(gp.numpy(), [0.0] * 3, atol=1e-6)
    doubled = losses.gradient_penalty(
        lambda x, training=True: 2.0 * linear_critic(x), real, fake, epsilon, score=score
    )
    np.testing.assert_allclose(doubled.numpy(), [1.0] * 3, atol=1e-5)


def test_gradient_penalty_uses_each_examples_own_interpolate():
    real, fake, _ = _interpolation_inputs()

    def quadratic_critic(x, training=True):
        return tf.reduce_sum(tf.square(x), axis=[1, 2, 3])[:, None, None, None]

    epsilon = tf.constant([0.0, 0.5, 1.0])
    gp = losses.gradient_penalty(quadratic_critic, real, fake, epsilon).numpy()
    for i, e in enumerate([0.0, 0.5, 1.0]):
        x_hat = e * real[i] + (1 - e) * fake[i]
        expected = (float(tf.norm(2.0 * x_hat)) - 1.0) ** 2
        assert gp[i] == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="score"):
        losses.gradient_penalty(quadratic_critic, real, fake, epsilon, score="max")


def test_least_squares_gan_losses_golden():
    real, fake = tf.fill((2, 3, 3, 1), 1.0), tf.constant([[[[0.0]]], [[[2.0]]]])
    # (mean (D(real) - 1)^2 + mean D(fake)^2) / 2 and mean (D(fake) - 1)^2 (Mao et al. 2017).
    np.testing.assert_allclose(losses.lsgan_critic_loss(real, fake).numpy(), [0.0, 2.0])
    np.testing.assert_allclose(losses.lsgan_generator_loss(fake).numpy(), [1.0, 1.0])


def test_hinge_gan_loss_golden_and_no_gradient_beyond_the_margins():
    real = tf.Variable([[[[2.0], [0.5]]], [[[1.0], [-1.0]]]])  # [B 2, 1, 2, 1] patch maps
    fake = tf.Variable([[[[-3.0], [0.0]]], [[[-1.0], [1.0]]]])
    with tf.GradientTape() as tape:
        loss = losses.hinge_critic_loss(real, fake)
    # mean relu(1 - D(real)) + mean relu(1 + D(fake)), per score (Lim & Ye 2017).
    np.testing.assert_allclose(loss.numpy(), [0.25 + 0.5, 1.0 + 1.0])
    grad_real, grad_fake = tape.gradient(loss, [real, fake])
    # A real score of at least 1 or a fake one of at most -1 gets no gradient.
    np.testing.assert_array_equal(grad_real.numpy().ravel(), [0, -0.5, 0, -0.5])
    np.testing.assert_array_equal(grad_fake.numpy().ravel(), [0, 0.5, 0, 0.5])


def test_feature_matching_golden_and_only_the_fake_features_get_a_gradient():
    real = [tf.zeros((2, 2, 2, 1)), tf.ones((2, 3))]
    fake = [tf.Variable(tf.fill((2, 2, 2, 1), 0.5)), tf.Variable([[1.0, 1.0, 1.0], [4.0, 1.0, 1.0]])]
    with tf.GradientTape() as tape:
        tape.watch(real)
        loss = losses.feature_matching(real, fake)
    # The mean over layers of each layer's mean |real - fake|: (0.5 + 0) / 2, (0.5 + 1) / 2.
    np.testing.assert_allclose(loss.numpy(), [0.25, 0.75])
    real_grads = tape.gradient(loss, real)
    assert real_grads == [None, None]
    np.testing.assert_allclose(losses.feature_matching(real, real).numpy(), [0.0, 0.0])
    with pytest.raises(ValueError, match="same number of layers"):
        losses.feature_matching(real, fake[:1])


def test_chroma_weight_weighs_colour_residuals_and_leaves_grey_ones():
    """The opponent basis is orthonormal: weight 1 is the RGB loss; a grey residual costs the same
    at any weight, a colour one (R-G, R+G-2B) weight times as much, a mixed one in between."""
    mask = np.zeros((1, 8, 8, 1), "float32")
    mask[:, 2:6, 2:6] = 1.0
    image = tf.zeros((1, 8, 8, 3))
    rng = np.random.default_rng(0)
    grey = tf.constant(np.repeat(rng.random((1, 8, 8, 1)), 3, axis=-1), "float32")
    red_green = tf.constant(rng.random((1, 8, 8, 1)) * [[[[1.0, -1.0, 0.0]]]], "float32")
    yellow_blue = tf.constant(rng.random((1, 8, 8, 1)) * [[[[1.0, 1.0, -2.0]]]], "float32")
    mixed = tf.constant(rng.random((1, 8, 8, 3)), "float32")
    for prediction in (grey, red_green, yellow_blue, mixed):
        np.testing.assert_allclose(
            losses.masked_l2(image, prediction, mask, 1.0),
            losses.masked_l2(image, prediction, mask),
            rtol=1e-6,
        )
    rgb = {
        name: losses.masked_l2(image, p, mask).numpy()
        for name, p in [("grey", grey), ("rg", red_green), ("yb", yellow_blue), ("mixed", mixed)]
    }
    np.testing.assert_allclose(losses.masked_l2(image, grey, mask, 4.0), rgb["grey"], rtol=1e-5)
    np.testing.assert_allclose(losses.masked_l2(image, red_green, mask, 4.0), 4 * rgb["rg"], rtol=1e-5)
    np.testing.assert_allclose(losses.masked_l2(image, yellow_blue, mask, 0.5), 0.5 * rgb["yb"], rtol=1e-5)
    assert rgb["mixed"] < losses.masked_l2(image, mixed, mask, 4.0).numpy() < 4 * rgb["mixed"]
    # The low-pass loss weighs the same way (the blur is per channel, so it commutes).
    np.testing.assert_allclose(
        losses.lowpass_masked_l2(image, red_green, mask, 2.0, 4.0),
        4 * losses.lowpass_masked_l2(image, red_green, mask, 2.0),
        rtol=1e-5,
    )
    with pytest.raises(ValueError, match="expected RGB images, got 1 channels"):
        losses.masked_l2(image[..., :1], grey[..., :1], mask, 4.0)


def test_lowpass_masked_l2_leaves_fine_detail_to_other_losses():
    """sigma 0 is the masked L2; at sigma 2 a checkerboard residual (2 px) costs almost nothing
    and a smooth one (the hole's colour wrong) costs what the masked L2 says."""
    mask = np.zeros((1, 32, 32, 1), "float32")
    mask[:, 8:24, 8:24] = 1.0
    image = tf.zeros((1, 32, 32, 3))
    checker = np.indices((32, 32)).sum(axis=0) % 2 * 2.0 - 1.0
    fine = tf.constant(np.repeat(checker[None, :, :, None], 3, axis=-1), "float32") * 0.5
    smooth = tf.fill((1, 32, 32, 3), 0.5)
    for prediction in (fine, smooth):
        np.testing.assert_allclose(
            losses.lowpass_masked_l2(image, prediction, mask, 0).numpy(),
            losses.masked_l2(image, prediction, mask).numpy(),
        )
    full = losses.masked_l2(image, fine, mask).numpy()
    assert losses.lowpass_masked_l2(image, fine, mask, 2.0).numpy() < 1e-3 * full
    # The smooth residual loses only its blurred edge.
    ratio = losses.lowpass_masked_l2(image, smooth, mask, 2.0) / losses.masked_l2(image, smooth, mask)
    assert 0.7 < float(ratio[0]) < 1.0
