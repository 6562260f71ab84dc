"""A whole experiment: data, model and train sections, the presets, validation and names."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass, field, fields

from tfinpaint.config.errors import ConfigError
from tfinpaint.config.papers import Paper1Config, Paper2Config, registered_paper


@dataclass(frozen=True)
class DataConfig:
    """Where images come from and how holes are made.

    Attributes:
        source: directory, file list, glob or TFRecord files; `None` = the bundled demo images.
        val_source: validation images; `None` = the held-out split of `source`.
        root: the folder a file list's paths are relative to (default: the list's folder).
            `$TFINPAINT_DATASETS` (the `default` preset's) stands for the datasets folder that
            environment variable names, read when a run starts (`resolve_data_root`).
        image_size: side of the square training crop.
        masks: `center`, `random_rect`, `free_form`, `files:DIR` or `mixed`.
        hole_fraction: side of the `center` hole as a fraction of the image side.
        split_ratio: share of files in the training split (by a hash of the path).
            The other files are split in halves, again by the hash: validation (scored while
            the run trains) and test (scored once at the end, never read before); CelebA's
            `list_eval_partition.txt` gives its own three splits.
        bad_file_limit: abort when more than this share of the files cannot be read.
        upscale_small: upscale images smaller than the crop instead of skipping them (aligned
            CelebA is 178x218; the run prints how many were upscaled).
        hue_jitter: the share of training crops whose hue is turned by a random angle, so the
            fill's colour has to come from the hole's surroundings rather than from what the
            training mix usually holds (0 = off, the papers; `build_dataset`).
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
    hue_jitter: float = 0.0


@dataclass(frozen=True)
class TrainConfig:
    """The run around the model.

    Attributes:
        name: the run's name: its directory `runs/NAME` and its export `saved_models/NAME` (with
            `-` as `_`). None = `paper{N}-{preset}`, followed by the data's name when
            `data.source` is not the preset's own.
        batch_size: the global batch, split evenly across the replicas (TensorFlow's convention:
            32 trains with 32 images a step on any number of devices).
        steps: total training steps; `None` = the model's own schedule (paper 2: t1 + t2 + t3).
        seed: seeds the pipeline's stateless randomness and the weights.
        checkpoint_every, keep_checkpoints: checkpoint cadence (steps) and how many to keep.
        log_every, image_every: TensorBoard scalar and image-grid cadence (steps).
        val_batches: validation batches scored at each log point.
        eval_images: images scored per protocol by the end-of-run evaluation (0 = every test image).
        mixed_precision: `mixed_float16` compute with float32 outputs, scores and losses.
        precision: explicit Keras dtype policy (overrides mixed_precision), e.g. `mixed_bfloat16`,
            or `auto`: `mixed_bfloat16` on a CPU with native bfloat16 (AVX512-BF16 / AMX), else
            float32 (emulated bfloat16 trains about 10x slower).
        deterministic: `tf.config.experimental.enable_op_determinism`.
        jit_compile: XLA for the train step (measured slower on CPU).
        export: SavedModel (and TFLite variants listed in `tflite`) at the end of the run.
        evaluate: score the generator beside the classical baselines at the end of the run.
        init_from: start a new run from a trained generator's weights (fine-tuning): `default`
            (the shipped model), a `.keras` generator, a run directory or a run's checkpoint
            (`RUN/checkpoints/ckpt-N`); None = fresh weights.
            Only a run's first start reads it; a resumed run continues from its checkpoint.
        ema_decay: keep an exponential moving average of the generator's weights with this decay
            per step (e.g. 0.999: about the last 1,000 steps; from fresh weights warmed up over
            the first ~9,000, `InpaintingGAN.average_weights`) and validate, save and export it
            instead of the raw weights; 0 = off (the papers).
    """

    name: str | None = None
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
    init_from: str | None = None
    ema_decay: float = 0.0


@dataclass(frozen=True)
class ExperimentConfig:
    paper: int
    preset: str
    data: DataConfig = field(default_factory=DataConfig)
    model: Paper1Config | Paper2Config = field(default_factory=Paper2Config)
    train: TrainConfig = field(default_factory=TrainConfig)

    @property
    def name(self) -> str:
        """The run's name (see `TrainConfig.name`): never the demo's for other data."""
        if self.train.name:
            return self.train.name
        name = f"paper{self.paper}-{self.preset}"
        own = PRESETS.get(self.paper, {}).get(self.preset)
        if self.data.source is not None and (own is None or self.data.source != own.data.source):
            name += "-" + data_name(self.data.source)
        return name

    @property
    def export_name(self) -> str:
        """The export's model name under the serving root: `name` with `-` as `_` (TF Serving
        names), so a run on other data exports as `paper{N}_{preset}_<data name>`."""
        return self.name.replace("-", "_")

    def total_steps(self) -> int:
        """Steps of the whole run (`train.steps`, or the model's schedule)."""
        return self.model.total_steps(self.train.steps)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> ExperimentConfig:
        """The config a `to_dict()` (a run's config.json) describes, old key names included."""
        model_cls = registered_paper(d["paper"]).model_config
        d = _upgrade(d)
        return cls(
            paper=d["paper"],
            preset=d["preset"],
            data=_section_from_dict(DataConfig, d.get("data", {}), "data"),
            model=_section_from_dict(model_cls, d.get("model", {}), "model"),
            train=_section_from_dict(TrainConfig, d.get("train", {}), "train"),
        )


# Keys of config files written before a rename or removal: section -> {old key: new key or
# None (removed; the value was the only one accepted)}.
LEGACY_KEYS = {"model": {"max_attention_side": "max_side", "critic_pooling": None}}

# The shipped default model's data (docs/MODEL_CARD.md): a list of the training images relative
# to the datasets folder (research-train/ and permissive/ side by side), and the NVIDIA masks'
# hash-chosen training 4/5. The held-out evaluation sets are never listed here.
DEFAULT_TRAIN_LIST = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "default_train.txt"
)
# The datasets folder is named by the user, never guessed: this environment variable, or
# `--data-root DIR` / `--set data.root=DIR`. The preset holds the variable's name; a run
# starting reads it (`resolve_data_root`), so importing the config reads no environment.
DATASETS_ENV = "TFINPAINT_DATASETS"
DEFAULT_DATA_ROOT = "$" + DATASETS_ENV
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
        # learning rate: at the paper's 1e-4 the demo's 1,200 steps ended far blurrier.
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
            # 4,000 steps, a few minutes on a 2-core CPU; 1,000 ended visibly blurrier
            # (docs/TRAINING.md, Results of the demo presets, has the scores).
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
                precision="auto",
                checkpoint_every=500,
                log_every=100,
                image_every=500,
                val_batches=4,
                eval_images=200,
            ),
        ),
    },
}


def validate(config: ExperimentConfig) -> None:
    """Reject values no model can run with, before anything is built."""
    d, t = config.data, config.train
    if not 0.0 < d.split_ratio <= 1.0:
        raise ConfigError(f"data.split_ratio={d.split_ratio}: expected a value in (0, 1]")
    if not 0.0 < d.hole_fraction < 1.0:
        raise ConfigError(f"data.hole_fraction={d.hole_fraction}: expected a value in (0, 1)")
    if not 0.0 <= d.hue_jitter <= 1.0:
        raise ConfigError(f"data.hue_jitter={d.hue_jitter}: expected a share in [0, 1] (0 = off)")
    for name in ("batch_size", "checkpoint_every", "keep_checkpoints", "log_every", "image_every"):
        if getattr(t, name) < 1:
            raise ConfigError(f"train.{name}={getattr(t, name)}: expected a positive integer")
    if not 0.0 <= t.ema_decay < 1.0:
        raise ConfigError(
            f"train.ema_decay={t.ema_decay}: expected a value in [0, 1) (0 = no averaged generator)"
        )
    if t.steps is not None and t.steps < 1:
        raise ConfigError(f"train.steps={t.steps}: expected a positive integer")
    if t.name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", t.name):
        raise ConfigError(
            f"train.name={t.name!r}: expected letters, digits, '-', '_' or '.' (it names a folder "
            "and a served model)"
        )
    config.model.validate(config)


def resolve_data_root(config: ExperimentConfig, environ=None) -> ExperimentConfig:
    """`config` with `data.root` = `$TFINPAINT_DATASETS` replaced by the folder the variable names.

    Called when a run starts. Any other root (a `--set data.root=DIR`) is returned unchanged. A
    config that no longer reads the folder (its own `--data` and masks without a relative
    `files:` folder) gets no root when the variable is unset.

    Raises:
        ConfigError: the config reads the folder and the variable is unset or empty, or names
            no folder.
    """
    if config.data.root != DEFAULT_DATA_ROOT:
        return config
    environ = os.environ if environ is None else environ
    folder = environ.get(DATASETS_ENV, "")
    if not folder and not _reads_datasets_folder(config.data):
        return dataclasses.replace(config, data=dataclasses.replace(config.data, root=None))
    if not folder:
        raise ConfigError(
            f"data.root: the {config.preset!r} preset reads its images from the datasets folder "
            f"(research-train/ and permissive/ side by side; docs/TRAINING.md); name it with the "
            f"environment variable {DATASETS_ENV}=DIR or with --data-root DIR (--set data.root=DIR)"
        )
    if not os.path.isdir(folder):
        raise ConfigError(
            f"{DATASETS_ENV}={folder!r}: no such folder; expected the datasets folder (research-train/ "
            "and permissive/ side by side), or pass --data-root DIR"
        )
    return dataclasses.replace(config, data=dataclasses.replace(config.data, root=folder))


def _reads_datasets_folder(data: DataConfig) -> bool:
    """Whether `data` reads paths relative to its root: the default list, or mask folders."""
    mask_dirs = re.findall(r"files(?:-paired)?:([^,=@]+)", data.masks)
    return data.source == DEFAULT_TRAIN_LIST or any(not os.path.isabs(d) for d in mask_dirs)


def data_name(source: str) -> str:
    """A short name for a data source (the folder or list file's name), safe in file names."""
    text = str(source).rstrip("/\\")
    if any(c in text for c in "*?["):
        text = os.path.dirname(text[: min(text.index(c) for c in "*?[" if c in text)])
    stem = os.path.splitext(os.path.basename(text.rstrip("/\\")))[0]
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("_.-") or "data"


def _upgrade(d: dict) -> dict:
    """`d` with the legacy keys of `LEGACY_KEYS` renamed or dropped."""
    d = dict(d)
    for section, renames in LEGACY_KEYS.items():
        values = dict(d.get(section, {}))
        for old, new in renames.items():
            if old in values:
                value = values.pop(old)
                if new is not None:
                    values.setdefault(new, value)
        d[section] = values
    return d


def _section_from_dict(cls, values: dict, section: str):
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"{section}: unknown keys {sorted(unknown)}; expected some of {sorted(known)}")
    return cls(**values)
