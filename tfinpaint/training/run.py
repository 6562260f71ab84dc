"""The main job: train a paper's GAN in a run directory, resumably.

`train(config)` is what `python scripts/train.py --paper N` and `tfinpaint train` call; the
command then exports and scores the generator and marks the run finished
(`tfinpaint.training.results`). A run lives in `runs/<config.name>/` (or `run_dir`):
`config.json`, `run.json` (state, then the summary), `checkpoints/`, `logs/` (TensorBoard),
`generator.keras`, and at the end one report folder per evaluation protocol,
`report-<protocol>/` (`report.json`, `report.md`, `examples.png`;
`evaluation.evaluate.report_protocols`). Rerunning the same command resumes an unfinished run and
refuses a finished one; nothing is overwritten without `overwrite=True`. A run on other data than
the preset's gets its own name (`ExperimentConfig.name`), so it never resumes, replaces or
exports over the demo.
"""

from __future__ import annotations

import dataclasses
import os
import time

from tfinpaint.artifacts import RUN_GENERATOR
from tfinpaint.config import ConfigError, ExperimentConfig, resolve_data_root
from tfinpaint.training.rundir import RunError, prepare_run_dir, save_keras

__all__ = ["RunError", "TrainedRun", "train"]


@dataclasses.dataclass
class TrainedRun:
    """What `train` leaves: the summary (`run.json`'s, once the run is finished), the trained
    generator, and whether this process is the chief (the one that exports, scores and marks
    the run finished)."""

    summary: dict
    generator: object
    chief: bool


def train(
    config: ExperimentConfig,
    *,
    run_dir: str | None = None,
    overwrite: bool = False,
    strategy: str = "auto",
    progress: bool | None = None,
    log=print,
) -> TrainedRun:
    """Train (or resume) `config` to its last step and save the generator.

    The summary holds run_dir, steps, global_batch, replicas, train_seconds, unreadable (the
    image files skipped) and generator (the saved `.keras`: `generator.keras` in the run
    folder; a multi-worker run's other workers save theirs under `.worker-<i>/`).

    Raises:
        ConfigError, DataError: bad configuration or data, before any model is built.
        RunError: a finished run without `overwrite`, a config that differs from the run's,
            damaged run files, no readable checkpoint, or a non-finite loss (the last finite
            checkpoint stays).
    """
    started = time.time()
    config = resolve_data_root(config)  # the command did it already; a Python caller may not have
    run_dir = run_dir or os.path.join("runs", config.name)
    # A multi-worker strategy must exist before TensorFlow runs any op (collective ops are
    # configured at start-up); making it builds no model.
    from tfinpaint.training.distribute import make_strategy, worker_info

    dist = make_strategy(strategy)
    workers, worker_index = worker_info(dist)
    chief = worker_index == 0
    data_report = _check_request(config, dist, run_dir, overwrite, chief)
    _set_up_tensorflow(config, dist, data_report, log)
    train_ds, val_ds = _datasets(config, workers, worker_index)
    gan, start, loop = _restore(config, dist, train_ds, val_ds, run_dir, chief, worker_index, log)
    step = loop.run(start, config.total_steps(), progress)

    folder = run_dir if chief else os.path.join(run_dir, f".worker-{worker_index}")
    generator_path = os.path.join(folder, RUN_GENERATOR)
    save_keras(gan.inference_generator, generator_path)
    summary = {
        "run_dir": run_dir,
        "steps": step,
        "global_batch": config.train.batch_size,
        "replicas": dist.num_replicas_in_sync,
        "train_seconds": round(time.time() - started, 1),
        "unreadable": [path for path, _ in data_report.bad],
        "generator": generator_path,
    }
    return TrainedRun(summary, gan.inference_generator, chief)


def _check_request(config, dist, run_dir: str, overwrite: bool, chief: bool):
    """Everything that can be wrong with the request, checked before a model is built; prepares
    the run folder (on the chief). Returns the training data's check report."""
    from tfinpaint.training.build import init_weights_path

    replicas, global_batch = dist.num_replicas_in_sync, config.train.batch_size
    if global_batch % replicas:
        raise ConfigError(
            f"train.batch_size={global_batch} is the global batch, split evenly across the "
            f"{replicas} replicas: use a multiple of {replicas}"
        )
    data_report = _check_data(config)
    if config.train.init_from:
        init_weights_path(config.train.init_from)
    if chief:
        prepare_run_dir(run_dir, config, overwrite)
    return data_report


def _set_up_tensorflow(config, dist, data_report, log) -> None:
    """Determinism, seeds and the dtype policy; the run's opening lines."""
    import keras
    import tensorflow as tf

    from tfinpaint.training.precision import dtype_policy

    train_cfg, data_cfg = config.train, config.data
    if train_cfg.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(train_cfg.seed)
    policy = dtype_policy(train_cfg)
    keras.config.set_dtype_policy(policy)
    steps, replicas, global_batch = config.total_steps(), dist.num_replicas_in_sync, train_cfg.batch_size
    log(
        f"{config.name}: {steps} steps, global batch {global_batch} = {replicas} replica(s) x "
        f"{global_batch // replicas}, {data_cfg.image_size}px, policy {policy}, "
        f"{len(data_report['files'])} images"
        + (f" ({len(data_report['bad'])} unreadable, skipped)" if data_report["bad"] else "")
    )
    log("plan: " + _plan(config, steps))
    if data_report.bad:
        log(data_report.format(20, only_bad=True))
    if data_report.upscaled:
        log(
            f"{data_report.upscaled} image(s) smaller than {data_cfg.image_size}px are upscaled to it "
            "(data.upscale_small)"
        )


def _datasets(config, workers: int, worker_index: int):
    """(training, validation) datasets: this worker's shard of the training split, and the
    first `train.val_batches` global batches of the validation split, cached."""
    from tfinpaint.data import build_dataset

    train_cfg, data_cfg = config.train, config.data
    per_worker = train_cfg.batch_size // workers
    dataset_args = dict(
        image_size=data_cfg.image_size,
        masks=data_cfg.masks,
        root=data_cfg.root,
        hole_fraction=data_cfg.hole_fraction,
        split_ratio=data_cfg.split_ratio,
        seed=train_cfg.seed,
        upscale_small=data_cfg.upscale_small,
    )
    train_ds = build_dataset(
        data_cfg.source,
        batch_size=per_worker,
        split="train",
        training=True,
        num_shards=workers,
        shard_index=worker_index,
        hue_jitter=data_cfg.hue_jitter,
        **dataset_args,
    )
    val_source, val_split = data_splits(data_cfg)["val"]
    val_ds = (
        build_dataset(val_source, batch_size=1, split=val_split, training=False, **dataset_args)
        .unbatch()
        .batch(per_worker, drop_remainder=True)
        .take(train_cfg.val_batches)
        .cache()
    )
    return train_ds, val_ds


def _restore(config, dist, train_ds, val_ds, run_dir, chief, worker_index, log):
    """The training model in `dist`, resumed from the newest readable checkpoint (or started
    from `train.init_from`), and the loop that trains it: (gan, start step, loop)."""
    from tfinpaint.training.build import build_gan, init_generator, init_weights_path
    from tfinpaint.training.checkpoints import CheckpointError, RunCheckpoint
    from tfinpaint.training.loop import TrainingLoop
    from tfinpaint.training.summaries import TensorBoardLogger

    train_cfg = config.train
    with dist.scope():
        gan = build_gan(config, train_cfg.batch_size)
        gan.build_optimizers()
    iterator = iter(train_ds)
    checkpoint = RunCheckpoint(
        os.path.join(run_dir, "checkpoints"),
        gan,
        iterator,
        keep=train_cfg.keep_checkpoints,
        chief=chief,
        worker_index=worker_index,
    )
    try:
        start = checkpoint.restore(log=log) or 0
    except CheckpointError as error:
        raise RunError(str(error)) from None
    if start:
        log(f"resumed from step {start} (phase {gan.phase(start)})")
    elif train_cfg.init_from:
        init_path = init_weights_path(train_cfg.init_from)
        init_generator(gan.generator, init_path)
        gan.reset_average()
        log(f"generator initialised from {init_path}")
    board = TensorBoardLogger(os.path.join(run_dir, "logs"), enabled=chief)
    if start == 0:
        board.config(config.to_json())
    loop = TrainingLoop(gan, dist, iterator, val_ds, checkpoint, board, train_cfg, run_dir, chief, log)
    return gan, start, loop


def data_splits(data) -> dict:
    """(source, split) each use reads: `train`, `val` (scored while training) and `test` (scored at
    the end). Validation never reads the test split; `data.val_source` serves both when given."""
    if data.val_source:
        val = test = (data.val_source, "all")
    else:
        val, test = (data.source, "val"), (data.source, "test")
    return {"train": (data.source, "train"), "val": val, "test": test}


def _check_data(config: ExperimentConfig) -> dict:
    from tfinpaint.data import check_source

    reports = {}
    for name in ("source", "val_source"):
        source = getattr(config.data, name)
        if name == "val_source" and source is None:
            continue
        # Headers only: a full decode of Places2's 1.8 M files took half an hour at every start.
        report = check_source(
            source,
            config.data.image_size,
            root=config.data.root,
            quick=True,
            upscale_small=config.data.upscale_small,
        )
        files, bad = report["files"], report["bad"]
        if bad and len(bad) > config.data.bad_file_limit * (len(files) + len(bad)):
            raise RunError(
                f"data.{name}: more than data.bad_file_limit={config.data.bad_file_limit} "
                f"of the image files cannot be used:\n{report.format(20)}"
            )
        reports[name] = report
    return reports["source"]


def _plan(config: ExperimentConfig, steps: int) -> str:
    """The schedule of a run of `steps` steps, e.g. `reconstruction 1-2000, critics 2001-2300, ...`."""
    parts, first = [], 1
    for phase, length in config.model.plan(steps):
        if length:
            parts.append(f"{phase} steps {first}-{first + length - 1}")
        first += length
    return ", ".join(parts)
