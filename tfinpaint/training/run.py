"""The main job: train a paper's GAN in a run directory, resumably, then export and evaluate it.

`train(config)` is what `python scripts/train.py --paper N` and `tfinpaint train` call. A run
lives in `runs/paper{N}-{preset}/` (or `run_dir`): `config.json`, `run.json` (state),
`checkpoints/`, `logs/` (TensorBoard), `generator.keras`, and at the end `report.json`,
`report.md` and the example grid. Rerunning the same command resumes an unfinished run and
refuses a finished one; nothing is overwritten without `overwrite=True`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import sys
import time

from tfinpaint.config import ExperimentConfig, total_steps


class RunError(RuntimeError):
    """A run that cannot start or go on (finished already, config mismatch, non-finite loss)."""


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
    """Train (or resume) `config`; returns a summary dict (run_dir, steps, seconds, export, report).

    Raises:
        ConfigError, DataError: bad configuration or data, before any model is built.
        RunError: a finished run without `overwrite`, a config that differs from the run's, or a
            non-finite loss (the last finite checkpoint stays).
    """
    started = time.time()
    run_dir = run_dir or os.path.join("runs", config.name)

    import keras
    import tensorflow as tf

    from tfinpaint.data import build_dataset
    from tfinpaint.models import build_gan
    from tfinpaint.training.checkpoints import RunCheckpoint
    from tfinpaint.training.distribute import make_step_function, make_strategy, worker_info
    from tfinpaint.training.summaries import TensorBoardLogger

    # A multi-worker strategy must exist before TensorFlow runs any op (collective ops are
    # configured at start-up); making it builds no model.
    dist = make_strategy(strategy)
    workers, worker_index = worker_info(dist)
    chief = worker_index == 0
    # Everything that can be wrong with the request is checked before a model is built.
    data_report = _check_data(config)
    if chief:
        _prepare_run_dir(run_dir, config, overwrite)

    train_cfg, data_cfg = config.train, config.data
    if train_cfg.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(train_cfg.seed)
    policy = train_cfg.precision or ("mixed_float16" if train_cfg.mixed_precision else "float32")
    keras.mixed_precision.set_global_policy(policy)
    global_batch = train_cfg.batch_size * dist.num_replicas_in_sync
    steps = total_steps(config)
    log(
        f"{config.name}: {steps} steps, {dist.num_replicas_in_sync} replica(s) x batch "
        f"{train_cfg.batch_size} = global batch {global_batch}, {data_cfg.image_size}px, "
        f"policy {policy}, {len(data_report['files'])} images"
        + (f" ({len(data_report['bad'])} unreadable, skipped)" if data_report["bad"] else "")
    )

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
    val_source, val_split = (data_cfg.val_source, "all") if data_cfg.val_source else (data_cfg.source, "test")
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
    start = checkpoint.restore() or 0
    if start:
        log(f"resumed from step {start} (phase {gan.phase(start)})")
    board = TensorBoardLogger(os.path.join(run_dir, "logs"), enabled=chief)
    if start == 0:
        board.config(config.to_json())

    train_fn = make_step_function(dist, gan.train_step, jit_compile=train_cfg.jit_compile)
    eval_fn = make_step_function(dist, gan.test_step)
    val_count = sum(1 for _ in val_ds)  # fills the cache; the split may hold fewer batches
    if val_count == 0:
        log("no validation batch: the validation split holds fewer images than one global batch")
    fixed_batch = next(iter(val_ds), None)

    stop = _StopSignal()
    bar = _Progress(steps, start, global_batch, enabled=progress, log=log)
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
                _save_keras(gan.generator, os.path.join(run_dir, f"generator-{gan.phase(step - 1)}.keras"))
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
        "replicas": dist.num_replicas_in_sync,
        "train_seconds": round(time.time() - started, 1),
    }
    if not chief:
        generator_path = os.path.join(run_dir, f".worker-{worker_index}", "generator.keras")
        _save_keras(gan.generator, generator_path)
        return {**summary, "generator": generator_path, "seconds": round(time.time() - started, 1)}
    generator_path = os.path.join(run_dir, "generator.keras")
    _save_keras(gan.generator, generator_path)
    summary["generator"] = generator_path
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
    _write_json(os.path.join(run_dir, "run.json"), {"state": "finished", **summary})
    log(f"finished {config.name} in {summary['seconds']:.0f} s: {run_dir}")
    return summary


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


def _prepare_run_dir(run_dir: str, config: ExperimentConfig, overwrite: bool) -> None:
    config_path = os.path.join(run_dir, "config.json")
    state_path = os.path.join(run_dir, "run.json")
    if os.path.exists(run_dir) and overwrite:
        shutil.rmtree(run_dir)
    if os.path.exists(state_path):
        with open(state_path) as f:
            state = json.load(f)
        if state.get("state") == "finished":
            raise RunError(
                f"{run_dir} holds a finished run; pass --overwrite to train it again "
                "from scratch, or --run-dir for a new run"
            )
    if os.path.exists(config_path):
        with open(config_path) as f:
            saved = json.load(f)
        if saved != json.loads(config.to_json()):
            diff = _diff(saved, json.loads(config.to_json()))
            raise RunError(
                f"{run_dir} holds an unfinished run with another config ({diff}); rerun "
                "with the same settings to resume, or pass --overwrite or --run-dir"
            )
    elif os.path.isdir(run_dir) and os.listdir(run_dir):
        raise RunError(f"{run_dir} exists and is not a tfinpaint run; pass --overwrite or --run-dir")
    os.makedirs(run_dir, exist_ok=True)
    _write_json(config_path, json.loads(config.to_json()))
    _write_json(state_path, {"state": "running"})


def _diff(a: dict, b: dict, prefix="") -> str:
    keys = sorted(set(a) | set(b))
    out = []
    for k in keys:
        if isinstance(a.get(k), dict) and isinstance(b.get(k), dict):
            inner = _diff(a[k], b[k], f"{prefix}{k}.")
            if inner:
                out.append(inner)
        elif a.get(k) != b.get(k):
            out.append(f"{prefix}{k}: {a.get(k)!r} -> {b.get(k)!r}")
    return ", ".join(out)


def _write_json(path: str, value) -> None:
    from tfinpaint.io import write_bytes_atomic

    write_bytes_atomic(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode())


def _save_keras(model, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path[: -len(".keras")] + ".tmp.keras"
    model.save(tmp)
    os.replace(tmp, path)


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


def _evaluate(gan, config: ExperimentConfig, run_dir: str, log) -> dict:
    from tfinpaint.baselines import BASELINES
    from tfinpaint.evaluate import evaluate
    from tfinpaint.inference import KerasInpainter

    data = config.data
    inpainters = [KerasInpainter(gan.generator, name=config.name), *BASELINES]
    limit = config.train.eval_images or None
    source, split = (data.val_source, "all") if data.val_source else (data.source, "test")
    report = evaluate(
        inpainters,
        source,
        root=data.root,
        split=split,
        split_ratio=data.split_ratio,
        masks=data.masks,
        hole_fraction=data.hole_fraction,
        image_size=data.image_size,
        limit=limit,
        upscale_small=data.upscale_small,
        seed=config.train.seed,
        out_dir=run_dir,
        overwrite=True,
        progress=False,
    )
    whole = [r for r in report["rows"] if r["bucket"] is None]
    for row in whole:
        log(
            f"  {row['model']:>16}: PSNR {row['psnr']:.2f} dB  SSIM {row['ssim']:.4f}  "
            f"L1 {row['l1']:.4f}  ({row['n']} images)"
        )
    return report


class _StopSignal:
    """SIGTERM / SIGINT request a checkpoint and a clean stop after the current step."""

    def __init__(self):
        self.requested = False
        self._previous = {}
        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            self._previous = {}

    def _handle(self, signum, frame):
        if self.requested:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.requested = True

    def restore(self):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class _Progress:
    """A tqdm bar with step, phase, losses, images/s and ETA; plain log lines when not a TTY."""

    def __init__(self, total, start, global_batch, enabled=None, log=print):
        self.log = log
        self.total, self.global_batch = total, global_batch
        self.started, self.start_step = time.time(), start
        enabled = sys.stderr.isatty() if enabled is None else enabled
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=start, unit="step", dynamic_ncols=True)
        self.last_line = time.time()

    def update(self, step, phase, logs):
        short = {k: f"{v:.4g}" for k, v in logs.items()}
        rate = (step - self.start_step) / max(time.time() - self.started, 1e-9)
        images_per_sec = f"{rate * self.global_batch:.1f}"
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            self.bar.set_postfix(phase=phase, img_s=images_per_sec, **short, refresh=False)
        elif time.time() - self.last_line > 10 or step == self.total:
            eta = (self.total - step) / max(rate, 1e-9)
            self.log(
                f"step {step}/{self.total} [{phase}] "
                + " ".join(f"{k}={v}" for k, v in short.items())
                + f" {images_per_sec} images/s ETA {eta:.0f}s"
            )
            self.last_line = time.time()

    def close(self):
        if self.bar is not None:
            self.bar.close()
