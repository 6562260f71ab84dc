"""Distribution strategies and the compiled per-step function the run loop drives.

The data iterator stays on the host (a plain `tf.data` iterator, which `tf.train.Checkpoint`
can save mid-epoch; the strategy's distributed iterators cannot be checkpointed in TF 2.21).
Each global batch is split evenly across the local replicas inside the compiled step.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from tfinpaint.config import ConfigError

STRATEGIES = ("auto", "one", "mirrored", "multiworker")


def make_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """`auto`: MirroredStrategy over all local GPUs when there are several, else the default.

    `mirrored` mirrors over the local GPUs, or over every logical CPU device when there is no
    GPU (how the tests run it); `multiworker` reads the cluster from `TF_CONFIG`.
    """
    if name not in STRATEGIES:
        raise ConfigError(f"--strategy {name!r}: expected one of {', '.join(STRATEGIES)}")
    if name == "multiworker":
        # Checked first: listing devices initialises the runtime, after which collective ops
        # can no longer be configured.
        if "TF_CONFIG" not in os.environ:
            raise ConfigError(
                "--strategy multiworker needs TF_CONFIG (the cluster and this worker's "
                "task); see the README's multi-worker section"
            )
        json.loads(os.environ["TF_CONFIG"])
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "one" or (name == "auto" and len(gpus) < 2):
        return tf.distribute.get_strategy()
    devices = tuple(d.name for d in gpus) or tuple(d.name for d in tf.config.list_logical_devices("CPU"))
    if devices not in _MIRRORED:
        _MIRRORED[devices] = tf.distribute.MirroredStrategy(list(devices))
    return _MIRRORED[devices]


# One MirroredStrategy per device set and process: a second one restarts the collective
# instance keys, and its all-reduces can collide with the first one's ("Shape mismatch in the
# collective instance").
_MIRRORED: dict = {}


def worker_info(strategy: tf.distribute.Strategy) -> tuple[int, int]:
    """(number of workers, this worker's index) — for sharding the input pipeline."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return 1, 0
    workers = len(resolver.cluster_spec().as_dict().get("worker", [])) or 1
    return workers, int(resolver.task_id or 0)


def split_batch(strategy: tf.distribute.Strategy, batch):
    """Split a global batch (dict of [B, ...] tensors) evenly across the local replicas."""
    n = strategy.num_replicas_in_sync // worker_info(strategy)[0]
    if n == 1:
        return batch

    def piece(ctx):
        return tf.nest.map_structure(lambda t: tf.split(t, n)[ctx.replica_id_in_sync_group % n], batch)

    return strategy.experimental_distribute_values_from_function(piece)


def make_step_function(strategy: tf.distribute.Strategy, step_fn, jit_compile: bool = False):
    """A compiled `fn(iterator) -> logs` running `step_fn` on the iterator's next global batch.

    `step_fn(batch)` (`InpaintingGAN.train_one_step` or `validate_one_step`) runs in the
    cross-replica context, inside the strategy's scope, and returns per-replica tracker results
    (replica-local means of a sum-aggregated metric): the mean over replicas is the global value.
    """

    # XLA cannot compile the iterator read, so only the step itself is compiled with it.
    step = tf.function(step_fn, jit_compile=True) if jit_compile else step_fn

    def run(iterator):
        with strategy.scope():
            per_replica = step(next(iterator))
        return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in per_replica.items()}

    return tf.function(run, reduce_retracing=True)
