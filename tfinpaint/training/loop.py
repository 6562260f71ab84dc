"""The training loop: one compiled global step at a time, and the one place that decides, after
each step, what the run writes (summaries, validation scores, example images, phase-end
generators, checkpoints)."""

from __future__ import annotations

import math
import os
import time

from tfinpaint.training.distribute import make_step_function
from tfinpaint.training.progress import Progress, StopSignal
from tfinpaint.training.rundir import RunError, save_keras


class TrainingLoop:
    """Drives a built training model from its restored step to the run's last step.

    Args:
        gan: the training model (`InpaintingGAN`), optimisers built.
        strategy: the distribution strategy it was built in.
        iterator: the host-side training iterator, which `checkpoint` saves.
        val_ds: the validation batches (cached; scored every `train.log_every` steps).
        checkpoint: the run's `RunCheckpoint`.
        board: the run's `TensorBoardLogger`.
        train_cfg: `config.train`: the cadence (`log_every`, `image_every`, `checkpoint_every`),
            `batch_size` and `jit_compile`.
        run_dir: the run's folder (phase-end generators are saved there).
        chief: whether this process writes the run's files.
        log: where messages go.
    """

    def __init__(self, gan, strategy, iterator, val_ds, checkpoint, board, train_cfg, run_dir, chief, log):
        self.gan, self.iterator, self.val_ds = gan, iterator, val_ds
        self.checkpoint, self.board, self.cfg = checkpoint, board, train_cfg
        self.run_dir, self.chief, self.log = run_dir, chief, log
        self.train_fn = make_step_function(strategy, gan.train_one_step, jit_compile=train_cfg.jit_compile)
        self.eval_fn = make_step_function(strategy, gan.validate_one_step)
        self.val_count = sum(1 for _ in val_ds)  # fills the cache; the split may hold fewer batches
        if self.val_count == 0:
            log("no validation batch: the validation split holds fewer images than one global batch")
        self.fixed_batch = next(iter(val_ds), None)
        self.images_since, self.since = 0, time.time()

    def run(self, start: int, steps: int, progress: bool | None) -> int:
        """Train from step `start` to `steps`; returns the last step.

        SIGINT / SIGTERM save a checkpoint after the current step, then raise KeyboardInterrupt.

        Raises:
            RunError: a non-finite loss (nothing is saved for that step).
        """
        stop = StopSignal()
        bar = Progress(steps, start, self.cfg.batch_size, enabled=progress, log=self.log)
        step = start
        try:
            while step < steps:
                logs = self._train_one_step(step)
                step += 1
                bar.update(step, self.gan.phase(step - 1), logs)
                self._after_step(step, steps, logs, stop.requested)
                if stop.requested:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            bar.close()
            self.board.close()
            self.log(
                f"interrupted at step {step}: checkpoint saved in {self.checkpoint.directory}; "
                "rerun the same command to resume"
            )
            raise
        finally:
            stop.restore()
        bar.close()
        self.board.close()
        return step

    def _train_one_step(self, step: int) -> dict:
        logs = {k: float(v) for k, v in self.train_fn(self.iterator).items()}
        bad = [k for k, v in logs.items() if not math.isfinite(v)]
        if bad:
            raise RunError(
                f"step {step + 1}: non-finite {', '.join(f'{k}={logs[k]}' for k in bad)}; stopped "
                f"before saving. The last finite checkpoint in {self.checkpoint.directory} stays; "
                "lower the learning rate or check the data, then rerun the same command."
            )
        self.images_since += self.cfg.batch_size
        return logs

    def _after_step(self, step: int, last: int, logs: dict, stopping: bool) -> None:
        """The run's cadence: what is written after `step` (1-based), the last step `last`."""
        cfg, gan, final = self.cfg, self.gan, step == last
        if step % cfg.log_every == 0 or final:
            self._write_summaries(step, logs)
        if self.fixed_batch is not None and (step % cfg.image_every == 0 or final):
            self.board.examples(
                step, self.fixed_batch, gan.inference_generator(self.fixed_batch, training=False)
            )
        if self.chief and not final and gan.phase(step) != gan.phase(step - 1):
            # The generator at the end of each phase, scored beside the final one: the
            # reconstruction phase gives the best PSNR, the adversarial ones the texture.
            path = os.path.join(self.run_dir, f"generator-{gan.phase(step - 1)}.keras")
            save_keras(gan.inference_generator, path)
        if step % cfg.checkpoint_every == 0 or final or stopping:
            self.checkpoint.save(step)

    def _write_summaries(self, step: int, logs: dict) -> None:
        """Training scalars (then the trackers start afresh), learning rates, throughput and
        the validation scores."""
        rate = self.images_since / max(time.time() - self.since, 1e-9)
        rates = {f"learning_rate/{name}": _learning_rate(o) for name, o in self.gan.optimizers().items()}
        self.board.scalars(step, {**logs, **rates, "images_per_sec": rate})
        self.board.scalars(step, self._validate(), split="validation")
        for tracker in self.gan.trackers.values():
            tracker.reset_state()
        self.images_since, self.since = 0, time.time()

    def _validate(self) -> dict:
        for tracker in self.gan.eval_trackers.values():
            tracker.reset_state()
        iterator, logs = iter(self.val_ds), {}
        for _ in range(self.val_count):
            logs = self.eval_fn(iterator)
        return {k: float(v) for k, v in logs.items()}


def _learning_rate(optimizer) -> float:
    import tensorflow as tf

    lr = optimizer.learning_rate
    lr = lr(optimizer.iterations) if callable(lr) else lr
    return float(tf.convert_to_tensor(lr))  # also reads a mirrored variable
