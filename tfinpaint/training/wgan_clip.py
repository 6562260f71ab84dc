"""Paper 2's training model: three phases, WGAN critics (clipped or penalised), one G forward a step."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfinpaint import losses, metrics
from tfinpaint.config import CRITIC_ROLES
from tfinpaint.models.paper2 import build_generator
from tfinpaint.models.paper2_critics import build_critics
from tfinpaint.training.gan import InpaintingGAN
from tfinpaint.training.noise import noise_seeds, per_example_uniform
from tfinpaint.training.optimizers import FusedAdam, TorchRMSprop

PHASES = ("reconstruction", "critics", "joint")
DEFAULT_ADV_WEIGHT = 0.001
_EPSILON = 1  # the gradient penalty's purpose in the noise stream
# The model settings `build_gan` hands `Paper2GAN`, under the config's names.
_CONFIG_SETTINGS = (
    "adv_weights", "critic_regularizer", "gp_weight", "gan_loss", "adv_weighting", "adv_ratio",
    "adv_ramp", "optimizer", "lr", "beta_1", "beta_2", "rmsprop_lr", "generator_lr", "fm_ratio",
    "rec_lowpass", "rec_chroma_weight",
)  # fmt: skip


def global_norm(gradient):
    """The L2 norm of a per-replica gradient over the whole global batch (all replicas)."""
    squares = tf.reduce_sum(tf.square(gradient))
    return tf.sqrt(tf.distribute.get_replica_context().all_reduce("sum", squares))


@keras.saving.register_keras_serializable(package="tfinpaint")
class Paper2GAN(InpaintingGAN):
    """Paper 2's Algorithm 1: generator pre-training, critic pre-training, then joint WGAN training.

    - Phase 1, steps [0, t1) (`reconstruction`): the generator on the masked L2 only.
    - Phase 2, steps [t1, t1 + t2) (`critics`): the critics only; no trainable generator
      variable changes.
    - Phase 3, from t1 + t2 (`joint`): the critics, then the generator on
      `L_r + w * sum_k adv_weights[k] * (-D_k(completed))`. The generator runs once: the critics'
      update reads its completed image with the gradient stopped, the generator's update
      reuses it. Its gradient is taken in two stages: both terms are differentiated with
      respect to the completed image (so their norms can be compared and balanced), then the
      sum is carried back through the generator.

    The adversarial weight `w` (`adv_weighting`): `summed` = 1 / (3 H W), the paper's lambdas
    read against its eq. 1 summed over pixels, since `L_r` here is a per-pixel mean; `mean` = 1;
    `adaptive` = `adv_ratio * |grad L_r| / |grad sum_k lambda_k L_adv,k|` at the completed
    image, every step (the lambdas then only weigh the critics against each other). `w` rises
    linearly from 0 over the first `adv_ramp` joint steps.

    With `fm_ratio` > 0 the generator also matches the critics' features (pix2pixHD's
    feature-matching loss: the mean L1 between each critic's activations on the real and on the
    completed image, `losses.feature_matching`), its image gradient scaled to `fm_ratio` times
    the reconstruction gradient's norm whatever `adv_weighting` is, under the same ramp. Unlike
    L2 it asks the hole to look like the real image to the critics, not to equal it pixel by
    pixel. Not the paper.

    With `rec_lowpass` > 0 the joint phase's reconstruction loss sees the hole's residual through
    a Gaussian of that many px (`losses.lowpass_masked_l2`): the fill's colours and shapes are
    still held to the photo, its finer detail only to the critics. The weightings above then
    read that loss's gradient. Phase 1 keeps eq. 1. Not the paper.

    The critics of phases 2 and 3 see fakes made the same way: by the generator in training
    mode, i.e. with BatchNorm's batch statistics. (Phase 3 needs training mode for its
    generator update, and one forward serves both updates.) In phase 2 this also moves the
    generator's BatchNorm moving statistics towards those batch statistics; its weights stay.

    The critics are a subset of `local`, `global`, `x2`, `x4` (all four: the paper; `local` +
    `global`: GLCIC; `local`: a single local critic, the paper's Tables 6-7 comparison) and
    `patch` (a PatchGAN, not the paper), each with its own lambda. They are held to a Lipschitz
    bound by `critic_regularizer`: `clip` (the paper) clips their weights to [-c, c] through
    their `WeightClip` constraints, which the optimiser applies after every critic update; `gp`
    adds WGAN-GP's gradient penalty (`gp_weight`) on interpolates of real and completed images,
    drawn per example from the batch's `index` and `seed`; `spectral` critics are spectrally
    normalised when built, nothing is added here. `gan_loss` is the critics' loss: the paper's
    Wasserstein loss or the hinge loss (`losses.hinge_critic_loss`); the generator's term is
    -D(completed) with either.

    Tracked (replica-local means; every name is returned in every phase): `rec_loss` (masked
    L2, paper eq. 1 as a mean), `wasserstein_<critic>` (mean D(real) - mean D(completed), the
    critic's Wasserstein estimate, whichever loss it minimises), `g_adv` (sum over critics of
    -mean D(completed), before the lambdas), `gp_<critic>` (the penalty, `gp` only),
    `adv_weight` (w) and `grad_ratio` (|w grad sum_k lambda_k L_adv,k| / |grad L_r| at the
    completed image), `psnr` (of the completed batch, MAX 1). A value a phase does not compute is
    not updated, so after a tracker reset it reads 0: the critics' estimates and `g_adv` in
    phase 1. In phase 2 `g_adv` is read from the critics' own pass (scores before their update).

    Optimisers: `FusedAdam` (Keras' Adam on TensorFlow's fused kernel) or `TorchRMSprop`
    (PyTorch's RMSprop, the WGAN reference), one for the generator and one for all critics
    (Adam's and RMSprop's statistics are per weight, so one optimiser over the critics is the
    same as one each).

    Args:
        generator: `Paper2Generator` (image + mask -> completed image).
        critics: role -> `Paper2Critic`, one or more of the roles `local`, `global`, `x2`, `x4`,
            `patch`.
        global_batch_size: images per optimisation step across all replicas.
        t1, t2: lengths of phases 1 and 2 in steps (phase 3 runs for as long as training does).
        adv_weights: role -> lambda of that critic's adversarial term (default 0.001 each).
        critic_regularizer: `clip`, `gp` or `spectral` (see above); gp_weight: the penalty's weight.
        gan_loss: the critics' loss, `wasserstein` (the paper) or `hinge`.
        optimizer: `adam` (lr, beta_1, beta_2; pix2pixHD defaults) or `rmsprop` (rmsprop_lr).
        lr, beta_1, beta_2, rmsprop_lr: optimiser settings, shared by the generator and critics.
        generator_lr: the generator's own rate (None = the critics'; a fine-tune's is lower).
        fm_ratio: the feature-matching / reconstruction gradient-norm ratio (0 = no feature
            matching, the paper).
        rec_lowpass: sigma in px of the joint phase's low-pass reconstruction loss (0 = eq. 1).
        rec_chroma_weight: the reconstruction loss's colour / brightness weight in every phase
            (`losses.masked_l2`; 1 = eq. 1). `rec_loss` is tracked as eq. 1 either way.

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
        critic_regularizer="clip",
        gp_weight=10.0,
        gan_loss="wasserstein",
        adv_weighting="adaptive",
        adv_ratio=0.2,
        adv_ramp=0,
        seed=0,
        optimizer="adam",
        lr=2e-4,
        beta_1=0.5,
        beta_2=0.999,
        rmsprop_lr=5e-5,
        generator_lr=None,
        fm_ratio=0.0,
        rec_lowpass=0.0,
        rec_chroma_weight=1.0,
        **kwargs,
    ):
        # The settings are checked by the config (`Paper2Config.validate`).
        self.critic_regularizer, self.gp_weight = critic_regularizer, float(gp_weight)
        self.gan_loss = gan_loss
        self.adv_weighting, self.adv_ratio, self.adv_ramp = adv_weighting, float(adv_ratio), int(adv_ramp)
        self.seed, self.fm_ratio, self.rec_lowpass = int(seed), float(fm_ratio), float(rec_lowpass)
        self.rec_chroma_weight = float(rec_chroma_weight)
        # Set before the base class reads `tracked_names`; the penalty keys its noise by "index".
        self.batch_keys = ("image", "mask", "index") if critic_regularizer == "gp" else ("image", "mask")
        super().__init__(generator, critics, global_batch_size, **kwargs)
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
        self.generator_lr = None if generator_lr is None else float(generator_lr)

    @property
    def tracked_names(self) -> tuple:
        gp = tuple(f"gp_{k}" for k in self.critics) if self.critic_regularizer == "gp" else ()
        fm = ("fm_loss", "fm_grad_ratio") if self.fm_ratio else ()
        return (
            "rec_loss",
            *(f"wasserstein_{k}" for k in self.critics),
            *gp,
            "g_adv",
            "adv_weight",
            "grad_ratio",
            *fm,
            "psnr",
        )

    # ------------------------------------------------------------------ optimisers, schedule
    def optimizer_variables(self) -> dict:
        return {
            "generator": self.generator.trainable_variables,
            "critics": [v for c in self.critics.values() for v in c.trainable_variables],
        }

    def make_optimizer(self, role: str):
        """The configured optimiser for `role` ("generator" or "critics"), not yet built."""
        rmsprop = self.optimizer_name == "rmsprop"
        rate = self.rmsprop_lr if rmsprop else self.lr
        if role == "generator" and self.generator_lr is not None:
            rate = self.generator_lr
        if rmsprop:
            return TorchRMSprop(rate, name=f"{role}_rmsprop")
        return FusedAdam(rate, beta_1=self.beta_1, beta_2=self.beta_2, name=f"{role}_adam")

    def phase_index(self, step: int) -> int:
        return int(step >= self.t1) + int(step >= self.t1 + self.t2)

    def run_updates(self, batch, step) -> None:
        """The paper's Algorithm 1 (docs/SPEC-paper2.md, "Training schedule"). With `clip`, the
        critics' `WeightClip` constraints clip their weights after every critic update."""
        if step < self.t1:
            # Phase 1: the generator on the reconstruction loss alone; critics untouched.
            self.on_replicas(self._reconstruction_update, batch)
        elif step < self.t1 + self.t2:
            # Phase 2: the critics alone; the generator's weights untouched.
            self.on_replicas(self._critic_update, batch, step)
        else:
            # Phase 3: the critics, then the generator on L_r + w * adversarial. One replica
            # call: one generator forward serves both updates (see the class docstring).
            self.on_replicas(self._joint_update, batch, step)

    # --------------------------------------------------------------------- per-replica updates
    def _reconstruction_update(self, batch):
        image, mask = batch["image"], batch["mask"]
        with tf.GradientTape() as tape:
            completed = self.generator({"image": image, "mask": mask}, training=True)
            # The generator returns the completion; for a binary mask z * (x - completed) equals
            # z * (x - G(.)), so this is eq. 1 on the raw prediction, with the same gradient.
            rec = losses.masked_l2(image, completed, mask, self.rec_chroma_weight)
            loss = self.scaled("generator", self.average(rec))
        self.apply("generator", tape, loss)
        # Tracked as eq. 1 (computed again only when the colour weight changed the loss).
        eq_1 = rec if self.rec_chroma_weight == 1 else losses.masked_l2(image, completed, mask)
        self.track(rec_loss=eq_1, psnr=metrics.psnr(image, completed, max_val=1.0))

    def _critic_update(self, batch, step):
        image, mask = batch["image"], batch["mask"]
        completed = tf.cast(self.generator({"image": image, "mask": mask}, training=True), "float32")
        fake_scores = self._step_critics(batch, step, completed)
        self.track(
            rec_loss=losses.masked_l2(image, completed, mask),
            g_adv=tf.add_n([losses.wasserstein_generator_loss(s) for s in fake_scores.values()]),
            psnr=metrics.psnr(image, completed, max_val=1.0),
        )

    def _joint_update(self, batch, step):
        image, mask = batch["image"], batch["mask"]
        with tf.GradientTape() as tape:
            completed = tf.cast(self.generator({"image": image, "mask": mask}, training=True), "float32")
            with tape.stop_recording():
                # The critics first, on this forward's completed images; the generator's output
                # gradient then reads the updated critics.
                self._step_critics(batch, step, completed)
                output_gradient = self._output_gradient(image, mask, completed, step)
            # d/dθ sum(g * G_θ(x)) = J^T g: the generator's gradient from the one on its output
            # (already loss-scaled).
            loss = tf.reduce_sum(output_gradient * completed)
        self.apply("generator", tape, loss)
        self.track(psnr=metrics.psnr(image, completed, max_val=1.0))

    def _output_gradient(self, image, mask, completed, step):
        """d(L_r + w * sum_k lambda_k L_adv,k) / d(completed image), w from `adv_weighting`,
        times the generator's loss scale.

        Both terms are differentiated with respect to the completed image apart, so their
        gradient norms can be compared (`grad_ratio`, logged) and, for `adaptive`, balanced.
        Under `mixed_float16` the critics' float16 backward pass would flush the small
        adversarial gradient to 0 unscaled, so both terms carry the loss scale (1 otherwise).
        """
        scale = self.scaled("generator", tf.constant(1.0))
        with tf.GradientTape(persistent=True) as image_tape:
            image_tape.watch(completed)
            rec = losses.masked_l2(image, completed, mask)
            fake = {"image": completed, "mask": mask}
            # Tracked as eq. 1; fitted through `rec_lowpass`'s blur and `rec_chroma_weight`.
            rec_fitted = losses.lowpass_masked_l2(
                image, completed, mask, self.rec_lowpass, self.rec_chroma_weight
            )
            adv = {
                role: losses.wasserstein_generator_loss(critic(fake, training=True))
                for role, critic in self.critics.items()
            }
            rec_total = scale * self.average(rec_fitted)
            adv_total = scale * tf.add_n(
                [self.adv_weights[role] * self.average(a) for role, a in adv.items()]
            )
            if self.fm_ratio:
                real = {"image": image, "mask": mask}
                fm = tf.add_n(
                    [
                        losses.feature_matching(c.features(real), c.features(fake))
                        for c in self.critics.values()
                    ]
                )
                fm_total = scale * self.average(fm)
        rec_grad = image_tape.gradient(rec_total, completed)
        adv_grad = image_tape.gradient(adv_total, completed)
        rec_norm, adv_norm = global_norm(rec_grad), global_norm(adv_grad)
        if self.adv_weighting == "adaptive":
            weight = self.adv_ratio * tf.math.divide_no_nan(rec_norm, adv_norm)
        elif self.adv_weighting == "summed":
            weight = 1.0 / tf.cast(tf.reduce_prod(tf.shape(image)[1:]), "float32")
        else:
            weight = tf.constant(1.0)
        weight *= self.ramp(step)
        self.track(
            rec_loss=rec,
            g_adv=tf.add_n(list(adv.values())),
            adv_weight=weight,
            grad_ratio=tf.math.divide_no_nan(weight * adv_norm, rec_norm),
        )
        gradient = rec_grad + weight * adv_grad
        if self.fm_ratio:
            fm_grad = image_tape.gradient(fm_total, completed)
            fm_norm = global_norm(fm_grad)
            fm_weight = self.fm_ratio * tf.math.divide_no_nan(rec_norm, fm_norm) * self.ramp(step)
            self.track(fm_loss=fm, fm_grad_ratio=tf.math.divide_no_nan(fm_weight * fm_norm, rec_norm))
            gradient += fm_weight * fm_grad
        return gradient

    def ramp(self, step):
        """The adversarial weight's factor at `step`: 0 -> 1 over the first `adv_ramp` joint steps."""
        if self.adv_ramp == 0:
            return tf.constant(1.0)
        joint_steps = tf.cast(step - self.t1 - self.t2 + 1, "float32")
        return tf.clip_by_value(joint_steps / self.adv_ramp, 0.0, 1.0)

    def _step_critics(self, batch, step, completed):
        """One update of every critic on real vs completed images; returns their fake scores."""
        image, mask = batch["image"], batch["mask"]
        batch_size = tf.shape(image)[0]
        completed = tf.stop_gradient(completed)
        # Real and completed images go through each critic as one batch of 2B: one conv call each.
        both = {"image": tf.concat([image, completed], axis=0), "mask": tf.concat([mask, mask], axis=0)}
        if self.critic_regularizer == "gp":
            epsilon = per_example_uniform(noise_seeds(batch["index"], self.seed, step, 0, _EPSILON))
        fake_scores, estimates = {}, {}
        with tf.GradientTape() as tape:
            total = 0.0
            for name, critic in self.critics.items():
                real, fake = tf.split(critic(both, training=True), [batch_size, batch_size], axis=0)
                wasserstein = losses.wasserstein_critic_loss(real, fake)
                fake_scores[name], estimates[f"wasserstein_{name}"] = fake, -wasserstein
                per_example = (
                    losses.hinge_critic_loss(real, fake) if self.gan_loss == "hinge" else wasserstein
                )
                if self.critic_regularizer == "gp":
                    # The local critic crops its window around the hole of the same mask.
                    def scores(x, training, critic=critic):
                        return critic({"image": x, "mask": mask}, training=training)

                    penalty = losses.gradient_penalty(scores, image, completed, epsilon)
                    per_example += self.gp_weight * penalty
                    estimates[f"gp_{name}"] = penalty
                total += per_example
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
            "critic_regularizer": self.critic_regularizer,
            "gp_weight": self.gp_weight,
            "gan_loss": self.gan_loss,
            "adv_weighting": self.adv_weighting,
            "adv_ratio": self.adv_ratio,
            "adv_ramp": self.adv_ramp,
            "seed": self.seed,
            "optimizer": self.optimizer_name,
            "lr": self.lr,
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "rmsprop_lr": self.rmsprop_lr,
            "generator_lr": self.generator_lr,
            "fm_ratio": self.fm_ratio,
            "rec_lowpass": self.rec_lowpass,
            "rec_chroma_weight": self.rec_chroma_weight,
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
        seed=config.train.seed,
        name="paper2_gan",
        **{name: getattr(m, name) for name in _CONFIG_SETTINGS},
    )
