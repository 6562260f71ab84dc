"""Losses as small pure functions returning one value per example ([B]).

Reduce them with `tf.nn.compute_average_loss(..., global_batch_size=...)` (see
`InpaintingGAN.average`) so that 1 and N replicas train the same model.
"""

import math

import tensorflow as tf


def per_example_mean(x):
    """Mean over every axis but the first: [B, ...] -> [B]."""
    x = tf.cast(x, "float32")
    return tf.reduce_mean(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)


def masked_l2(image, prediction, mask, chroma_weight=1.0):
    """Paper 2 eq. 1 as a mean: mean over pixels and channels of (mask * (image - prediction))^2.

    With `chroma_weight` != 1 (RGB images only) the residual is taken in an orthonormal
    opponent-colour basis of RGB (brightness, red-green, yellow-blue) and its two colour
    components' squares weigh `chroma_weight` times the brightness's; 1 is eq. 1 exactly, since
    the basis is orthonormal. A grey residual (equal in R, G and B) costs the same at any weight.

    Returns:
        float32 [B].
    """
    return per_example_mean(tf.square(_masked_residual(image, prediction, mask, chroma_weight)))


# Columns: brightness (R+G+B)/sqrt 3, red-green (R-G)/sqrt 2, yellow-blue (R+G-2B)/sqrt 6.
_OPPONENT_BASIS = (
    (1 / math.sqrt(3), 1 / math.sqrt(2), 1 / math.sqrt(6)),
    (1 / math.sqrt(3), -1 / math.sqrt(2), 1 / math.sqrt(6)),
    (1 / math.sqrt(3), 0.0, -2 / math.sqrt(6)),
)


def _masked_residual(image, prediction, mask, chroma_weight=1.0):
    residual = tf.cast(mask, "float32") * (tf.cast(image, "float32") - tf.cast(prediction, "float32"))
    if chroma_weight == 1.0:
        return residual
    if residual.shape[-1] != 3:
        raise ValueError(
            f"chroma_weight={chroma_weight}: expected RGB images, got {residual.shape[-1]} channels"
        )
    # Scaling a component by sqrt(w) weighs its square by w.
    basis = tf.constant(_OPPONENT_BASIS, "float32") * tf.sqrt(
        tf.constant([1.0, chroma_weight, chroma_weight], "float32")
    )
    return tf.tensordot(residual, basis, axes=[[-1], [0]])


def lowpass_masked_l2(image, prediction, mask, sigma, chroma_weight=1.0):
    """`masked_l2` of the residual seen through a Gaussian of `sigma` px (0 = `masked_l2`).

    Detail finer than about 2 sigma px costs nothing, so it is left to whatever else the
    generator is trained on (critics, feature matching). The residual is masked before the blur
    (zero outside the hole, and beyond the image's border). `chroma_weight`: as in `masked_l2`.

    Returns:
        float32 [B].
    """
    if sigma == 0:
        return masked_l2(image, prediction, mask, chroma_weight)
    diff = _masked_residual(image, prediction, mask, chroma_weight)
    radius = int(math.ceil(3 * sigma))
    taps = tf.exp(-tf.square(tf.range(-radius, radius + 1, dtype="float32")) / (2.0 * sigma**2))
    taps /= tf.reduce_sum(taps)
    channels = diff.shape[-1]
    rows = tf.tile(tf.reshape(taps, [-1, 1, 1, 1]), [1, 1, channels, 1])
    columns = tf.tile(tf.reshape(taps, [1, -1, 1, 1]), [1, 1, channels, 1])
    blurred = tf.nn.depthwise_conv2d(diff, rows, [1, 1, 1, 1], "SAME")
    blurred = tf.nn.depthwise_conv2d(blurred, columns, [1, 1, 1, 1], "SAME")
    return per_example_mean(tf.square(blurred))


def critic_score(scores):
    """A critic's value per example: the mean of its output (a patch map or a single unit)."""
    return per_example_mean(scores)


def wasserstein_critic_loss(real_scores, fake_scores):
    """WGAN critic loss D(fake) - D(real) per example; the critic minimises it."""
    return critic_score(fake_scores) - critic_score(real_scores)


def wasserstein_generator_loss(fake_scores):
    """WGAN generator loss -D(fake) per example."""
    return -critic_score(fake_scores)


def hinge_critic_loss(real_scores, fake_scores):
    """Hinge critic loss per example: mean relu(1 - D(real)) + mean relu(1 + D(fake)), per score.

    A score already beyond its margin (real >= 1, fake <= -1) costs nothing and sends no gradient,
    so the critic's scale stays bounded without clipping or a penalty. The generator's loss is
    `wasserstein_generator_loss`.

    Reference:
        Lim & Ye, "Geometric GAN", 2017; Miyato et al., SN-GAN, ICLR 2018; Yu et al.,
        "Free-Form Image Inpainting with Gated Convolution" (DeepFill v2, SN-PatchGAN), ICCV 2019.
    """
    real = tf.cast(real_scores, "float32")
    fake = tf.cast(fake_scores, "float32")
    return per_example_mean(tf.nn.relu(1.0 - real)) + per_example_mean(tf.nn.relu(1.0 + fake))


def lsgan_critic_loss(real_scores, fake_scores):
    """Least-squares GAN critic loss per example: (mean (D(real) - 1)^2 + mean D(fake)^2) / 2.

    PICNet's `GANLoss("lsgan")` for the discriminator: MSE to 1 on real, to 0 on fake, halved.

    Reference:
        Mao et al., "Least Squares Generative Adversarial Networks", ICCV 2017.
    """
    real = tf.cast(real_scores, "float32")
    fake = tf.cast(fake_scores, "float32")
    return 0.5 * (per_example_mean(tf.square(real - 1.0)) + per_example_mean(tf.square(fake)))


def lsgan_generator_loss(fake_scores):
    """Least-squares GAN generator loss per example: mean (D(fake) - 1)^2."""
    return per_example_mean(tf.square(tf.cast(fake_scores, "float32") - 1.0))


def feature_matching(real_features, fake_features):
    """pix2pixHD's feature-matching loss per example: the mean over a critic's layers of the mean
    |f(real) - f(fake)|, the real image's features held fixed (no gradient reaches them).

    Args:
        real_features, fake_features: the critic's activations, one [B, ...] tensor a layer, in
            the same order for both.

    Returns:
        float32 [B].

    Reference:
        Wang et al., "High-Resolution Image Synthesis ... with Conditional GANs" (pix2pixHD),
        CVPR 2018, eq. 4 (its 1/N_i as the mean over a layer's elements).
    """
    if not real_features or len(real_features) != len(fake_features):
        raise ValueError(
            f"feature matching: expected the same number of layers for real and fake, got "
            f"{len(real_features)} and {len(fake_features)}"
        )
    terms = [
        per_example_mean(tf.abs(tf.stop_gradient(tf.cast(r, "float32")) - tf.cast(f, "float32")))
        for r, f in zip(real_features, fake_features)
    ]
    return tf.add_n(terms) / len(terms)


def masked_l1(image, prediction, mask=None):
    """Mean over pixels and channels of |mask * (image - prediction)| (all pixels if no mask).

    The mean runs over every pixel, not over the masked ones only (PICNet's
    `L1Loss(fake * mask, real * mask)`), so a smaller region weighs less.

    Returns:
        float32 [B].
    """
    diff = tf.abs(tf.cast(image, "float32") - tf.cast(prediction, "float32"))
    if mask is not None:
        diff = tf.cast(mask, "float32") * diff
    return per_example_mean(diff)


def gaussian_kl(mean_a, std_a, mean_b, std_b, min_std=1e-8):
    """KL( N(mean_a, std_a^2) || N(mean_b, std_b^2) ) of diagonal Gaussians, summed per example.

    Elementwise `log(std_b / std_a) + (std_a^2 + (mean_a - mean_b)^2) / (2 std_b^2) - 1/2`,
    summed over every axis but the first. Standard deviations are clipped below at `min_std`
    so a collapsed softplus (0 in float32) gives a large finite value, not inf or NaN.
    Arguments broadcast against each other (e.g. a per-example std of shape [B, 1, 1, 1]
    beside [B, h, w, c] means); the sum runs over the broadcast shape.

    Returns:
        float32 [B].
    """
    mean_a, std_a, mean_b, std_b = (tf.cast(t, "float32") for t in (mean_a, std_a, mean_b, std_b))
    std_a = tf.maximum(std_a, min_std)
    std_b = tf.maximum(std_b, min_std)
    kl = (
        tf.math.log(std_b)
        - tf.math.log(std_a)
        + (tf.square(std_a) + tf.square(mean_a - mean_b)) / (2.0 * tf.square(std_b))
        - 0.5
    )
    return tf.reduce_sum(tf.reshape(kl, [tf.shape(kl)[0], -1]), axis=1)


def gradient_penalty(critic, real, fake, epsilon, score="mean", tolerance=1e-12, training=True):
    """WGAN-GP penalty (||grad_x D(x_hat)||_2 - 1)^2 per example, x_hat = eps real + (1-eps) fake.

    `D(x_hat)` is the critic's value per example: the mean of its output map (`score="mean"`,
    the penalty of WGAN-GP's single-output critic applied to the patch average) or its sum
    (`score="sum"`, PICNet's `cal_gradient_penalty` on a patch map). The norm runs over all
    pixels and channels of one example, with `tolerance` inside the square root so that a
    critic with zero gradient gives 1, not NaN (the derivative of sqrt at 0 is infinite).
    Call inside the critic's `GradientTape`: the penalty is differentiated through the
    inner gradient (double backprop).

    Args:
        critic: callable [B, H, W, C] -> scores [B, ...].
        real, fake: [B, H, W, C] images; `fake` is not differentiated through.
        epsilon: [B] or [B, 1, 1, 1] interpolation weights, U(0, 1) per example.
        score: "mean" or "sum".

    Returns:
        float32 [B].

    Reference:
        Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017, Algorithm 1.
    """
    if score not in ("mean", "sum"):
        raise ValueError(f"gradient_penalty: score={score!r}; expected 'mean' or 'sum'")
    real = tf.cast(real, "float32")
    fake = tf.stop_gradient(tf.cast(fake, "float32"))
    epsilon = tf.reshape(tf.cast(epsilon, "float32"), [-1, 1, 1, 1])
    interpolates = epsilon * real + (1.0 - epsilon) * fake
    with tf.GradientTape() as tape:
        tape.watch(interpolates)
        scores = tf.cast(critic(interpolates, training=training), "float32")
        flat = tf.reshape(scores, [tf.shape(scores)[0], -1])
        values = tf.reduce_mean(flat, axis=1) if score == "mean" else tf.reduce_sum(flat, axis=1)
    grads = tape.gradient(values, interpolates, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    norm = tf.sqrt(tf.reduce_sum(tf.square(tf.reshape(grads, [tf.shape(grads)[0], -1])), axis=1) + tolerance)
    return tf.square(norm - 1.0)
