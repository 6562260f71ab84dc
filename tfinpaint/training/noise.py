"""Per-example stateless noise for the training steps.

Example `i` draws its numbers from a stateless RNG keyed by (`batch["index"][i]`, training
seed, step, iteration, purpose), so every example draws the same numbers whatever replica it
lands on (stateful ops would make replicas draw identical numbers and break 1-vs-N
equivalence, and would make the data iterator uncheckpointable).
"""

from __future__ import annotations

import tensorflow as tf


def noise_seeds(index, seed, step, iteration, purpose):
    """Stateless RNG seeds [B, 2] (int64): one per example, keyed by its global index.

    The second word packs (seed, step, iteration < 64, purpose < 8); int64 arithmetic wraps
    silently, which only matters for seeds above 2**20 and is harmless for noise.
    """
    word = (
        (tf.cast(seed, "int64") * (1 << 34) + tf.cast(step, "int64")) * 64 + tf.cast(iteration, "int64")
    ) * 8 + purpose
    index = tf.cast(index, "int64")
    return tf.stack([index, tf.broadcast_to(word, tf.shape(index))], axis=1)


def per_example_normal(seeds, shape):
    """Standard normal noise [B, *shape], example b drawn from `seeds[b]` (float32)."""
    return tf.map_fn(
        lambda s: tf.random.stateless_normal(shape, seed=s), seeds, fn_output_signature=tf.float32
    )


def per_example_uniform(seeds):
    """U(0, 1) values [B], example b drawn from `seeds[b]` (float32)."""
    return tf.map_fn(lambda s: tf.random.stateless_uniform([], seed=s), seeds, fn_output_signature=tf.float32)
