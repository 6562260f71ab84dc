"""Per-pixel noise inputs (StyleGAN's), so a generator has something to make texture from."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfinpaint")
class NoiseInjection(keras.layers.Layer):
    """Adds single-channel Gaussian noise, scaled by a learned weight per channel, to its input.

    Why: deep inside a large hole an inpainting generator's input is constant, so its features
    there are smooth functions of the distance to the hole's edge; the only high frequencies a
    deterministic decoder can paint from them are tied to its upsampling grid, and an
    adversarial loss gets exactly that: a lattice. Noise is a source of detail that is not on a
    grid (Karras et al., StyleGAN, 2019, section 3.2); the scales start at zero, so the layer
    begins as the identity and a trained generator is unchanged until training asks for noise.

    Training draws fresh noise at every call. Inference reads a fixed `tile` x `tile` pattern,
    drawn from `seed` at build and saved with the weights, repeated over the input: the same
    photo and mask give the same fill every time, in Keras, a SavedModel and TFLite alike.

    Args:
        tile: side of the inference pattern in pixels (a repeat shorter than the photo would
            show as a period in a strongly noise-driven fill).
        seed: the pattern's seed.

    Inputs/outputs: [B, H, W, C] -> [B, H, W, C].
    """

    def __init__(self, tile: int = 256, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if int(tile) < 1:
            raise ValueError(f"NoiseInjection tile={tile!r}: expected a positive integer")
        self.tile = int(tile)
        self.seed = int(seed)

    def build(self, input_shape):
        self.scale = self.add_weight(name="scale", shape=(input_shape[-1],), initializer="zeros")
        pattern = np.random.default_rng(self.seed).standard_normal((self.tile, self.tile, 1))
        self.pattern = self.add_weight(
            name="pattern",
            shape=pattern.shape,
            initializer=keras.initializers.Constant(pattern.astype("float32")),
            trainable=False,
        )
        self.built = True

    def call(self, inputs, training=False):
        shape = tf.shape(inputs)
        if training:
            noise = tf.random.normal([shape[0], shape[1], shape[2], 1])
        else:
            repeats = [-(-shape[1] // self.tile), -(-shape[2] // self.tile), 1]
            noise = tf.tile(tf.convert_to_tensor(self.pattern), repeats)[None, : shape[1], : shape[2]]
        return inputs + tf.cast(noise, inputs.dtype) * tf.cast(self.scale, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "tile": self.tile, "seed": self.seed}
