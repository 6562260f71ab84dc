"""Paper 2's training model: three phases, four weight-clipped WGAN critics, one G forward a step."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfinpaint import losses, metrics
from tfinpaint.training.gan import InpaintingGAN

PHASES = ("reconstruction", "critics", "joint")
CRITICS = ("local", "global", "x2", "x4")


@keras.saving.register_keras_serializable(package="tfinpaint")
class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` whose update runs TensorFlow's fused `ResourceApplyAdam` kernel.

    The same update as Keras' Adam (`m`, `v`, bias correction folded into the step size, epsilon
    added after the square root), the same slot variables and config, so checkpoints interchange;
    but one pass over each variable instead of about eight element-wise ops, each a pass over
    memory. With paper 2's 43.5 M critic parameters, Keras' Adam was ~10% of the joint step under
    mixed_bfloat16 on a 2-core CPU. Falls back to Keras' update for amsgrad, sparse gradients
    and other backends.

    Args:
        As `keras.optimizers.Adam`.

    Reference:
        Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
    """

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or keras.backend.backend() != "tensorflow" or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        index = self._get_variable_index(variable)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable),
            m=_handle(self._momentums[index]),
            v=_handle(self._velocities[index]),
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
            use_locking=False,
        )


def _handle(variable):
    # A Keras variable wraps a tf.Variable; inside a strategy's update() call the handle of a
    # mirrored variable is that of the copy on the device being updated.
    return (variable.value if isinstance(variable, keras.Variable) else variable).handle


@keras.saving.register_keras_serializable(package="tfinpaint")
class Paper2GAN(InpaintingGAN):
    """Paper 2's Algorithm 1: generator pre-training, critic pre-training, then joint WGAN training.

    - Phase 1, steps [0, t1) (`reconstruction`): the generator on the masked L2 only.
    - Phase 2, steps [t1, t1 + t2) (`critics`): the four critics only; the generator runs in
      inference mode, so none of its variables (BatchNorm statistics included) change.
    - Phase 3, from t1 + t2 (`joint`): the critics, then the generator on
      `L_r + adv_weight * sum_k(-D_k(completed))`. The generator runs once: the critics' update
      reads its completed image with the gradient stopped, the generator's update reuses it.

    The phase is chosen in the graph from `self.step` (a checkpointed variable), so one compiled
    step serves the whole schedule and a restored run continues in the right phase. Critic
    weights are clipped to [-c, c] by their `WeightClip` constraints, which the optimiser
    applies after every critic update.

    Tracked (replica-local means; every name is returned in every phase): `rec_loss` (masked
    L2, paper eq. 1 as a mean), `wasserstein_<critic>` (mean D(real) - mean D(completed), the
    critic's Wasserstein estimate), `g_adv` (sum over critics of -mean D(completed), before
    the adv_weight), `psnr` (of the completed batch, MAX 1). A value a phase does not compute is
    not updated, so after a tracker reset it reads 0: the critics' estimates and `g_adv` in
    phase 1. In phase 2 `g_adv` is read from the critics' own pass (scores before their update).

    Optimisers: `FusedAdam` (Keras' Adam on TensorFlow's fused kernel) or Keras' RMSprop, one
    for the generator and one for all four critics (Adam's moments are per weight, so one
    optimiser over the four is the same as four).

    Mixed precision: under `mixed_float16` both optimisers are wrapped in
    `keras.optimizers.LossScaleOptimizer` (dynamic loss scaling; a step with non-finite
    gradients is skipped); `mixed_bfloat16` needs no scaling. Scores and losses are float32.

    Args:
        generator: `Paper2Generator` (image + mask -> completed image).
        critics: role -> `Paper2Critic`, the roles `local`, `global`, `x2`, `x4`.
        global_batch_size: images per optimisation step across all replicas.
        t1, t2: lengths of phases 1 and 2 in steps (phase 3 runs for as long as training does).
        adv_weight: lambda_1..4, the weight of each critic's adversarial term (0.001).
        optimizer: `adam` (lr, beta_1, beta_2; pix2pixHD defaults) or `rmsprop` (rmsprop_lr).
        lr, beta_1, beta_2, rmsprop_lr: optimiser settings, shared by the generator and critics.

    Reference:
        Mo & Zhou, Automatika 61(4), 2020, Algorithm 1 and eqs. 1-8; Arjovsky et al., WGAN 2017.
    """

    tracked_names = ("rec_loss", *(f"wasserstein_{k}" for k in CRITICS), "g_adv", "psnr")

    def __init__(
        self,
        generator,
        critics,
        global_batch_size,
        t1=20_000,
        t2=10_000,
        adv_weight=0.001,
        optimizer="adam",
        lr=2e-4,
        beta_1=0.5,
        beta_2=0.999,
        rmsprop_lr=5e-5,
        **kwargs,
    ):
        if sorted(critics) != sorted(CRITICS):
            raise ValueError(f"critics: expected the roles {list(CRITICS)}, got {sorted(critics)}")
        super().__init__(generator, critics, global_batch_size, **kwargs)
        if optimizer not in ("adam", "rmsprop"):
            raise ValueError(f"optimizer={optimizer!r}: expected 'adam' or 'rmsprop'")
        if int(t1) < 0 or int(t2) < 0:
            raise ValueError(f"t1={t1}, t2={t2}: phase lengths must be >= 0")
        self.t1, self.t2 = int(t1), int(t2)
        self.adv_weight = float(adv_weight)
        self.optimizer_name = optimizer
        self.lr, self.beta_1, self.beta_2, self.rmsprop_lr = (
            float(lr),
            float(beta_1),
            float(beta_2),
            float(rmsprop_lr),
        )
        self.generator_optimizer = None
        self.critic_optimizer = None

    # ----------------------------------------------------------------------------- optimisers
    def make_optimizer(self, role: str):
        """The configured optimiser for `role` ("generator" or "critics"), not yet built."""
        if self.optimizer_name == "rmsprop":
            return keras.optimizers.RMSprop(self.rmsprop_lr, name=f"{role}_rmsprop")
        return FusedAdam(self.lr, beta_1=self.beta_1, beta_2=self.beta_2, name=f"{role}_adam")

    def build_optimizers(self, factory=None):
        """Create and build both optimisers; call inside the strategy's scope.

        Args:
            factory: optional `role -> optimizer` (roles "generator", "critics") replacing the
                configured Adam / RMSprop, e.g. plain SGD for replica-equivalence tests.
        """
        factory = factory or self.make_optimizer
        variables = {
            "generator": self.generator.trainable_variables,
            "critics": [v for c in self.critics.values() for v in c.trainable_variables],
        }
        built = {}
        for role, trainable in variables.items():
            opt = factory(role)
            if keras.mixed_precision.global_policy().name == "mixed_float16" and not isinstance(
                opt, keras.optimizers.LossScaleOptimizer
            ):
                opt = keras.optimizers.LossScaleOptimizer(opt, name=f"{role}_loss_scale")
            opt.build(trainable)
            built[role] = opt
        self.generator_optimizer, self.critic_optimizer = built["generator"], built["critics"]
        return built

    def optimizers(self) -> dict:
        if self.generator_optimizer is None:
            raise RuntimeError("call build_optimizers() (inside the strategy scope) before training")
        return {"generator": self.generator_optimizer, "critics": self.critic_optimizer}

    # ------------------------------------------------------------------------------- schedule
    def phase(self, step: int) -> str:
        return PHASES[self._phase_index(int(step))]

    def _phase_index(self, step):
        if isinstance(step, int):
            return int(step >= self.t1) + int(step >= self.t1 + self.t2)
        return tf.cast(step >= self.t1, "int32") + tf.cast(step >= self.t1 + self.t2, "int32")

    # ---------------------------------------------------------------------------------- steps
    def train_step(self, batch):
        self.optimizers()
        replica = tf.distribute.get_replica_context()
        if replica is None:
            raise RuntimeError(
                "Paper2GAN.train_step must run in a replica context: drive it with "
                "tfinpaint.training.distribute.make_step_function (strategy.run)"
            )
        batch = {"image": tf.cast(batch["image"], "float32"), "mask": tf.cast(batch["mask"], "float32")}
        # A branch whose body all-reduces gradients (merge_call) cannot sit in a replica-context
        # cond under MirroredStrategy, so the phase is switched in cross-replica context and each
        # branch runs its step on every replica (the pattern of Keras' LossScaleOptimizer).
        replica.merge_call(self._switch_phase, args=(batch,))
        self.step.assign_add(1)
        return self.results()

    def _switch_phase(self, strategy, batch):
        def on_replicas(step_fn):
            def branch():
                strategy.extended.call_for_each_replica(step_fn, args=(batch,))
                return tf.constant(0)

            return branch

        steps = (self._reconstruction_step, self._critic_step, self._joint_step)
        tf.switch_case(self._phase_index(tf.convert_to_tensor(self.step)), [on_replicas(f) for f in steps])

    def _reconstruction_step(self, batch):
        image, mask = batch["image"], batch["mask"]
        with tf.GradientTape() as tape:
            completed = self.generator(batch, training=True)
            # The generator returns the completion; for a binary mask z * (x - completed) equals
            # z * (x - G(.)), so this is eq. 1 on the raw prediction, with the same gradient.
            rec = losses.masked_l2(image, completed, mask)
            loss = self.generator_optimizer.scale_loss(self.average(rec))
        self.generator_optimizer.apply(
            tape.gradient(loss, self.generator.trainable_variables), self.generator.trainable_variables
        )
        self.track(rec_loss=rec, psnr=metrics.psnr(image, completed, max_val=1.0))

    def _critic_step(self, batch):
        image, mask = batch["image"], batch["mask"]
        completed = self.generator(batch, training=False)
        fake_scores = self._update_critics(image, mask, completed)
        self.track(
            rec_loss=losses.masked_l2(image, completed, mask),
            g_adv=tf.add_n([losses.wasserstein_generator_loss(s) for s in fake_scores.values()]),
            psnr=metrics.psnr(image, completed, max_val=1.0),
        )

    def _joint_step(self, batch):
        image, mask = batch["image"], batch["mask"]
        with tf.GradientTape() as tape:
            completed = self.generator(batch, training=True)
            rec = losses.masked_l2(image, completed, mask)
            with tape.stop_recording():
                self._update_critics(image, mask, completed)
            fake = {"image": completed, "mask": mask}
            adv = tf.add_n(
                [losses.wasserstein_generator_loss(c(fake, training=True)) for c in self.critics.values()]
            )
            loss = self.average(rec) + self.adv_weight * self.average(adv)
            loss = self.generator_optimizer.scale_loss(loss)
        self.generator_optimizer.apply(
            tape.gradient(loss, self.generator.trainable_variables), self.generator.trainable_variables
        )
        self.track(rec_loss=rec, g_adv=adv, psnr=metrics.psnr(image, completed, max_val=1.0))

    def _update_critics(self, image, mask, completed):
        """One update of every critic on real vs completed images; returns their fake scores."""
        batch_size = tf.shape(image)[0]
        # Real and completed images go through each critic as one batch of 2B: one conv call each.
        both = {
            "image": tf.concat([image, tf.stop_gradient(completed)], axis=0),
            "mask": tf.concat([mask, mask], axis=0),
        }
        variables = [v for c in self.critics.values() for v in c.trainable_variables]
        fake_scores, estimates = {}, {}
        with tf.GradientTape() as tape:
            total = 0.0
            for name, critic in self.critics.items():
                real, fake = tf.split(critic(both, training=True), [batch_size, batch_size], axis=0)
                per_example = losses.wasserstein_critic_loss(real, fake)
                total += per_example
                fake_scores[name], estimates[f"wasserstein_{name}"] = fake, -per_example
            loss = self.critic_optimizer.scale_loss(self.average(total))
        self.critic_optimizer.apply(tape.gradient(loss, variables), variables)
        self.track(**estimates)
        return fake_scores

    def get_config(self):
        return {
            **super().get_config(),
            "t1": self.t1,
            "t2": self.t2,
            "adv_weight": self.adv_weight,
            "optimizer": self.optimizer_name,
            "lr": self.lr,
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "rmsprop_lr": self.rmsprop_lr,
        }
