"""TensorBoard: scalars for train and validation, image grids, the resolved config."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from tfinpaint.evaluation import grid


class TensorBoardLogger:
    """Writes `<run>/logs/train` and `<run>/logs/validation` event files.

    Args:
        log_dir: `<run>/logs`.
        enabled: False on the non-chief workers of a multi-worker run (nothing is written).
    """

    def __init__(self, log_dir, enabled=True):
        self.enabled = enabled
        if enabled:
            self.train = tf.summary.create_file_writer(os.path.join(log_dir, "train"))
            self.validation = tf.summary.create_file_writer(os.path.join(log_dir, "validation"))

    def config(self, config_json: str) -> None:
        if self.enabled:
            with self.train.as_default():
                tf.summary.text("config", "```\n" + config_json + "\n```", step=0)
            self.train.flush()

    def scalars(self, step: int, values: dict, split: str = "train") -> None:
        if not self.enabled:
            return
        with getattr(self, split).as_default():
            for name, value in values.items():
                tf.summary.scalar(name, float(value), step=step)
        getattr(self, split).flush()

    def examples(self, step: int, batch: dict, completed) -> None:
        """A masked | output | real grid of a fixed validation batch."""
        if not self.enabled:
            return
        image = np.asarray(batch["image"])
        mask = np.asarray(batch["mask"])
        picture = grid.inpainting_grid(image, mask, {"output": np.asarray(completed)})
        with self.validation.as_default():
            tf.summary.image("examples", picture[None], step=step)
        self.validation.flush()

    def close(self) -> None:
        if self.enabled:
            self.train.close()
            self.validation.close()
