"""Crash-safe checkpoints of everything a resumed run needs.

`tf.train.CheckpointManager` writes each checkpoint under a temporary name and renames it, so
kill -9 never leaves a half-written checkpoint as the latest, and keeps the last K. A checkpoint
damaged after it was written (power loss before the data reached the disk, a full disk, a
truncated copy) is found at restore time: the run names its files and resumes from the newest
intact one. The checkpoint holds the generator, every critic, every optimizer (moments
included), the averaged generator when the run keeps one, the step counter that selects the
schedule's phase, and the host-side `tf.data` iterator — so a resumed run continues mid-epoch
on the very next batch. All randomness in the pipeline and the train steps is stateless (keyed
by seed, example index and step), so there is no RNG state beyond that.
"""

from __future__ import annotations

import glob
import os
import re
import shutil

import tensorflow as tf

from tfinpaint.artifacts import CHECKPOINT_AVERAGE, CHECKPOINT_GENERATOR


class CheckpointError(RuntimeError):
    """No checkpoint of a run can be restored, though some exist."""


class RunCheckpoint:
    """Saves and restores a GAN's training state in `directory`.

    Args:
        directory: where checkpoints go (`<run>/checkpoints`).
        gan: an `InpaintingGAN` whose optimizers are built.
        iterator: the host-side training data iterator.
        keep: how many checkpoints to keep.
        chief: only the chief writes to `directory`; other workers of a multi-worker run write
            to a scratch folder of their own, which they delete (every worker must take part in
            saving, because saving mirrored variables is a collective operation).
        worker_index: this worker's index (names its scratch folder).
    """

    def __init__(self, directory, gan, iterator, keep=3, chief=True, worker_index=0):
        self.directory = directory
        self.chief = chief
        target = directory if chief else os.path.join(directory, f".worker-{worker_index}")
        self._remove_orphans(target)
        items = {CHECKPOINT_GENERATOR: gan.generator, "step": gan.step, "iterator": iterator}
        if gan.generator_average is not None:
            items[CHECKPOINT_AVERAGE] = gan.generator_average
        items.update({f"critic_{name}": critic for name, critic in gan.critics.items()})
        items.update({f"optimizer_{name}": opt for name, opt in gan.optimizers().items()})
        self.checkpoint = tf.train.Checkpoint(**items)
        self.manager = tf.train.CheckpointManager(self.checkpoint, target, max_to_keep=keep)

    @staticmethod
    def _remove_orphans(directory):
        # CheckpointManager writes into `<prefix>_temp/` and renames; a kill -9 mid-write leaves it.
        for path in glob.glob(os.path.join(directory, "*_temp*")):
            shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.remove(path)

    def prefixes(self) -> list:
        """Checkpoint prefixes (`<dir>/ckpt-N`) found in the directory, newest step first."""
        found = []
        for index in glob.glob(os.path.join(self.directory, "ckpt-*.index")):
            number = re.fullmatch(r"ckpt-(\d+)\.index", os.path.basename(index))
            if number:
                found.append((int(number.group(1)), index[: -len(".index")]))
        return [prefix for _, prefix in sorted(found, reverse=True)]

    def restore(self, log=print) -> int | None:
        """Restore the newest intact checkpoint; returns its step, or None when there is none.

        A checkpoint that cannot be read is named (with its files and the error) through `log`,
        and the next older one is tried. Every worker restores from the chief's directory (it is
        on storage all workers reach).

        Raises:
            CheckpointError: checkpoints exist but none can be read.
        """
        broken = []
        for prefix in self.prefixes():
            try:
                self.checkpoint.restore(prefix).assert_existing_objects_matched()
            except (tf.errors.OpError, ValueError, IndexError, AssertionError) as error:
                reason = _first_line(error)
                files = ", ".join(sorted(os.path.basename(p) for p in glob.glob(prefix + ".*")))
                log(f"checkpoint {prefix} cannot be read ({files}: {reason})")
                broken.append(prefix)
                continue
            step = int(self.checkpoint.step.numpy())
            if broken:
                log(
                    f"resuming from the newest intact checkpoint, {os.path.basename(prefix)} (step {step}); "
                    f"the damaged one(s) will be replaced as training saves again"
                )
            return step
        if broken:
            names = ", ".join(os.path.basename(p) for p in broken)
            raise CheckpointError(
                f"no checkpoint in {self.directory} can be read ({names}); pass --overwrite to train "
                "this run again from scratch"
            )
        return None

    def save(self, step: int) -> str:
        path = self.manager.save(checkpoint_number=step)
        if not self.chief:
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)
        return path


def _first_line(error) -> str:
    text = str(getattr(error, "message", None) or error).strip()
    return (text.splitlines() or [type(error).__name__])[0][:200]
