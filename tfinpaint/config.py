"""Experiment configuration: frozen dataclasses, one preset registry per paper.

A config is an `ExperimentConfig` with four sections: `data`, `model` (the paper's own
dataclass), `train` (schedule, optimiser, runtime) and `paper`. Presets are built by
`get_config(paper, preset)`; `--set section.key=value` overrides go through
`apply_overrides`, which rejects unknown keys and values of the wrong type before any
model is built.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from dataclasses import dataclass, field, fields, replace


class ConfigError(ValueError):
    """A preset, key or value that the configuration does not accept."""


@dataclass(frozen=True)
class DataConfig:
    """Where images come from and how holes are made.

    Attributes:
        source: directory, file list, glob or TFRecord files; `None` = the bundled demo images.
        val_source: validation images; `None` = the held-out split of `source`.
        root: the folder a file list's paths are relative to (default: the list's folder).
        image_size: side of the square training crop.
        masks: `center`, `random_rect`, `free_form`, `files:DIR` or `mixed`.
        hole_fraction: side of the `center` hole as a fraction of the image side.
        split_ratio: share of files in the training split (by a hash of the path).
        bad_file_limit: abort when more than this share of the files cannot be read.
        upscale_small: upscale images smaller than the crop instead of skipping them (aligned
            CelebA is 178x218; the run prints how many were upscaled).
    """

    source: str | None = None
    val_source: str | None = None
    root: str | None = None
    image_size: int = 256
    masks: str = "center"
    hole_fraction: float = 0.5
    split_ratio: float = 0.8
    bad_file_limit: float = 0.1
    upscale_small: bool = False


@dataclass(frozen=True)
class Paper1Config:
    """Paper 1 (dual-path GAN, PICNet-style); defaults are SPEC-paper1.md's resolutions.

    Attributes:
        width: base channel width (32 in the paper; encoder 32/64/128, decoder 128/64/32 scale with it).
        latent_channels: channels of the spatial latent z (128 in the paper).
        infer_blocks: L, residual "infer" blocks of the prior path (1; PICNet's code uses 6).
        shared_encoder: one trunk for both paths (PICNet); False = separate E1/E2 weights.
        critic_spectral_norm: PICNet's spectral-norm critic (penalty on the summed patch map).
        critic_residual: `avgpool2(conv1x1(x))` shortcuts around the stride-2 critic convs.
        critic_width: first critic layer width (64).
        gp_weight, l1_weight, kl_weight, adv_weight: loss weights (10, 20 per scale, 80, 1).
        n_critic: critic steps per generator step (5; PICNet uses 1).
        lr, beta_1, beta_2: Adam for every network (1e-4, 0, 0.9).
        max_attention_side: inputs larger than this are cropped or resized before the network
            runs, because attention memory grows with the square of the feature-map area.
        kl_reduction: `sum` over the latent (the spec) or `mean` (PICNet's code: 1/8192 of the
            sum at 256x256, which keeps KL from outweighing the L1 terms).
    """

    width: int = 32
    latent_channels: int = 128
    infer_blocks: int = 1
    shared_encoder: bool = True
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
    max_attention_side: int = 512
    kl_reduction: str = "sum"


@dataclass(frozen=True)
class Paper2Config:
    """Paper 2 (multi-scale WGAN, four critics); defaults are SPEC-paper2.md's resolutions.

    Attributes:
        generator_width: first generator layer width (64; the table's 128/256/32 scale with it).
        critic_width: first critic layer width (64; 128/256/512 scale with it).
        generator_batchnorm: conv -> BatchNorm -> ReLU in G (GLCIC); synchronized across replicas.
        critic_pooling: `avg` pooling for the x2 / x4 critics' inputs.
        clip_value: WGAN weight clipping bound c, applied after every critic update.
        adv_weight: lambda_1..4, the weight of each critic's adversarial term.
        t1, t2, t3: phase lengths in steps: generator only, critics only, joint.
        optimizer: `adam` (pix2pixHD defaults) or `rmsprop` (the WGAN paper's choice).
        lr, beta_1, beta_2: Adam settings; rmsprop_lr: the RMSprop learning rate.
    """

    generator_width: int = 64
    critic_width: int = 64
    generator_batchnorm: bool = True
    critic_pooling: str = "avg"
    clip_value: float = 0.01
    adv_weight: float = 0.001
    t1: int = 20_000
    t2: int = 10_000
    t3: int = 70_000
    optimizer: str = "adam"
    lr: float = 2e-4
    beta_1: float = 0.5
    beta_2: float = 0.999
    rmsprop_lr: float = 5e-5


@dataclass(frozen=True)
class TrainConfig:
    """The run around the model.

    Attributes:
        batch_size: per-replica batch; the global batch is this times the replicas.
        steps: total training steps; `None` = the model's own schedule (paper 2: t1 + t2 + t3).
        seed: seeds the pipeline's stateless randomness and the weights.
        checkpoint_every, keep_checkpoints: checkpoint cadence (steps) and how many to keep.
        log_every, image_every: TensorBoard scalar and image-grid cadence (steps).
        val_batches: validation batches scored at each log point.
        eval_images: images scored by the end-of-run evaluation (0 = every validation image).
        mixed_precision: `mixed_float16` compute with float32 outputs, scores and losses.
        precision: explicit Keras dtype policy (overrides mixed_precision), e.g. `mixed_bfloat16`.
        deterministic: `tf.config.experimental.enable_op_determinism`.
        jit_compile: XLA for the train step (measured slower on CPU).
        export: SavedModel (and TFLite variants listed in `tflite`) at the end of the run.
        evaluate: score the generator beside the classical baselines at the end of the run.
    """

    batch_size: int = 8
    steps: int | None = None
    seed: int = 0
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    log_every: int = 50
    image_every: int = 500
    val_batches: int = 2
    eval_images: int = 0
    mixed_precision: bool = False
    precision: str | None = None
    deterministic: bool = False
    jit_compile: bool = False
    export: bool = True
    tflite: str = "fp32,fp16,int8"
    evaluate: bool = True


@dataclass(frozen=True)
class ExperimentConfig:
    paper: int
    preset: str
    data: DataConfig = field(default_factory=DataConfig)
    model: Paper1Config | Paper2Config = field(default_factory=Paper2Config)
    train: TrainConfig = field(default_factory=TrainConfig)

    @property
    def name(self) -> str:
        return f"paper{self.paper}-{self.preset}"

    @property
    def export_name(self) -> str:
        return f"paper{self.paper}_{self.preset}"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> ExperimentConfig:
        model_cls = MODEL_CONFIGS[d["paper"]]
        return cls(
            paper=d["paper"],
            preset=d["preset"],
            data=_section_from_dict(DataConfig, d.get("data", {}), "data"),
            model=_section_from_dict(model_cls, d.get("model", {}), "model"),
            train=_section_from_dict(TrainConfig, d.get("train", {}), "train"),
        )


MODEL_CONFIGS = {1: Paper1Config, 2: Paper2Config}

# The shipped default model's data (docs/MODEL_CARD.md): a list of the training images relative
# to the datasets folder (research-train/ and permissive/ side by side), and the NVIDIA masks'
# hash-chosen training 4/5. The held-out evaluation sets are never listed here.
DEFAULT_TRAIN_LIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "default_train.txt")
DEFAULT_DATA_ROOT = os.path.join("..", "shared", "datasets")
DEFAULT_MASKS = (
    "mixed:free_form=0.35,files:research-train/masks_nvidia_subset_white_hole@train=0.35,"
    "random_rect=0.15,center=0.15"
)

PRESETS: dict[int, dict[str, ExperimentConfig]] = {
    1: {
        "paper": ExperimentConfig(
            paper=1,
            preset="paper",
            data=DataConfig(image_size=256, masks="mixed"),
            model=Paper1Config(),
            train=TrainConfig(batch_size=8, steps=200_000),
        ),
        # Small enough that `python scripts/train.py --paper 1` finishes on a 2-core CPU. A 10x
        # learning rate: at the paper's 1e-4 the demo's 1,200 steps end far blurrier
        # (19.4 vs 22.5 dB on the demo validation split after 600 steps).
        "demo": ExperimentConfig(
            paper=1,
            preset="demo",
            data=DataConfig(image_size=64, masks="center"),
            model=Paper1Config(width=8, latent_channels=16, critic_width=16, n_critic=1, lr=1e-3),
            train=TrainConfig(
                batch_size=8, steps=1200, checkpoint_every=200, log_every=25, image_every=100, eval_images=64
            ),
        ),
    },
    2: {
        "paper": ExperimentConfig(
            paper=2,
            preset="paper",
            data=DataConfig(image_size=256, masks="center", hole_fraction=0.5),
            model=Paper2Config(),
            train=TrainConfig(batch_size=32),
        ),
        "demo": ExperimentConfig(
            paper=2,
            preset="demo",
            data=DataConfig(image_size=64, masks="center", hole_fraction=0.5),
            # 4,000 steps: about 4 minutes here; 1,000 steps ended at 23.9 dB, these at 25.6 dB
            # on the demo validation split (README, Results).
            model=Paper2Config(generator_width=16, critic_width=16, t1=2000, t2=300, t3=1700),
            train=TrainConfig(
                batch_size=8, checkpoint_every=200, log_every=25, image_every=100, eval_images=64
            ),
        ),
        # The shipped default model (tfinpaint/weights/, docs/MODEL_CARD.md): paper 2's system at
        # width 32 and 128 px, sized to train in under 2 hours on a 2-core CPU with bf16 compute.
        "default": ExperimentConfig(
            paper=2,
            preset="default",
            data=DataConfig(
                source=DEFAULT_TRAIN_LIST,
                root=DEFAULT_DATA_ROOT,
                image_size=128,
                masks=DEFAULT_MASKS,
                hole_fraction=0.5,
                split_ratio=0.95,
                upscale_small=True,
            ),
            model=Paper2Config(generator_width=32, critic_width=32, t1=4000, t2=400, t3=1200),
            train=TrainConfig(
                batch_size=16,
                precision="mixed_bfloat16",
                checkpoint_every=500,
                log_every=100,
                image_every=500,
                val_batches=4,
                eval_images=200,
            ),
        ),
    },
}


def get_config(paper: int, preset: str = "demo", overrides: typing.Sequence[str] = ()) -> ExperimentConfig:
    """Return the preset `preset` of paper `paper` with `key=value` overrides applied."""
    if paper not in PRESETS:
        raise ConfigError(f"paper {paper!r} does not exist; expected one of {sorted(PRESETS)}")
    if preset not in PRESETS[paper]:
        raise ConfigError(
            f"preset {preset!r} does not exist for paper {paper}; expected one of {sorted(PRESETS[paper])}"
        )
    return apply_overrides(PRESETS[paper][preset], overrides)


def apply_overrides(config: ExperimentConfig, overrides: typing.Sequence[str]) -> ExperimentConfig:
    """Apply `section.key=value` (or a bare `key=value` that names one field) overrides."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. train.batch_size=4")
        key, raw = item.split("=", 1)
        section_name, field_name = _resolve_key(config, key.strip())
        section = getattr(config, section_name)
        ftype = _field_types(type(section))[field_name]
        value = _parse_value(raw.strip(), ftype, f"{section_name}.{field_name}")
        config = replace(config, **{section_name: replace(section, **{field_name: value})})
    validate(config)
    return config


def validate(config: ExperimentConfig) -> None:
    """Reject values no model can run with, before anything is built."""
    d, t = config.data, config.train
    multiple = 4 if config.paper == 2 else 32
    if d.image_size < multiple or d.image_size % multiple:
        raise ConfigError(
            f"data.image_size={d.image_size}: paper {config.paper} needs a multiple of {multiple} "
            f"(at least {multiple})"
        )
    if config.paper == 2 and d.image_size < 32:
        raise ConfigError(f"data.image_size={d.image_size}: paper 2's critics need at least 32")
    if not 0.0 < d.split_ratio <= 1.0:
        raise ConfigError(f"data.split_ratio={d.split_ratio}: expected a value in (0, 1]")
    if not 0.0 < d.hole_fraction < 1.0:
        raise ConfigError(f"data.hole_fraction={d.hole_fraction}: expected a value in (0, 1)")
    for name in ("batch_size", "checkpoint_every", "keep_checkpoints", "log_every", "image_every"):
        if getattr(t, name) < 1:
            raise ConfigError(f"train.{name}={getattr(t, name)}: expected a positive integer")
    if t.steps is not None and t.steps < 1:
        raise ConfigError(f"train.steps={t.steps}: expected a positive integer")
    if config.paper == 2 and config.model.optimizer not in ("adam", "rmsprop"):
        raise ConfigError(f"model.optimizer={config.model.optimizer!r}: expected 'adam' or 'rmsprop'")
    if config.paper == 1 and config.model.n_critic < 1:
        raise ConfigError(f"model.n_critic={config.model.n_critic}: expected a positive integer")
    if config.paper == 1 and config.model.kl_reduction not in ("sum", "mean"):
        raise ConfigError(f"model.kl_reduction={config.model.kl_reduction!r}: expected 'sum' or 'mean'")


def total_steps(config: ExperimentConfig) -> int:
    if config.train.steps is not None:
        return config.train.steps
    m = config.model
    return m.t1 + m.t2 + m.t3


def _section_from_dict(cls, values: dict, section: str):
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"{section}: unknown keys {sorted(unknown)}; expected some of {sorted(known)}")
    types = _field_types(cls)
    return cls(**{k: _coerce(v, types[k]) for k, v in values.items()})


def _coerce(value, ftype):
    # JSON has no tuples; every tuple field holds numbers.
    if typing.get_origin(ftype) is tuple and isinstance(value, list):
        return tuple(value)
    return value


def _field_types(cls) -> dict:
    return typing.get_type_hints(cls)


def _resolve_key(config: ExperimentConfig, key: str) -> tuple[str, str]:
    sections = ("data", "model", "train")
    if "." in key:
        section_name, field_name = key.split(".", 1)
        if section_name not in sections:
            raise ConfigError(f"--set {key}: unknown section {section_name!r}; expected one of {sections}")
        names = [f.name for f in fields(getattr(config, section_name))]
        if field_name not in names:
            raise ConfigError(f"--set {key}: unknown key; {section_name} has {sorted(names)}")
        return section_name, field_name
    matches = [s for s in sections if key in {f.name for f in fields(getattr(config, s))}]
    if len(matches) != 1:
        every = sorted(f"{s}.{f.name}" for s in sections for f in fields(getattr(config, s)))
        why = "is ambiguous" if matches else "is unknown"
        raise ConfigError(f"--set {key}: the key {why}; expected one of {', '.join(every)}")
    return matches[0], key


def _parse_value(raw: str, ftype, where: str):
    optional = typing.get_origin(ftype) in (typing.Union, types.UnionType) and type(None) in typing.get_args(
        ftype
    )
    if optional:
        if raw.lower() in ("none", "null", ""):
            return None
        ftype = next(a for a in typing.get_args(ftype) if a is not type(None))
    try:
        if ftype is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if ftype is int:
            return int(raw.replace("_", ""))
        if ftype is float:
            return float(raw)
        if ftype is str:
            return raw
    except ValueError:
        pass
    else:
        raise ConfigError(f"--set {where}: unsupported field type {ftype}")
    expected = {bool: "true or false", int: "an integer", float: "a number"}.get(ftype, str(ftype))
    raise ConfigError(f"--set {where}={raw!r}: expected {expected}")
