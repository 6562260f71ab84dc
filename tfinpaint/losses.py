"""Losses as small pure functions returning one value per example ([B]).

Reduce them with `tf.nn.compute_average_loss(..., global_batch_size=...)` (see
`InpaintingGAN.average`) so that 1 and N replicas train the same model.
"""
import tensorflow as tf


def per_example_mean(x):
    """Mean over every axis but the first: [B, ...] -> [B]."""
    x = tf.cast(x, "float32")
    return tf.reduce_mean(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)


def complete(image, mask, prediction):
    """The completed image: known pixels from `image`, the hole (mask 1) from `prediction`."""
    prediction = tf.cast(prediction, image.dtype)
    return image * (1.0 - mask) + prediction * mask


def masked_l2(image, prediction, mask):
    """Paper 2 eq. 1 as a mean: mean over pixels and channels of (mask * (image - prediction))^2.

    Returns:
        float32 [B].
    """
    diff = tf.cast(mask, "float32") * (tf.cast(image, "float32") - tf.cast(prediction, "float32"))
    return per_example_mean(tf.square(diff))


def critic_score(scores):
    """A critic's value per example: the mean of its output (a patch map or a single unit)."""
    return per_example_mean(scores)


def wasserstein_critic_loss(real_scores, fake_scores):
    """WGAN critic loss D(fake) - D(real) per example; the critic minimises it."""
    return critic_score(fake_scores) - critic_score(real_scores)


def wasserstein_generator_loss(fake_scores):
    """WGAN generator loss -D(fake) per example."""
    return -critic_score(fake_scores)
