"""Paper 1's training model: both paths through one generator, two WGAN-GP PatchGAN critics.

One global step = `n_critic` updates of each critic, then one update of the encoder and
generator. All of them use the step's batch: each critic update draws fresh latent noise (new
fakes) and fresh interpolation weights, the batch's real images are reused. One step therefore
consumes one batch, which keeps the data iterator, the checkpoint and the step counter in
lockstep, at the price of critic updates that see the same real images n_critic times.

The critic loop runs in the graph (`Paper1GAN.run_updates`), in the cross-replica context.

Randomness: the latent noise and the interpolation weights of example `i` come from stateless
RNGs keyed by (`batch["index"][i]`, training seed, step, critic iteration, purpose), so every
example draws the same numbers whatever replica it lands on (stateful ops would make replicas
draw identical numbers and break 1-vs-N equivalence).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfinpaint import losses, metrics
from tfinpaint.convention import composite
from tfinpaint.models.paper1 import (
    ATTENTION_STRIDE,
    OUTPUT_STRIDES,
    build_critic,
    build_generator,
    downsample,
)
from tfinpaint.training.gan import InpaintingGAN
from tfinpaint.training.noise import noise_seeds, per_example_normal, per_example_uniform

# Purposes inside one (step, iteration) noise stream.
_LATENT, _EPSILON = 0, 1
CRITICS = ("d1", "d2")


def visible_fraction_std(mask):
    """PICNet's std of the reconstruction path's target latent N(0, s^2), [B, 1, 1, 1].

    `s = sigmoid(-8 (v - 0.8))` with `v` the visible fraction: `1 - mean(mask)` here, since
    this package's mask is 1 in the hole (PICNet's is 1 on known pixels). Small holes (v near
    1) give a narrow target: little is missing, so little may vary.
    """
    visible = 1.0 - tf.reduce_mean(tf.cast(mask, "float32"), axis=[1, 2, 3], keepdims=True)
    return tf.sigmoid(-8.0 * (visible - 0.8))


@keras.saving.register_keras_serializable(package="tfinpaint")
class Paper1GAN(InpaintingGAN):
    """Paper 1's dual-path WGAN-GP training model (a condensed PICNet).

    Per step, on a batch {"image" [B,H,W,3] in [0,1], "mask" [B,H,W,1] 1 = hole, "index" [B]}:
    images go to [-1, 1]; the encoder gives the prior from `I_m = (1 - M) I` and the posterior
    from `I_c = M I`; z_rec ~ posterior, z_gen ~ prior (reparameterised) run through the shared
    generator as one 2B batch. D1 judges the reconstruction path's final output, D2 the
    generation path's completed image, each against the real image.

    Critic k (n_critic times): `D_k(fake) - D_k(real) + gp_weight * GP` per example (GP from
    `tfinpaint.losses.gradient_penalty`, on the per-example mean patch score, or the summed
    map for PICNet's spectral-norm critic); with `gan_loss="lsgan"` (PICNet's code) the
    least-squares loss `((D_k(real) - 1)^2 + D_k(fake)^2) / 2` and no penalty.
    Encoder + generator: `adv_weight * (-D1(rec) - D2(gen_completed))` (least squares:
    `(D1(rec) - 1)^2 + (D2(gen_completed) - 1)^2`)
    + l1_weight * sum over the 4 scales of (L1(rec_s, I_s) + L1(visible_s * (gen_s - I_s)))
    + kl_weight * (KL(N(0, s_v^2) || posterior) + KL(stop_grad(posterior) || prior))`, KLs
    averaged over the latent's elements (`kl_reduction="mean"`, PICNet) or summed
    (docs/SPEC-paper1.md, "Losses").

    Tracked (replica means, averaged over the critic iterations of a step for critic values):
    `d1_wasserstein`, `d2_wasserstein` (D(real) - D(fake)), `d1_gp`, `d2_gp` (`wgan_gp`) or
    `d1_lsgan`, `d2_lsgan` (the critics' least-squares losses, `lsgan`), `adv_rec`,
    `adv_gen`, `l1_rec`, `l1_gen`, `kl_rec`, `kl_gen` (unweighted), `generator_loss` (weighted
    total) and `psnr` (generation path, completed, dB).

    Args:
        generator: a `Paper1Generator` (its `encoder` and `decoder` are trained).
        critics: {"d1": reconstruction-path critic, "d2": generation-path critic}.
        global_batch_size: images per step over all replicas.
        n_critic: critic updates per generator update.
        gp_weight, l1_weight, kl_weight, adv_weight: loss weights (10, 20, 80, 1).
        penalty_score: "mean" or "sum" (see `gradient_penalty`).
        gan_loss: "wgan_gp" (the paper) or "lsgan" (PICNet's code, no penalty).
        kl_reduction: "mean" over the latent's elements (PICNet's code) or "sum".
        lr, beta_1, beta_2: Adam settings of every network.
        seed: training seed mixed into every noise key.

    Reference:
        Zheng, Cham & Cai, "Pluralistic Image Completion", CVPR 2019; Gulrajani et al.,
        "Improved Training of Wasserstein GANs", NeurIPS 2017.
    """

    # The batch's "index" (the global example index) keys the noise.
    critic_roles = CRITICS
    batch_keys = ("image", "mask", "index")

    @property
    def tracked_names(self) -> tuple:
        critics = (
            ("d1_lsgan", "d2_lsgan")
            if self.gan_loss == "lsgan"
            else ("d1_wasserstein", "d2_wasserstein", "d1_gp", "d2_gp")
        )
        generator = ("adv_rec", "adv_gen", "l1_rec", "l1_gen", "kl_rec", "kl_gen", "generator_loss", "psnr")
        return critics + generator

    def __init__(
        self,
        generator,
        critics,
        global_batch_size,
        n_critic=5,
        gp_weight=10.0,
        l1_weight=20.0,
        kl_weight=80.0,
        adv_weight=1.0,
        penalty_score="mean",
        gan_loss="wgan_gp",
        kl_reduction="mean",
        lr=1e-4,
        beta_1=0.0,
        beta_2=0.9,
        seed=0,
        **kwargs,
    ):
        # n_critic, gan_loss and kl_reduction are checked by the config (`Paper1Config.validate`).
        if penalty_score not in ("mean", "sum"):
            raise ValueError(f"Paper1GAN: penalty_score={penalty_score!r}; expected 'mean' or 'sum'")
        self.gan_loss = gan_loss  # before the base class reads `tracked_names`
        super().__init__(generator, critics, global_batch_size, **kwargs)
        self.n_critic = int(n_critic)
        self.gp_weight = float(gp_weight)
        self.l1_weight = float(l1_weight)
        self.kl_weight = float(kl_weight)
        self.adv_weight = float(adv_weight)
        self.penalty_score = penalty_score
        self.kl_reduction = kl_reduction
        self.lr = float(lr)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.seed = int(seed)

    def optimizer_variables(self) -> dict:
        return {
            "generator": self.generator.trainable_variables,
            **{name: self.critics[name].trainable_variables for name in CRITICS},
        }

    def make_optimizer(self, role: str):
        """Adam(lr, beta_1, beta_2) for every role ("generator" = encoder + decoder, "d1", "d2")."""
        return keras.optimizers.Adam(self.lr, beta_1=self.beta_1, beta_2=self.beta_2, name=role)

    def run_updates(self, batch, step) -> None:
        """WGAN-GP's Algorithm 1 (Gulrajani et al. 2017): `n_critic` updates of each critic, then
        one of the encoder and generator, all on the step's batch (docs/SPEC-paper1.md)."""
        for iteration in tf.range(self.n_critic):
            self.on_replicas(self._critic_update, batch, step, iteration)
        self.on_replicas(self._generator_update, batch, step)

    def _forward(self, batch, step, iteration, training):
        """Both paths through the generator; returns the pieces the losses need.

        The critic updates make their fakes with `training=False`: spectral norm then leaves
        the generator's kernels alone, so only the generator update changes generator state.
        """
        image = tf.cast(batch["image"], "float32")
        mask = tf.cast(batch["mask"], "float32")
        real = 2.0 * image - 1.0
        visible = 1.0 - mask
        encoder, decoder = self.generator.encoder, self.generator.decoder
        prior_mean, prior_std, fused, feature = encoder(visible * real, training=training)
        post_mean, post_std = encoder.posterior(mask * real, training=training)
        seeds = noise_seeds(batch["index"], self.seed, step, iteration, _LATENT)
        noise = per_example_normal(seeds, tf.concat([[2], tf.shape(post_mean)[1:]], axis=0))
        z_rec = post_mean + post_std * tf.cast(noise[:, 0], post_std.dtype)
        z_gen = prior_mean + prior_std * tf.cast(noise[:, 1], prior_std.dtype)

        def both(t):
            return tf.concat([t, t], axis=0)

        outputs = decoder(
            [
                tf.concat([z_rec, z_gen], axis=0),
                both(fused),
                both(feature),
                both(downsample(visible, ATTENTION_STRIDE)),
            ],
            training=training,
        )
        pairs = [tf.split(tf.cast(o, "float32"), 2, axis=0) for o in outputs]
        return {
            "real": real,
            "mask": mask,
            "visible": visible,
            "rec": [p[0] for p in pairs],
            "gen": [p[1] for p in pairs],
            "completed": composite(real, mask, pairs[-1][1]),
            "prior": (prior_mean, prior_std),
            "posterior": (post_mean, post_std),
        }

    def _critic_update(self, batch, step, iteration):
        out = self._forward(batch, step, iteration, training=False)
        real = out["real"]
        fakes = {"d1": tf.stop_gradient(out["rec"][-1]), "d2": tf.stop_gradient(out["completed"])}
        for purpose, name in enumerate(CRITICS, start=_EPSILON):
            critic = self.critics[name]
            with tf.GradientTape() as tape:
                real_scores, fake_scores = tf.split(
                    critic(tf.concat([real, fakes[name]], axis=0), training=True), 2, axis=0
                )
                if self.gan_loss == "lsgan":
                    critic_loss = losses.lsgan_critic_loss(real_scores, fake_scores)
                    tracked = {f"{name}_lsgan": critic_loss}
                else:
                    seeds = noise_seeds(batch["index"], self.seed, step, iteration, purpose)
                    epsilon = per_example_uniform(seeds)
                    gp = losses.gradient_penalty(critic, real, fakes[name], epsilon, score=self.penalty_score)
                    critic_loss = losses.wasserstein_critic_loss(real_scores, fake_scores)
                    tracked = {f"{name}_wasserstein": -critic_loss, f"{name}_gp": gp}
                    critic_loss += self.gp_weight * gp
                loss = self.scaled(name, self.average(critic_loss))
            self.apply(name, tape, loss)
            self.track(**tracked)

    def _generator_losses(self, out):
        rec_scores = self.critics["d1"](out["rec"][-1], training=False)
        gen_scores = self.critics["d2"](out["completed"], training=False)
        adversarial = (
            losses.lsgan_generator_loss if self.gan_loss == "lsgan" else losses.wasserstein_generator_loss
        )
        terms = {
            "adv_rec": adversarial(rec_scores),
            "adv_gen": adversarial(gen_scores),
            "l1_rec": 0.0,
            "l1_gen": 0.0,
        }
        for stride, rec, gen in zip(OUTPUT_STRIDES, out["rec"], out["gen"]):
            target = downsample(out["real"], stride)
            terms["l1_rec"] += losses.masked_l1(target, rec)
            terms["l1_gen"] += losses.masked_l1(target, gen, downsample(out["visible"], stride))
        post_mean, post_std = out["posterior"]
        prior_mean, prior_std = out["prior"]
        terms["kl_rec"] = losses.gaussian_kl(
            tf.zeros_like(post_mean), visible_fraction_std(out["mask"]), post_mean, post_std
        )
        terms["kl_gen"] = losses.gaussian_kl(
            tf.stop_gradient(post_mean), tf.stop_gradient(post_std), prior_mean, prior_std
        )
        if self.kl_reduction == "mean":
            latent_size = tf.cast(tf.reduce_prod(tf.shape(post_mean)[1:]), "float32")
            terms["kl_rec"] /= latent_size
            terms["kl_gen"] /= latent_size
        total = (
            self.adv_weight * (terms["adv_rec"] + terms["adv_gen"])
            + self.l1_weight * (terms["l1_rec"] + terms["l1_gen"])
            + self.kl_weight * (terms["kl_rec"] + terms["kl_gen"])
        )
        return total, terms

    def _generator_update(self, batch, step):
        # The generator's noise stream follows the critics' (iterations 0 .. n_critic - 1).
        with tf.GradientTape() as tape:
            out = self._forward(batch, step, self.n_critic, training=True)
            total, terms = self._generator_losses(out)
            loss = self.scaled("generator", self.average(total))
        self.apply("generator", tape, loss)
        completed = (out["completed"] + 1.0) / 2.0
        self.track(
            generator_loss=total, psnr=metrics.psnr(tf.cast(batch["image"], "float32"), completed), **terms
        )

    def get_config(self):
        return {
            **super().get_config(),
            "n_critic": self.n_critic,
            "gp_weight": self.gp_weight,
            "l1_weight": self.l1_weight,
            "kl_weight": self.kl_weight,
            "adv_weight": self.adv_weight,
            "penalty_score": self.penalty_score,
            "gan_loss": self.gan_loss,
            "kl_reduction": self.kl_reduction,
            "lr": self.lr,
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "seed": self.seed,
        }


def build_gan(config, global_batch_size: int) -> Paper1GAN:
    """Paper 1's training model of `config`; call inside the strategy's scope, then `build_optimizers()`."""
    model = config.model
    critics = {"d1": build_critic(model, "d1_reconstruction"), "d2": build_critic(model, "d2_generation")}
    return Paper1GAN(
        generator=build_generator(config),
        critics=critics,
        global_batch_size=global_batch_size,
        n_critic=model.n_critic,
        gp_weight=model.gp_weight,
        l1_weight=model.l1_weight,
        kl_weight=model.kl_weight,
        adv_weight=model.adv_weight,
        penalty_score="sum" if model.critic_spectral_norm else "mean",
        gan_loss=model.gan_loss,
        kl_reduction=model.kl_reduction,
        lr=model.lr,
        beta_1=model.beta_1,
        beta_2=model.beta_2,
        seed=config.train.seed,
    )
