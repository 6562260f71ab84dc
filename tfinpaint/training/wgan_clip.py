"""Paper 2's training model: three phases, weight-clipped WGAN critics, one G forward a step."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfinpaint import losses, metrics
from tfinpaint.config import CRITIC_ROLES
from tfinpaint.models.paper2 import build_critics, build_generator
from tfinpaint.training.gan import InpaintingGAN
from tfinpaint.training.optimizers import FusedAdam, TorchRMSprop

PHASES = ("reconstruction", "critics", "joint")
DEFAULT_ADV_WEIGHT = 0.001


@keras.saving.register_keras_serializable(package="tfinpaint")
class Paper2GAN(InpaintingGAN):
    """Paper 2's Algorithm 1: generator pre-training, critic pre-training, then joint WGAN training.

    - Phase 1, steps [0, t1) (`reconstruction`): the generator on the masked L2 only.
    - Phase 2, steps [t1, t1 + t2) (`critics`): the critics only; no trainable generator
      variable changes.
    - Phase 3, from t1 + t2 (`joint`): the critics, then the generator on
      `L_r + sum_k adv_weights[k] * (-D_k(completed))`. The generator runs once: the critics'
      update reads its completed image with the gradient stopped, the generator's update
      reuses it.

    The critics of phases 2 and 3 see fakes made the same way: by the generator in training
    mode, i.e. with BatchNorm's batch statistics. (Phase 3 needs training mode for its
    generator update, and one forward serves both updates.) In phase 2 this also moves the
    generator's BatchNorm moving statistics towards those batch statistics; its weights stay.

    The critics are a subset of `local`, `global`, `x2`, `x4` (all four: the paper; `local` +
    `global`: GLCIC; `local`: a single local critic, the paper's Tables 6-7 comparison), each
    with its own lambda. Their weights are clipped to [-c, c] by their `WeightClip` constraints,
    which the optimiser applies after every critic update.

    Tracked (replica-local means; every name is returned in every phase): `rec_loss` (masked
    L2, paper eq. 1 as a mean), `wasserstein_<critic>` (mean D(real) - mean D(completed), the
    critic's Wasserstein estimate), `g_adv` (sum over critics of -mean D(completed), before
    the lambdas), `psnr` (of the completed batch, MAX 1). A value a phase does not compute is
    not updated, so after a tracker reset it reads 0: the critics' estimates and `g_adv` in
    phase 1. In phase 2 `g_adv` is read from the critics' own pass (scores before their update).

    Optimisers: `FusedAdam` (Keras' Adam on TensorFlow's fused kernel) or `TorchRMSprop`
    (PyTorch's RMSprop, the WGAN reference), one for the generator and one for all critics
    (Adam's and RMSprop's statistics are per weight, so one optimiser over the critics is the
    same as one each).

    Args:
        generator: `Paper2Generator` (image + mask -> completed image).
        critics: role -> `Paper2Critic`, one or more of the roles `local`, `global`, `x2`, `x4`.
        global_batch_size: images per optimisation step across all replicas.
        t1, t2: lengths of phases 1 and 2 in steps (phase 3 runs for as long as training does).
        adv_weights: role -> lambda of that critic's adversarial term (default 0.001 each).
        optimizer: `adam` (lr, beta_1, beta_2; pix2pixHD defaults) or `rmsprop` (rmsprop_lr).
        lr, beta_1, beta_2, rmsprop_lr: optimiser settings, shared by the generator and critics.

    Reference:
        Mo & Zhou, Automatika 61(4), 2020, Algorithm 1 and eqs. 1-8; Arjovsky et al., WGAN 2017.
    """

    critic_roles = CRITIC_ROLES
    all_critics_required = False
    phase_names = PHASES

    def __init__(
        self,
        generator,
        critics,
        global_batch_size,
        t1=20_000,
        t2=10_000,
        adv_weights=None,
        optimizer="adam",
        lr=2e-4,
        beta_1=0.5,
        beta_2=0.999,
        rmsprop_lr=5e-5,
        **kwargs,
    ):
        super().__init__(generator, critics, global_batch_size, **kwargs)
        if optimizer not in ("adam", "rmsprop"):
            raise ValueError(f"optimizer={optimizer!r}: expected 'adam' or 'rmsprop'")
        if int(t1) < 0 or int(t2) < 0:
            raise ValueError(f"t1={t1}, t2={t2}: phase lengths must be >= 0")
        adv_weights = dict(adv_weights or {})
        if set(adv_weights) - set(self.critics):
            raise ValueError(
                f"adv_weights {sorted(adv_weights)}: expected roles of the critics {list(self.critics)}"
            )
        self.adv_weights = {role: float(adv_weights.get(role, DEFAULT_ADV_WEIGHT)) for role in self.critics}
        self.t1, self.t2 = int(t1), int(t2)
        self.optimizer_name = optimizer
        self.lr, self.beta_1, self.beta_2 = float(lr), float(beta_1), float(beta_2)
        self.rmsprop_lr = float(rmsprop_lr)

    @property
    def tracked_names(self) -> tuple:
        return ("rec_loss", *(f"wasserstein_{k}" for k in self.critics), "g_adv", "psnr")

    # ------------------------------------------------------------------ optimisers, schedule
    def optimizer_variables(self) -> dict:
        return {
            "generator": self.generator.trainable_variables,
            "critics": [v for c in self.critics.values() for v in c.trainable_variables],
        }

    def make_optimizer(self, role: str):
        """The configured optimiser for `role` ("generator" or "critics"), not yet built."""
        if self.optimizer_name == "rmsprop":
            return TorchRMSprop(self.rmsprop_lr, name=f"{role}_rmsprop")
        return FusedAdam(self.lr, beta_1=self.beta_1, beta_2=self.beta_2, name=f"{role}_adam")

    def phase_index(self, step):
        if isinstance(step, int):
            return int(step >= self.t1) + int(step >= self.t1 + self.t2)
        return tf.cast(step >= self.t1, "int32") + tf.cast(step >= self.t1 + self.t2, "int32")

    def phase_updates(self) -> list:
        return [[(self._reconstruction_step, 1)], [(self._critic_step, 1)], [(self._joint_step, 1)]]

    # --------------------------------------------------------------------- per-replica steps
    def _reconstruction_step(self, batch, step, iteration):
        image, mask = batch["image"], batch["mask"]
        with tf.GradientTape() as tape:
            completed = self.generator({"image": image, "mask": mask}, training=True)
            # The generator returns the completion; for a binary mask z * (x - completed) equals
            # z * (x - G(.)), so this is eq. 1 on the raw prediction, with the same gradient.
            rec = losses.masked_l2(image, completed, mask)
            loss = self.scaled("generator", self.average(rec))
        self.apply("generator", tape, loss)
        self.track(rec_loss=rec, psnr=metrics.psnr(image, completed, max_val=1.0))

    def _critic_step(self, batch, step, iteration):
        image, mask = batch["image"], batch["mask"]
        completed = self.generator({"image": image, "mask": mask}, training=True)
        fake_scores = self._update_critics(image, mask, completed)
        self.track(
            rec_loss=losses.masked_l2(image, completed, mask),
            g_adv=tf.add_n([losses.wasserstein_generator_loss(s) for s in fake_scores.values()]),
            psnr=metrics.psnr(image, completed, max_val=1.0),
        )

    def _joint_step(self, batch, step, iteration):
        image, mask = batch["image"], batch["mask"]
        with tf.GradientTape() as tape:
            completed = self.generator({"image": image, "mask": mask}, training=True)
            rec = losses.masked_l2(image, completed, mask)
            with tape.stop_recording():
                self._update_critics(image, mask, completed)
            fake = {"image": completed, "mask": mask}
            adv = {
                role: losses.wasserstein_generator_loss(critic(fake, training=True))
                for role, critic in self.critics.items()
            }
            weighted = [self.adv_weights[role] * self.average(a) for role, a in adv.items()]
            loss = self.scaled("generator", self.average(rec) + tf.add_n(weighted))
        self.apply("generator", tape, loss)
        psnr = metrics.psnr(image, completed, max_val=1.0)
        self.track(rec_loss=rec, g_adv=tf.add_n(list(adv.values())), psnr=psnr)

    def _update_critics(self, image, mask, completed):
        """One update of every critic on real vs completed images; returns their fake scores."""
        batch_size = tf.shape(image)[0]
        # Real and completed images go through each critic as one batch of 2B: one conv call each.
        both = {
            "image": tf.concat([image, tf.stop_gradient(completed)], axis=0),
            "mask": tf.concat([mask, mask], axis=0),
        }
        fake_scores, estimates = {}, {}
        with tf.GradientTape() as tape:
            total = 0.0
            for name, critic in self.critics.items():
                real, fake = tf.split(critic(both, training=True), [batch_size, batch_size], axis=0)
                per_example = losses.wasserstein_critic_loss(real, fake)
                total += per_example
                fake_scores[name], estimates[f"wasserstein_{name}"] = fake, -per_example
            loss = self.scaled("critics", self.average(total))
        self.apply("critics", tape, loss)
        self.track(**estimates)
        return fake_scores

    def get_config(self):
        return {
            **super().get_config(),
            "t1": self.t1,
            "t2": self.t2,
            "adv_weights": dict(self.adv_weights),
            "optimizer": self.optimizer_name,
            "lr": self.lr,
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "rmsprop_lr": self.rmsprop_lr,
        }


def build_gan(config, global_batch_size: int) -> Paper2GAN:
    """Paper 2's training model of `config`; call inside the strategy's scope, then `build_optimizers()`.

    A `train.steps` below the schedule scales its phases (`Paper2Config.phase_lengths`).
    """
    m = config.model
    t1, t2, _ = m.phase_lengths(config.total_steps())
    return Paper2GAN(
        build_generator(config),
        build_critics(config),
        global_batch_size,
        t1=t1,
        t2=t2,
        adv_weights=m.adv_weights,
        optimizer=m.optimizer,
        lr=m.lr,
        beta_1=m.beta_1,
        beta_2=m.beta_2,
        rmsprop_lr=m.rmsprop_lr,
        name="paper2_gan",
    )
