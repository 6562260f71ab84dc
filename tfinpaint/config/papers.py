"""Each paper's model section of a config: its fields, validation, size rule and schedule."""

from __future__ import annotations

from dataclasses import dataclass

from tfinpaint.config.errors import ConfigError

# Paper 2's critic roles (its four, then a fully convolutional PatchGAN that is not the paper's)
# and the two readings of their depths (`tfinpaint.models.paper2_critics`).
PAPER2_CRITICS = ("local", "global", "x2", "x4")
CRITIC_ROLES = (*PAPER2_CRITICS, "patch")
CRITIC_DEPTHS = ("tables", "glcic")
# How paper 2's critics are held to a Lipschitz bound, their loss, and how its lambdas scale the
# adversarial term against the reconstruction loss (docs/SPEC-paper2.md, "Adversarial weight").
CRITIC_REGULARIZERS = ("clip", "gp", "spectral")
PAPER2_GAN_LOSSES = ("wasserstein", "hinge")
ADV_WEIGHTINGS = ("summed", "mean", "adaptive")
# Paper 1's adversarial loss: the paper's WGAN-GP, or PICNet's code's least-squares GAN.
PAPER1_GAN_LOSSES = ("wgan_gp", "lsgan")
# How a generator doubles its resolution: the papers' transposed convs, or nearest 2x then a conv
# (paper 1: `tfinpaint.layers.residual.UpConv`; paper 2: `Paper2Generator`).
UPSAMPLE_MODES = ("transpose", "resize")


@dataclass(frozen=True)
class Paper1Config:
    """Paper 1 (dual-path GAN, PICNet-style); defaults are docs/SPEC-paper1.md's resolutions.

    Attributes:
        width: base channel width (32 in the paper; encoder 32/64/128, decoder 128/64/32 scale with it).
        latent_channels: channels of the spatial latent z (128 in the paper).
        infer_blocks: L, residual "infer" blocks of the prior path (1; PICNet's code uses 6).
        shared_encoder: one trunk for both paths (PICNet); False = separate E1/E2 weights.
        decoder_upsample: how the decoder blocks double the resolution: `transpose` (the paper's
            3x3 stride-2 deconvs) or `resize` (nearest 2x, then a 3x3 conv; no checkerboard).
        gan_loss: `wgan_gp` (the paper: Wasserstein loss + gradient penalty) or `lsgan` (PICNet's
            code: least-squares loss, no penalty; pair it with `critic_spectral_norm`).
        critic_spectral_norm: PICNet's spectral-norm critic (penalty on the summed patch map).
        critic_residual: `avgpool2(conv1x1(x))` shortcuts around the stride-2 critic convs.
        critic_width: first critic layer width (64).
        gp_weight, l1_weight, kl_weight, adv_weight: loss weights (10, 20 per scale, 80, 1).
        n_critic: critic steps per generator step (5; PICNet uses 1).
        lr, beta_1, beta_2: Adam for every network (1e-4, 0, 0.9).
        max_side: the largest input side the generator runs at; larger inputs are cropped or
            resized first, because attention memory grows with the square of the feature-map area.
        kl_reduction: `mean` over the latent's elements (PICNet's code, the default) or `sum`
            (8,192x the weight at 256 px, which pushes both latents onto the fixed prior).
    """

    size_multiple = 32

    width: int = 32
    latent_channels: int = 128
    infer_blocks: int = 1
    shared_encoder: bool = True
    decoder_upsample: str = "transpose"
    gan_loss: str = "wgan_gp"
    critic_spectral_norm: bool = False
    critic_residual: bool = False
    critic_width: int = 64
    gp_weight: float = 10.0
    l1_weight: float = 20.0
    kl_weight: float = 80.0
    adv_weight: float = 1.0
    n_critic: int = 5
    lr: float = 1e-4
    beta_1: float = 0.0
    beta_2: float = 0.9
    max_side: int = 512
    kl_reduction: str = "mean"

    def validate(self, config) -> None:
        """Reject values paper 1 cannot train with (`ConfigError`)."""
        _check_image_size(config, self.size_multiple, self.size_multiple)
        if config.train.steps is None:
            raise ConfigError(
                "train.steps=None: paper 1 has no schedule of its own to take the length of a run "
                "from; give a number of steps, e.g. --steps 1200"
            )
        if self.n_critic < 1:
            raise ConfigError(f"model.n_critic={self.n_critic}: expected a positive integer")
        if self.gan_loss not in PAPER1_GAN_LOSSES:
            raise ConfigError(
                f"model.gan_loss={self.gan_loss!r}: expected one of {', '.join(PAPER1_GAN_LOSSES)}"
            )
        if self.decoder_upsample not in UPSAMPLE_MODES:
            raise ConfigError(
                f"model.decoder_upsample={self.decoder_upsample!r}: "
                f"expected one of {', '.join(UPSAMPLE_MODES)}"
            )
        if self.kl_reduction not in ("sum", "mean"):
            raise ConfigError(f"model.kl_reduction={self.kl_reduction!r}: expected 'mean' or 'sum'")
        if self.max_side < self.size_multiple:
            raise ConfigError(f"model.max_side={self.max_side}: expected at least {self.size_multiple}")

    def total_steps(self, steps: int | None) -> int:
        """The run's length: `train.steps` (paper 1 has no schedule of its own)."""
        return int(steps)

    def plan(self, total: int) -> list:
        """(phase, steps) of a run of `total` steps: one phase, n_critic critic updates a step."""
        return [("joint", total)]


@dataclass(frozen=True)
class Paper2Config:
    """Paper 2 (multi-scale WGAN, four critics); defaults are docs/SPEC-paper2.md's resolutions.

    Attributes:
        generator_width: first generator layer width (64; the table's 128/256/32 scale with it).
        critic_width: first critic layer width (64; 128/256/512 scale with it).
        generator_batchnorm: conv -> BatchNorm -> ReLU in G (GLCIC); synchronized across replicas.
        decoder_upsample: how G's two upsampling layers double the resolution: `transpose`
            (Table 1's 4x4 stride-2 deconvs) or `resize` (nearest 2x, then a 3x3 conv).
        generator_noise: per-pixel noise inputs with learned scales (zero at init) in G's decoder
            (StyleGAN's; not the paper): a source of detail for the adversarial phase that is
            not tied to the upsampling grid. Fixed at inference: the same input, the same fill.
        generator_antialias: a fixed [1, 2, 1] binomial blur on G's 1/4-resolution middle before
            its decoder (not the paper): that map's period-2 component, 8 px at full resolution,
            is what draws the adversarial fills' block grid (docs/PAPER_COMPARISONS.md); the
            blur is zero there. No weights: `--init-from` a generator without it works.
        critics: the critics to train, comma-separated roles from local, global, x2, x4 (all
            four: the paper; `local,global`: GLCIC; `local`: a single local critic) and `patch`
            (not the paper: pix2pix's 70x70 PatchGAN on the whole image, one score per patch and
            no dense layer, so every patch is judged alike wherever it is; `gp` or `spectral`).
        critic_depths: `tables` (the tables' captions: local 6 convs, global 5) or `glcic`
            (GLCIC's discriminators: global 6, local 5, every critic ending in 4x4x512).
        critic_antialias: blur before every subsampling in the critics (a [1, 2, 1] binomial
            before each stride-2 conv; blurred halvings for the x2 / x4 views instead of average
            pooling). Not the paper, which passes back a gradient uneven between even and odd
            pixels, and constant over each pooled block; measured from the shipped model it
            removed those from the critics' gradients and left the fills as they were
            (docs/PAPER_COMPARISONS.md).
        critic_regularizer: `clip` (the paper: weights clipped to [-clip_value, clip_value]),
            `gp` (WGAN-GP's gradient penalty, weight `gp_weight`, unclipped critics) or
            `spectral` (spectrally normalised convs and dense layers; SN-GAN, DeepFill v2).
        gan_loss: the critics' loss: `wasserstein` (the paper: mean D(completed) - mean D(real))
            or `hinge` (SN-GAN / DeepFill v2: mean relu(1 - D(real)) + mean relu(1 + D(completed)),
            per score). The generator's adversarial term is -mean D(completed) with either.
        clip_value: WGAN weight clipping bound c, applied to the initial weights and after
            every critic update (`clip` only).
        gp_weight: the gradient penalty's weight (`gp` only; 10 in WGAN-GP).
        adv_weight: lambda, the weight of each critic's adversarial term (0.001 for all four).
        adv_weighting: how the lambdas meet the reconstruction loss, which this package takes
            as a per-pixel mean: `summed` reads them against the paper's eq. 1 summed over
            pixels and channels (the adversarial term weighs lambda / (3 H W) against the mean),
            `mean` applies them to the mean as they are, `adaptive` keeps them as the critics'
            relative weights and scales their image gradient to `adv_ratio` times the
            reconstruction gradient's norm at every step (taming-transformers' adaptive weight,
            taken at the generator's output).
        adv_ratio: the adversarial / reconstruction gradient-norm ratio of `adaptive` (0.2: from
            the shipped model, 200 joint steps kept PSNR within 0.12 dB, docs/PAPER_COMPARISONS.md).
        adv_ramp: joint steps over which the adversarial weight rises linearly from 0, so the
            generator's optimiser does not meet a new gradient at full strength.
        fm_ratio: pix2pixHD's feature matching for the generator: the mean L1 between the
            critics' activations on real and completed images, its image gradient held at
            `fm_ratio` times the reconstruction gradient's norm (0 = off, the paper).
        rec_lowpass: sigma in px of a Gaussian through which the joint phase's reconstruction
            loss sees the hole's residual (0 = the paper's L2 on every pixel): detail finer than
            about 2 sigma px is then asked of the critics alone, so noise inputs and texture are
            not pulled back to the blurred mean. Not the paper; measured from the shipped model it
            gave more texture by the metric and a fine dot grid by eye (docs/PAPER_COMPARISONS.md).
        rec_chroma_weight: how much the reconstruction loss's two colour components weigh against
            brightness, in an orthonormal opponent-colour basis of RGB (`losses.masked_l2`; 1 =
            the paper's L2 on R, G and B), in every phase. Not the paper: the shipped model's
            fills follow the photo's brightness and about half its colour differences
            (docs/PAPER_COMPARISONS.md, "chroma").
        adv_weight_local, adv_weight_global, adv_weight_x2, adv_weight_x4, adv_weight_patch: one
            critic's lambda (None = adv_weight).
        t1, t2, t3: phase lengths in steps: generator only, critics only, joint. A
            `train.steps` below t1 + t2 + t3 scales the three to it; above, phase 3 runs longer.
        optimizer: `adam` (pix2pixHD defaults) or `rmsprop` (the WGAN paper's choice, with
            PyTorch's rho 0.99 and epsilon 1e-8).
        lr, beta_1, beta_2: Adam settings; rmsprop_lr: the RMSprop learning rate.
        generator_lr: the generator's learning rate, either optimiser (None = lr or rmsprop_lr,
            the critics' rate). A fine-tune from a trained generator (`train.init_from`) wants
            about a tenth of the preset's: from the shipped model, 120 reconstruction steps at
            2e-4 lost 0.68 dB on the held-out NVIDIA masks, at 2e-5 they gained 0.17 dB
            (docs/PAPER_COMPARISONS.md).
    """

    size_multiple = 4
    # The x4 critic's view must stay at least 8 px wide.
    min_image_size = 32

    generator_width: int = 64
    critic_width: int = 64
    generator_batchnorm: bool = True
    decoder_upsample: str = "transpose"
    generator_noise: bool = False
    generator_antialias: bool = False
    critics: str = ",".join(PAPER2_CRITICS)
    critic_depths: str = "tables"
    critic_antialias: bool = False
    critic_regularizer: str = "clip"
    clip_value: float = 0.01
    gp_weight: float = 10.0
    gan_loss: str = "wasserstein"
    adv_weight: float = 0.001
    adv_weighting: str = "adaptive"
    adv_ratio: float = 0.2
    adv_ramp: int = 0
    fm_ratio: float = 0.0
    rec_lowpass: float = 0.0
    rec_chroma_weight: float = 1.0
    adv_weight_local: float | None = None
    adv_weight_global: float | None = None
    adv_weight_x2: float | None = None
    adv_weight_x4: float | None = None
    adv_weight_patch: float | None = None
    t1: int = 20_000
    t2: int = 10_000
    t3: int = 70_000
    optimizer: str = "adam"
    lr: float = 2e-4
    beta_1: float = 0.5
    beta_2: float = 0.999
    rmsprop_lr: float = 5e-5
    generator_lr: float | None = None

    @property
    def critic_roles(self) -> tuple:
        """The roles of `critics`, in the order given."""
        return tuple(r.strip() for r in self.critics.split(",") if r.strip())

    @property
    def adv_weights(self) -> dict:
        """Role -> lambda of every critic in `critics`."""
        return {
            role: self.adv_weight
            if getattr(self, f"adv_weight_{role}") is None
            else getattr(self, f"adv_weight_{role}")
            for role in self.critic_roles
        }

    def validate(self, config) -> None:
        """Reject values paper 2 cannot train with (`ConfigError`)."""
        _check_image_size(config, self.size_multiple, self.min_image_size)
        roles = self.critic_roles
        unknown = [r for r in roles if r not in CRITIC_ROLES]
        if not roles or unknown or len(set(roles)) != len(roles):
            raise ConfigError(
                f"model.critics={self.critics!r}: expected distinct roles from {', '.join(CRITIC_ROLES)}, "
                "comma-separated, e.g. local,global"
            )
        if "patch" in roles and self.critic_regularizer == "clip":
            raise ConfigError(
                f"model.critics={self.critics!r} with model.critic_regularizer='clip': the patch "
                "critic is not clipped; use critic_regularizer gp or spectral with it"
            )
        if self.critic_depths not in CRITIC_DEPTHS:
            raise ConfigError(
                f"model.critic_depths={self.critic_depths!r}: expected one of {', '.join(CRITIC_DEPTHS)}"
            )
        if self.optimizer not in ("adam", "rmsprop"):
            raise ConfigError(f"model.optimizer={self.optimizer!r}: expected 'adam' or 'rmsprop'")
        choices = {
            "critic_regularizer": CRITIC_REGULARIZERS,
            "gan_loss": PAPER2_GAN_LOSSES,
            "adv_weighting": ADV_WEIGHTINGS,
            "decoder_upsample": UPSAMPLE_MODES,
        }
        for name, accepted in choices.items():
            if getattr(self, name) not in accepted:
                raise ConfigError(
                    f"model.{name}={getattr(self, name)!r}: expected one of {', '.join(accepted)}"
                )
        for name in ("clip_value", "gp_weight", "adv_ratio", "rec_chroma_weight"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"model.{name}={getattr(self, name)}: expected a positive number")
        for name in ("fm_ratio", "rec_lowpass"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"model.{name}={getattr(self, name)}: expected 0 or a positive number")
        if self.adv_ramp < 0:
            raise ConfigError(f"model.adv_ramp={self.adv_ramp}: expected 0 or more steps")
        if self.generator_lr is not None and not self.generator_lr > 0:
            raise ConfigError(f"model.generator_lr={self.generator_lr}: expected a positive number or None")
        for name in ("t1", "t2", "t3"):
            if getattr(self, name) < 0:
                raise ConfigError(f"model.{name}={getattr(self, name)}: expected 0 or more steps")
        for role, weight in self.adv_weights.items():
            if weight < 0:
                raise ConfigError(f"model.adv_weight_{role}={weight}: expected 0 or more")

    def total_steps(self, steps: int | None) -> int:
        """`train.steps`, or the schedule's t1 + t2 + t3 when it is None."""
        return self.t1 + self.t2 + self.t3 if steps is None else int(steps)

    def phase_lengths(self, total: int) -> tuple:
        """(t1, t2, t3) of a run of `total` steps.

        Below t1 + t2 + t3 the three phases shrink in proportion (else a short run would train
        the reconstruction phase only); above it, phase 3 runs for the extra steps.
        """
        schedule = self.t1 + self.t2 + self.t3
        if total >= schedule or schedule == 0:
            return self.t1, self.t2, total - self.t1 - self.t2
        t1 = round(self.t1 * total / schedule)
        t2 = min(round(self.t2 * total / schedule), total - t1)
        return t1, t2, total - t1 - t2

    def plan(self, total: int) -> list:
        """(phase, steps) of a run of `total` steps."""
        return list(zip(("reconstruction", "critics", "joint"), self.phase_lengths(total)))


@dataclass(frozen=True)
class Paper:
    """One paper this package reproduces: its model section and the modules of its code, named
    by string so that the config, which imports no TensorFlow, can list them.

    Attributes:
        number: the paper's number (`--paper N`).
        model_config: its model section (`Paper1Config`, `Paper2Config`).
        networks: the module of its networks (`build_generator`, the generator class).
        generator: the name of its inference generator class in `networks`.
        trainer: the module of its training model (`build_gan`).
    """

    number: int
    model_config: type
    networks: str
    generator: str
    trainer: str


PAPERS = {
    1: Paper(1, Paper1Config, "tfinpaint.models.paper1", "Paper1Generator", "tfinpaint.training.wgan_gp"),
    2: Paper(2, Paper2Config, "tfinpaint.models.paper2", "Paper2Generator", "tfinpaint.training.wgan_clip"),
}


def registered_paper(number: int) -> Paper:
    """The registered paper `number` (`ConfigError` naming the papers there are)."""
    if number not in PAPERS:
        raise ConfigError(f"paper {number!r} does not exist; expected one of {sorted(PAPERS)}")
    return PAPERS[number]


def _check_image_size(config, multiple: int, smallest: int) -> None:
    size = config.data.image_size
    if size < smallest or size % multiple:
        raise ConfigError(
            f"data.image_size={size}: paper {config.paper} needs a multiple of {multiple} "
            f"(at least {smallest})"
        )
