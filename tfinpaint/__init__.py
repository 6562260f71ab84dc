"""tfinpaint: GAN image inpainting in TensorFlow 2 / Keras 3 (two papers, training to deployment)."""

__version__ = "0.1.0"
