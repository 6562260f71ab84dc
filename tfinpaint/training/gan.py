"""The GAN wrapper both papers share: generator + critics, step counter, trackers, `test_step`."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfinpaint import metrics


class InpaintingGAN(keras.Model):
    """Base class of the papers' training models.

    Holds the inference generator (a Keras model mapping `{"image", "mask"}` to the completed
    image) and a dict of critics. Subclasses implement `train_step`, `build_optimizers` and
    list their tracked quantities in `tracked_names`.

    The step counter `step` lives in every checkpoint, so a resumed run continues in the right
    phase of the schedule. It is incremented by the subclass' `train_step`, once per global step
    (`only_first_replica` aggregation keeps it a single count under a distribution strategy).

    Under a strategy, `train_step` runs once per replica on that replica's share of the global
    batch (`global_batch_size`). Losses are reduced with `tf.nn.compute_average_loss` so gradients
    summed across replicas equal those of one device; trackers take replica-local means, which
    the strategy averages when they are read.

    Args:
        generator: the inference model, `{"image": [B,H,W,3], "mask": [B,H,W,1]}` -> completed image.
        critics: critic name -> critic model.
        global_batch_size: images per optimisation step across all replicas.
    """

    tracked_names: tuple = ()

    def __init__(self, generator, critics, global_batch_size, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.critics = dict(critics)
        self.global_batch_size = int(global_batch_size)
        self.step = keras.Variable(
            0, dtype="int64", trainable=False, aggregation="only_first_replica", name="step"
        )
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.tracked_names}
        self.eval_trackers = {name: keras.metrics.Mean(name=name) for name in ("psnr", "ssim")}

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    @property
    def metrics(self):
        return list(self.trackers.values()) + list(self.eval_trackers.values())

    def optimizers(self) -> dict:
        """Optimiser name -> optimiser, for checkpoints and learning-rate logging."""
        raise NotImplementedError

    def phase(self, step: int) -> str:
        """The schedule's phase name at `step` (for logs and the progress bar)."""
        return "joint"

    def average(self, per_example):
        """Mean over the global batch of a per-example quantity, for gradients."""
        return tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch_size)

    def track(self, **values):
        """Record replica-local means of per-example values (or scalars)."""
        for name, value in values.items():
            self.trackers[name].update_state(tf.reduce_mean(tf.cast(value, "float32")))

    def test_step(self, batch):
        completed = self.generator({"image": batch["image"], "mask": batch["mask"]}, training=False)
        image = tf.cast(batch["image"], "float32")
        completed = tf.cast(completed, "float32")
        self.eval_trackers["psnr"].update_state(metrics.psnr(image, completed, max_val=1.0))
        self.eval_trackers["ssim"].update_state(metrics.ssim(image, completed, max_val=1.0))
        return {name: t.result() for name, t in self.eval_trackers.items()}

    def results(self) -> dict:
        return {name: t.result() for name, t in self.trackers.items()}

    def get_config(self):
        return {
            "generator": keras.saving.serialize_keras_object(self.generator),
            "critics": {k: keras.saving.serialize_keras_object(v) for k, v in self.critics.items()},
            "global_batch_size": self.global_batch_size,
            **{k: v for k, v in super().get_config().items() if k in ("name", "trainable")},
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["critics"] = {
            k: keras.saving.deserialize_keras_object(v) for k, v in config["critics"].items()
        }
        return cls(**config)
