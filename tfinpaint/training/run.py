"""The main job: train a paper's GAN in a run directory, resumably, then export and evaluate it.

`train(config)` is what `python scripts/train.py --paper N` and `tfinpaint train` call. A run
lives in `runs/<config.name>/` (or `run_dir`): `config.json`, `run.json` (state, then the
summary), `checkpoints/`, `logs/` (TensorBoard), `generator.keras`, and at the end one report
folder per evaluation protocol, `report-<protocol>/` (`report.json`, `report.md`,
`examples.png`; `evaluation.evaluate.report_protocols`). Rerunning the same command resumes an unfinished
run and refuses a finished one; nothing is overwritten without `overwrite=True`. A run on other
data than the preset's gets its own name (`ExperimentConfig.name`), so it never resumes, replaces
or exports over the demo.
"""

from __future__ import annotations

import math
import os
import time

from tfinpaint.config import ConfigError, ExperimentConfig, resolve_data_root
from tfinpaint.training.rundir import RunError, prepare_run_dir, save_keras, write_json

__all__ = ["RunError", "train"]


def train(
    config: ExperimentConfig,
    *,
    run_dir: str | None = None,
    overwrite: bool = False,
    strategy: str = "auto",
    export_root: str = "saved_models",
    progress: bool | None = None,
    log=print,
) -> dict:
    """Train (or resume) `config`; returns a summary dict (run_dir, steps, seconds, export, and
    report: protocol -> the end-of-run report).

    Raises:
        ConfigError, DataError: bad configuration or data, before any model is built.
        RunError: a finished run without `overwrite`, a config that differs from the run's,
            damaged run files, no readable checkpoint, or a non-finite loss (the last finite
            checkpoint stays).
    """
    started = time.time()
    config = resolve_data_root(config)  # the command did it already; a Python caller may not have
    run_dir = run_dir or os.path.join("runs", config.name)

    import keras
    import tensorflow as tf

    from tfinpaint.data import build_dataset
    from tfinpaint.training.build import build_gan, init_generator, init_weights_path
    from tfinpaint.training.checkpoints import CheckpointError, RunCheckpoint
    from tfinpaint.training.distribute import make_step_function, make_strategy, worker_info
    from tfinpaint.training.precision import dtype_policy
    from tfinpaint.training.progress import Progress, StopSignal
    from tfinpaint.training.summaries import TensorBoardLogger

    # A multi-worker strategy must exist before TensorFlow runs any op (collective ops are
    # configured at start-up); making it builds no model.
    dist = make_strategy(strategy)
    workers, worker_index = worker_info(dist)
    chief = worker_index == 0
    replicas = dist.num_replicas_in_sync
    global_batch = config.train.batch_size
    if global_batch % replicas:
        raise ConfigError(
            f"train.batch_size={global_batch} is the global batch, split evenly across the "
            f"{replicas} replicas: use a multiple of {replicas}"
        )
    # Everything that can be wrong with the request is checked before a model is built.
    data_report = _check_data(config)
    init_path = init_weights_path(config.train.init_from) if config.train.init_from else None
    if chief:
        prepare_run_dir(run_dir, config, overwrite)

    train_cfg, data_cfg = config.train, config.data
    if train_cfg.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(train_cfg.seed)
    policy = dtype_policy(train_cfg)
    keras.config.set_dtype_policy(policy)
    steps = config.total_steps()
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
        batch_size=global_batch // workers,
        split="train",
        training=True,
        num_shards=workers,
        shard_index=worker_index,
        **dataset_args,
    )
    val_source, val_split = data_splits(data_cfg)["val"]
    val_ds = (
        build_dataset(val_source, batch_size=1, split=val_split, training=False, **dataset_args)
        .unbatch()
        .batch(global_batch // workers, drop_remainder=True)
        .take(train_cfg.val_batches)
        .cache()
    )

    with dist.scope():
        gan = build_gan(config, global_batch)
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
    elif init_path:
        init_generator(gan.generator, init_path)
        log(f"generator initialised from {init_path}")
    board = TensorBoardLogger(os.path.join(run_dir, "logs"), enabled=chief)
    if start == 0:
        board.config(config.to_json())

    train_fn = make_step_function(dist, gan.train_one_step, jit_compile=train_cfg.jit_compile)
    eval_fn = make_step_function(dist, gan.validate_one_step)
    val_count = sum(1 for _ in val_ds)  # fills the cache; the split may hold fewer batches
    if val_count == 0:
        log("no validation batch: the validation split holds fewer images than one global batch")
    fixed_batch = next(iter(val_ds), None)

    stop = StopSignal()
    bar = Progress(steps, start, global_batch, enabled=progress, log=log)
    step, images_since, since = start, 0, time.time()
    try:
        while step < steps:
            logs = {k: float(v) for k, v in train_fn(iterator).items()}
            bad = [k for k, v in logs.items() if not math.isfinite(v)]
            if bad:
                raise RunError(
                    f"step {step + 1}: non-finite {', '.join(f'{k}={logs[k]}' for k in bad)}; stopped "
                    f"before saving. The last finite checkpoint in {checkpoint.directory} stays; "
                    "lower the learning rate or check the data, then rerun the same command."
                )
            step += 1
            images_since += global_batch
            bar.update(step, gan.phase(step - 1), logs)
            if step % train_cfg.log_every == 0 or step == steps:
                rate = images_since / max(time.time() - since, 1e-9)
                rates = {
                    f"learning_rate/{name}": _learning_rate(opt) for name, opt in gan.optimizers().items()
                }
                board.scalars(step, {**logs, **rates, "images_per_sec": rate})
                board.scalars(step, _validate(gan, eval_fn, val_ds, val_count), split="validation")
                for tracker in gan.trackers.values():
                    tracker.reset_state()
                images_since, since = 0, time.time()
            if fixed_batch is not None and (step % train_cfg.image_every == 0 or step == steps):
                board.examples(step, fixed_batch, gan.generator(fixed_batch, training=False))
            if chief and step < steps and gan.phase(step) != gan.phase(step - 1):
                # The generator at the end of each phase, scored beside the final one: the
                # reconstruction phase gives the best PSNR, the adversarial ones the texture.
                save_keras(gan.generator, os.path.join(run_dir, f"generator-{gan.phase(step - 1)}.keras"))
            if step % train_cfg.checkpoint_every == 0 or step == steps or stop.requested:
                checkpoint.save(step)
            if stop.requested:
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        bar.close()
        board.close()
        log(
            f"interrupted at step {step}: checkpoint saved in {checkpoint.directory}; "
            "rerun the same command to resume"
        )
        raise
    finally:
        stop.restore()
    bar.close()
    board.close()

    summary = {
        "run_dir": run_dir,
        "steps": step,
        "global_batch": global_batch,
        "replicas": replicas,
        "train_seconds": round(time.time() - started, 1),
        "unreadable": [path for path, _ in data_report.bad],
    }
    if not chief:
        generator_path = os.path.join(run_dir, f".worker-{worker_index}", "generator.keras")
        save_keras(gan.generator, generator_path)
        return {**summary, "generator": generator_path, "seconds": round(time.time() - started, 1)}
    generator_path = os.path.join(run_dir, "generator.keras")
    save_keras(gan.generator, generator_path)
    summary["generator"] = generator_path
    # The export and the report run the network as users do, in float32: TFLite has no kernels
    # for a mixed_bfloat16 generator's layers, which the loaded file would otherwise get.
    keras.mixed_precision.set_global_policy("float32")
    if train_cfg.export:
        from tfinpaint.export import export

        tflite = tuple(v for v in train_cfg.tflite.split(",") if v)
        summary["export"] = export(
            generator_path, name=config.export_name, out_root=export_root, tflite=tflite
        )
        log(f"exported {summary['export']}")
    if train_cfg.evaluate:
        summary["report"] = _evaluate(gan, config, run_dir, log)
    summary["seconds"] = round(time.time() - started, 1)
    write_json(os.path.join(run_dir, "run.json"), {"state": "finished", **summary})
    log(f"finished {config.name} in {summary['seconds']:.0f} s: {run_dir}")
    for line in _next_steps(summary, run_dir):
        log(line)
    return summary


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


def _next_steps(summary: dict, run_dir: str) -> list:
    """Where the run's results are, and the command that uses its model."""
    lines = []
    for protocol in summary.get("report", {}):
        folder = report_dir(run_dir, protocol)
        lines.append(
            f"report ({protocol}): {os.path.join(folder, 'report.md')}, "
            f"examples: {os.path.join(folder, 'examples.png')}"
        )
    if summary.get("unreadable"):
        lines.append(f"{len(summary['unreadable'])} unreadable image(s) skipped; listed in run.json")
    lines.append(f"inpaint with it: tfinpaint inpaint PHOTO.jpg --mask MASK.png --model {run_dir}")
    return lines


def _learning_rate(optimizer) -> float:
    import tensorflow as tf

    lr = optimizer.learning_rate
    lr = lr(optimizer.iterations) if callable(lr) else lr
    return float(tf.convert_to_tensor(lr))  # also reads a mirrored variable


def _validate(gan, eval_fn, val_ds, count: int) -> dict:
    for tracker in gan.eval_trackers.values():
        tracker.reset_state()
    iterator, logs = iter(val_ds), {}
    for _ in range(count):
        logs = eval_fn(iterator)
    return {k: float(v) for k, v in logs.items()}


def report_dir(run_dir: str, protocol: str) -> str:
    """The folder of a run's end-of-run report for one protocol (`center`, `random`, ...)."""
    return os.path.join(run_dir, f"report-{protocol}")


def _evaluate(gan, config: ExperimentConfig, run_dir: str, log) -> dict:
    """Protocol -> report: the generator beside the classical baselines on the test split, once
    per protocol of `report_protocols` (the papers score centre and random holes apart)."""
    from tfinpaint.baselines import CORE_BASELINES
    from tfinpaint.evaluation.evaluate import evaluate, report_protocols
    from tfinpaint.inference import KerasInpainter

    data = config.data
    inpainters = [KerasInpainter(gan.generator, name=config.name), *CORE_BASELINES]
    source, split = data_splits(data)["test"]
    reports = {}
    for protocol, masks in report_protocols(data.masks).items():
        reports[protocol] = evaluate(
            inpainters,
            source,
            root=data.root,
            split=split,
            split_ratio=data.split_ratio,
            masks=masks,
            hole_fraction=data.hole_fraction,
            image_size=data.image_size,
            limit=config.train.eval_images or None,
            upscale_small=data.upscale_small,
            seed=config.train.seed,
            out_dir=report_dir(run_dir, protocol),
            overwrite=True,
            progress=False,
        )
        log(f"test split, {protocol} holes (masks {masks}):")
        for row in reports[protocol]["rows"]:
            if row["bucket"] is None:
                log(
                    f"  {row['model']:>16}: PSNR {row['psnr']:.2f} dB  SSIM {row['ssim']:.4f}  "
                    f"L1 {row['l1']:.4f}  ({row['n']} images)"
                )
    return reports
