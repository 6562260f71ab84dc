"""The trainer skeleton both papers share: networks, optimisers, and the global step that runs a
paper's updates in order, each one on every replica."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfinpaint import metrics
from tfinpaint.training.distribute import split_batch


class InpaintingGAN(keras.Model):
    """Base class of the papers' training models.

    Holds the inference generator (a Keras model mapping `{"image", "mask"}` to the completed
    image), a dict of critics and one optimiser per role. A paper subclass supplies:
    - `critic_roles`: the critic names it accepts (`all_critics_required`: every one of them);
    - `optimizer_variables()`: optimiser role -> the variables it trains, and
      `make_optimizer(role)`: the paper's optimiser for a role;
    - `run_updates(batch, step)`: the paper's updates of one global step, in the paper's order,
      each handed to `on_replicas`; `phase_names` and `phase_index(step)` name its phases.

    The shape is that of tensorflow/models' orbit `StandardTrainer`: `train_one_step` runs in
    the cross-replica context of the compiled step (`distribute.make_step_function`) and calls
    `strategy.run` once per update (`on_replicas`). Keras optimisers all-reduce gradients with a
    `merge_call`, which TensorFlow refuses inside a cond or loop traced in a replica context;
    the paper's loops and phase branches therefore live in the cross-replica context, where
    autograph turns them into graph ops, and only the updates themselves run per replica. One
    compiled step serves the whole schedule.

    With `average_weights(decay)` the model also keeps `generator_average`, an exponential moving
    average of the generator's weights (BatchNorm's moving statistics included), updated after
    every global step; it is the generator a run validates, shows, saves and exports
    (`inference_generator`). The raw weights wander: 500 steps apart, one run's checkpoints
    scored 20.89-21.42 dB on the same photos, and the mean of six of them 21.48
    (docs/PAPER_COMPARISONS.md, "Averaged weights").

    The step counter `step` lives in every checkpoint, so a resumed run continues in the right
    phase. Losses are reduced with `tf.nn.compute_average_loss` over the global batch
    (`average`), so gradients summed across replicas equal those of one device; trackers take
    replica-local means, which the compiled step averages over the replicas.

    Why the run loop (`tfinpaint.training.run`) drives `train_one_step`, not
    `compile()`/`fit()`: the data iterator must be a host-side `tf.data` iterator that
    `tf.train.Checkpoint` can save mid-epoch (the distributed iterators `fit` makes cannot be
    checkpointed in TF 2.21); one global batch is split across the replicas inside the compiled
    step, so per-example noise keyed by the global example index is the same on 1 or N devices;
    and the loop checkpoints, logs, snapshots the generator at phase ends and stops on a
    non-finite loss at global-step granularity, with several optimisers of its own. `fit` would
    need a callback for each of these and still could not checkpoint the iterator, so it is not
    supported.

    Args:
        generator: the inference model, `{"image": [B,H,W,3], "mask": [B,H,W,1]}` -> completed image.
        critics: critic name -> critic model (names from `critic_roles`).
        global_batch_size: images per optimisation step across all replicas.
    """

    critic_roles: tuple = ()
    all_critics_required = True
    phase_names: tuple = ("joint",)
    batch_keys: tuple = ("image", "mask")

    def __init__(self, generator, critics, global_batch_size, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.critics = self._checked_critics(critics)
        self.global_batch_size = int(global_batch_size)
        self.step = keras.Variable(
            0, dtype="int64", trainable=False, aggregation="only_first_replica", name="step"
        )
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.tracked_names}
        self.eval_trackers = {name: keras.metrics.Mean(name=name) for name in ("psnr", "ssim")}
        self._optimizers = {}
        self.generator_average, self.average_decay, self.average_warmup = None, 0.0, True

    def _checked_critics(self, critics) -> dict:
        names = list(critics)
        unknown = [n for n in names if n not in self.critic_roles]
        missing = [n for n in self.critic_roles if n not in names] if self.all_critics_required else []
        if unknown or missing or not names:
            expected = "exactly" if self.all_critics_required else "one or more of"
            raise ValueError(
                f"{type(self).__name__}: critics has keys {sorted(names)}; expected {expected} "
                f"{list(self.critic_roles)}"
            )
        return {name: critics[name] for name in self.critic_roles if name in critics}

    @property
    def tracked_names(self) -> tuple:
        """Names of the values `train_one_step` reports (replica-local means)."""
        return ()

    # ---------------------------------------------------------------- what a paper supplies
    def optimizer_variables(self) -> dict:
        """Optimiser role -> the trainable variables it updates."""
        raise NotImplementedError

    def make_optimizer(self, role: str):
        """The paper's optimiser for `role`, not yet built."""
        raise NotImplementedError

    def phase_index(self, step: int) -> int:
        """Index into `phase_names` at `step`."""
        return 0

    def run_updates(self, batch, step) -> None:
        """The paper's updates of one global step, in order, each run by `on_replicas`.

        Called in the cross-replica context of the compiled step, with `batch` split across the
        replicas and `step` the step counter as a tensor.
        """
        raise NotImplementedError

    # ---------------------------------------------------------------------- averaged weights
    def average_weights(self, decay: float, warmup: bool = True) -> None:
        """Keep `generator_average`, a moving average of the generator's weights with `decay` per
        step; call inside the strategy's scope, before a checkpoint is restored.

        With `warmup` (fresh weights) the decay at step t is min(decay, (1 + t) / (10 + t)), as
        `tf.train.ExponentialMovingAverage` with num_updates, so a short run's average is not its
        random initial weights; it reaches 0.999 only after ~9,000 steps. Without it (a run
        started from trained weights, whose initial weights are worth keeping) the decay is
        `decay` from the first step: 0.999 averages about the last 1,000 steps from the start.
        """
        if not 0.0 < decay < 1.0:
            raise ValueError(f"average_weights: decay {decay}; expected a value in (0, 1)")
        average = type(self.generator).from_config(self.generator.get_config())
        average.build_from_config(self.generator.get_build_config())
        average.trainable = False
        self.generator_average, self.average_decay = average, float(decay)
        self.average_warmup = bool(warmup)
        self.reset_average()

    def reset_average(self) -> None:
        """Start the average at the generator's current weights (after `train.init_from`)."""
        if self.generator_average is not None:
            for average, weight in zip(self.generator_average.weights, self.generator.weights):
                average.assign(weight)

    def _update_average(self) -> None:
        decay = tf.constant(self.average_decay, "float32")
        if self.average_warmup:
            t = tf.cast(tf.convert_to_tensor(self.step), "float32")
            decay = tf.minimum(decay, (1.0 + t) / (10.0 + t))
        for average, weight in zip(self.generator_average.weights, self.generator.weights):
            if average.dtype.startswith("float"):
                average.assign(decay * average + (1.0 - decay) * weight)
            else:  # a counter or seed state: the current one
                average.assign(weight)

    @property
    def inference_generator(self):
        """The generator a run validates, shows, saves and exports: the averaged one when kept."""
        return self.generator if self.generator_average is None else self.generator_average

    # --------------------------------------------------------------------------- optimisers
    def build_optimizers(self, factory=None) -> dict:
        """Create and build one optimiser per role; call inside the strategy's scope.

        Args:
            factory: optional `role -> optimizer` replacing `make_optimizer`, e.g. plain SGD
                for replica-equivalence tests.

        Returns:
            role -> optimiser (wrapped in `LossScaleOptimizer` under `mixed_float16`).
        """
        factory = factory or self.make_optimizer
        float16 = keras.config.dtype_policy().name == "mixed_float16"
        for role, variables in self.optimizer_variables().items():
            optimizer = factory(role)
            if float16 and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer, name=f"{role}_loss_scale")
            optimizer.build(variables)
            self._optimizers[role] = optimizer
        return self.optimizers()

    def optimizers(self) -> dict:
        """Optimiser role -> optimiser, for checkpoints and learning-rate logging."""
        if not self._optimizers:
            raise RuntimeError(
                f"{type(self).__name__}: call build_optimizers() (inside the strategy scope) before training"
            )
        return dict(self._optimizers)

    def scaled(self, role: str, loss):
        """`loss` scaled for `role`'s optimiser (a no-op without loss scaling)."""
        return self._optimizers[role].scale_loss(loss)

    def apply(self, role: str, tape, loss) -> None:
        """One update of `role`'s variables by the gradient of `loss` (already `scaled`)."""
        variables = self.optimizer_variables()[role]
        self._optimizers[role].apply(tape.gradient(loss, variables), variables)

    # ----------------------------------------------------------------------------- schedule
    def phase(self, step: int) -> str:
        """The schedule's phase name at `step` (for logs and the progress bar)."""
        return self.phase_names[self.phase_index(int(step))]

    # -------------------------------------------------------------------------------- steps
    def train_one_step(self, batch) -> dict:
        """One global step on a global batch; returns the trackers, per replica.

        Runs in the cross-replica context of the compiled step (`distribute.make_step_function`):
        splits the batch across the replicas, runs the paper's updates (`run_updates`), counts
        the step and updates the averaged generator.
        """
        self._check_batch(batch)
        self.optimizers()
        batch = {k: tf.cast(v, "float32") if k in ("image", "mask") else v for k, v in batch.items()}
        self.run_updates(split_batch(tf.distribute.get_strategy(), batch), tf.convert_to_tensor(self.step))
        self.step.assign_add(1)
        if self.generator_average is not None:
            self._update_average()
        return self.on_replicas(self.results)

    def validate_one_step(self, batch) -> dict:
        """PSNR and SSIM trackers of the generator on a global batch, per replica (cross-replica)."""
        return self.on_replicas(self.test_step, split_batch(tf.distribute.get_strategy(), batch))

    def on_replicas(self, update, *args):
        """`update(*args)` on every replica (`strategy.run`), on each replica's share of a split
        batch; returns its per-replica results."""
        return tf.distribute.get_strategy().run(update, args=args)

    def _check_batch(self, batch) -> None:
        missing = set(self.batch_keys) - set(batch)
        if missing:
            raise ValueError(
                f"{type(self).__name__}.train_one_step: the batch has keys {sorted(batch)}, missing "
                f"{sorted(missing)}; expected {', '.join(self.batch_keys)} (see "
                "tfinpaint.data.build_dataset)"
            )

    def average(self, per_example):
        """Mean over the global batch of a per-example quantity, for gradients."""
        return tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch_size)

    def track(self, **values):
        """Record replica-local means of per-example values (or scalars)."""
        for name, value in values.items():
            self.trackers[name].update_state(tf.reduce_mean(tf.cast(value, "float32")))

    def results(self) -> dict:
        return {name: t.result() for name, t in self.trackers.items()}

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    @property
    def metrics(self):
        return list(self.trackers.values()) + list(self.eval_trackers.values())

    def test_step(self, batch):
        completed = self.inference_generator({"image": batch["image"], "mask": batch["mask"]}, training=False)
        image = tf.cast(batch["image"], "float32")
        completed = tf.cast(completed, "float32")
        self.eval_trackers["psnr"].update_state(metrics.psnr(image, completed, max_val=1.0))
        self.eval_trackers["ssim"].update_state(metrics.ssim(image, completed, max_val=1.0))
        return {name: t.result() for name, t in self.eval_trackers.items()}

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
