"""Optimisers of the papers' trainers: Keras' Adam on TensorFlow's fused kernel, and the
WGAN reference's RMSprop."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfinpaint.layers import internals

# PyTorch's RMSprop defaults, which the WGAN reference code trains with (Keras' are rho 0.9,
# epsilon 1e-7).
TORCH_RMSPROP_RHO = 0.99
TORCH_RMSPROP_EPSILON = 1e-8


@keras.saving.register_keras_serializable(package="tfinpaint")
class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` whose update runs TensorFlow's fused `ResourceApplyAdam` kernel.

    The same update as Keras' Adam (`m`, `v`, bias correction folded into the step size, epsilon
    added after the square root), the same slot variables and config, so checkpoints interchange;
    but one pass over each variable instead of about eight element-wise ops, each a pass over
    memory (docs/BENCHMARKS.md has the speed). Falls back to Keras' update for amsgrad, sparse
    gradients, other backends and `TFINPAINT_FAST_KERNELS=0`.

    Args:
        As `keras.optimizers.Adam`.

    Reference:
        Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
    """

    def update_step(self, gradient, variable, learning_rate):
        if (
            self.amsgrad
            or not internals.FAST_KERNELS
            or keras.backend.backend() != "tensorflow"
            or isinstance(gradient, tf.IndexedSlices)
        ):
            return super().update_step(gradient, variable, learning_rate)
        momentum = internals.optimizer_slot(self, "momentums", variable)
        velocity = internals.optimizer_slot(self, "velocities", variable)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=internals.resource_handle(variable),
            m=internals.resource_handle(momentum),
            v=internals.resource_handle(velocity),
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
            use_locking=False,
        )


@keras.saving.register_keras_serializable(package="tfinpaint")
class TorchRMSprop(keras.optimizers.RMSprop):
    """RMSprop as PyTorch computes it, with PyTorch's defaults: the WGAN reference's optimiser.

    `v = rho v + (1 - rho) g^2; w -= lr g / (sqrt(v) + epsilon)`, rho 0.99, epsilon 1e-8.
    Keras' RMSprop differs in its defaults (rho 0.9, epsilon 1e-7) and adds epsilon inside the
    square root, which bounds the step of a weight with tiny gradients differently. Momentum
    and `centered` fall back to Keras' update.

    Args:
        learning_rate: step size (5e-5 in the WGAN paper).
        rho, epsilon: as above; other arguments as `keras.optimizers.RMSprop`.

    Reference:
        Arjovsky, Chintala, Bottou, "Wasserstein GAN", ICML 2017, Algorithm 1; PyTorch's
        `torch.optim.RMSprop`.
    """

    def __init__(self, learning_rate=5e-5, rho=TORCH_RMSPROP_RHO, epsilon=TORCH_RMSPROP_EPSILON, **kwargs):
        super().__init__(learning_rate, rho=rho, epsilon=epsilon, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        if self.momentum > 0 or self.centered:
            return super().update_step(gradient, variable, learning_rate)
        ops = keras.ops
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        velocity = internals.optimizer_slot(self, "velocities", variable)
        self.assign(velocity, self.rho * velocity + (1.0 - self.rho) * ops.square(gradient))
        self.assign_sub(variable, lr * gradient / (ops.sqrt(velocity) + self.epsilon))
