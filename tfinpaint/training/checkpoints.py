"""Crash-safe checkpoints of everything a resumed run needs.

`tf.train.CheckpointManager` writes each checkpoint atomically (kill -9 never leaves a half
checkpoint as the latest; RELIABILITY.md) and keeps the last K. The checkpoint holds the
generator, every critic, every optimizer (moments included), the step counter that selects
the schedule's phase, and the host-side `tf.data` iterator — so a resumed run continues
mid-epoch on the very next batch. All randomness in the pipeline and the train steps is
stateless (keyed by seed, example index and step), so there is no RNG state beyond that.
"""

from __future__ import annotations

import glob
import os
import shutil

import tensorflow as tf


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
    """

    def __init__(self, directory, gan, iterator, keep=3, chief=True, worker_index=0):
        self.directory = directory
        self.chief = chief
        target = directory if chief else os.path.join(directory, f".worker-{worker_index}")
        self._remove_orphans(target)
        items = {"generator": gan.generator, "step": gan.step, "iterator": iterator}
        items.update({f"critic_{name}": critic for name, critic in gan.critics.items()})
        items.update({f"optimizer_{name}": opt for name, opt in gan.optimizers().items()})
        self.checkpoint = tf.train.Checkpoint(**items)
        self.manager = tf.train.CheckpointManager(self.checkpoint, target, max_to_keep=keep)

    @staticmethod
    def _remove_orphans(directory):
        # CheckpointManager writes into `<prefix>_temp/` and renames; a kill -9 mid-write leaves it.
        for path in glob.glob(os.path.join(directory, "*_temp*")):
            shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.remove(path)

    def restore(self) -> int | None:
        """Restore the newest checkpoint; returns its step, or None when there is none.

        Every worker restores from the chief's directory (it is on storage all workers reach).
        """
        latest = tf.train.latest_checkpoint(self.directory)
        if latest is None:
            return None
        self.checkpoint.restore(latest).assert_existing_objects_matched()
        return int(self.checkpoint.step.numpy())

    def save(self, step: int) -> str:
        path = self.manager.save(checkpoint_number=step)
        if not self.chief:
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)
        return path
