"""`tfinpaint bench train`: training-step throughput of either paper, optionally beside a PyTorch peer.

The step is the real one: `build_gan` + `make_step_function`, with the step counter set to the
start of the requested phase, on a constant batch of random images with a centred hole (the
peer's input), so the figure is the model's speed, not the input pipeline's. The first call
(tracing and warm-up) is not timed. For paper 1 it also estimates the attention layer's share
of the step (`attention_share`).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import time

from tfinpaint.bench import add_common_arguments, emit
from tfinpaint.config.papers import PAPERS

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


EXAMPLES = (
    "tfinpaint bench train --paper 2 --image-size 128 --batch-size 4 --steps 8",
    "tfinpaint bench train --paper 2 --precision mixed_bfloat16 --peer   # beside the PyTorch peer",
    "tfinpaint bench train --paper 1 --preset paper --image-size 128 --batch-size 4 --steps 3",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--paper", type=int, choices=sorted(PAPERS), default=2, help="the paper (default: 2)")
    parser.add_argument("--preset", default="paper", help="network widths of this preset (default: paper)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override, e.g. model.generator_width=32 (repeatable)",
    )
    parser.add_argument("--image-size", type=int, default=128, help="square side (default: 128)")
    parser.add_argument("--batch-size", type=int, default=4, help="global batch (default: 4)")
    parser.add_argument(
        "--phase", default="joint", help="schedule phase to time (paper 2: reconstruction, critics, joint)"
    )
    parser.add_argument(
        "--precision", choices=PRECISIONS, default="float32", help="Keras dtype policy (default: float32)"
    )
    parser.add_argument("--steps", type=int, default=8, help="timed steps after one warm-up step")
    parser.add_argument("--jit", action="store_true", help="XLA-compile the step (slower on CPU so far)")
    parser.add_argument(
        "--peer",
        action="store_true",
        help="then run the PyTorch peer (--peer-script) at the same size, batch, steps and precision",
    )
    parser.add_argument(
        "--peer-script",
        default="scripts/torch_peer_paper2.py",
        help="a PyTorch script taking SIZE BATCH STEPS [bf16] that prints `images_per_sec N` "
        "(default: the repository's scripts/torch_peer_paper2.py)",
    )
    add_common_arguments(parser)


def run(args) -> int:
    if args.steps < 1 or args.batch_size < 1:
        raise SystemExit(f"--steps {args.steps} --batch-size {args.batch_size}: expected positive integers")
    if args.peer and args.paper != 2:
        raise SystemExit("--peer: only paper 2 has a PyTorch peer")
    if args.peer and not (args.peer_script and os.path.isfile(args.peer_script)):
        raise SystemExit(f"--peer needs --peer-script FILE (got {args.peer_script!r}: no such file)")
    if args.peer and args.precision == "mixed_float16":
        raise SystemExit(
            "--peer: the peer runs float32 or bf16 autocast; use --precision float32 or mixed_bfloat16"
        )
    figures = measure(
        args.paper,
        args.preset,
        args.overrides,
        args.image_size,
        args.batch_size,
        args.phase,
        args.precision,
        args.steps,
        args.jit,
    )
    if args.paper == 1:
        # Attention at 1/8 resolution should not dominate paper 1's step: measure its share.
        from tfinpaint.config import get_config

        config = get_config(1, args.preset, [*args.overrides, f"data.image_size={args.image_size}"])
        share = attention_share(config, args.batch_size, args.steps)
        figures.update(attention_ms=share["attention_ms"], attention_share=share["attention_share"])
    if args.peer:
        peer = run_peer(
            args.peer_script,
            args.image_size,
            args.batch_size,
            args.steps,
            bf16=args.precision == "mixed_bfloat16",
        )
        figures["peer_images_per_sec"] = peer
        figures["ratio"] = figures["images_per_sec"] / peer
    emit(
        figures,
        args.json,
        paper=args.paper,
        phase=args.phase,
        precision=args.precision,
        image_size=args.image_size,
        batch_size=args.batch_size,
        steps=args.steps,
        jit=args.jit,
        load=" ".join(f"{x:.2f}" for x in os.getloadavg()),
    )
    return 0


def measure(
    paper: int,
    preset: str,
    overrides,
    image_size: int,
    batch_size: int,
    phase: str,
    precision: str,
    steps: int,
    jit: bool = False,
) -> dict:
    """Images per second of `steps` training steps in `phase` (after one untimed step) and peak RSS."""
    import keras
    import numpy as np
    import tensorflow as tf

    from tfinpaint.config import get_config
    from tfinpaint.training.build import build_gan
    from tfinpaint.training.distribute import make_step_function

    config = get_config(paper, preset, [*overrides, f"data.image_size={image_size}"])
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        strategy = tf.distribute.get_strategy()
        with strategy.scope():
            gan = build_gan(config, batch_size)
            gan.build_optimizers()
        start = phase_start(gan, phase, config.total_steps())
        batch = random_batch(batch_size, image_size, np)
        iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
        compiled = make_step_function(strategy, gan.train_one_step, jit_compile=jit)
        gan.step.assign(start)
        _block(compiled(iterator))
        elapsed = 0.0
        for _ in range(steps):
            # Rewinding the counter keeps every timed step in the requested phase.
            gan.step.assign(start)
            t0 = time.perf_counter()
            _block(compiled(iterator))
            elapsed += time.perf_counter() - t0
    finally:
        keras.config.set_dtype_policy(previous)
    return {
        "images_per_sec": batch_size * steps / elapsed,
        "ms_per_step": 1000.0 * elapsed / steps,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


def phase_start(gan, phase: str, total: int) -> int:
    """The first step at which `gan.phase(step) == phase` (scanning the schedule)."""
    stride = max(1, total // 10_000)
    seen = []
    for step in range(0, total + stride, stride):
        name = gan.phase(step)
        if name == phase:
            while step > 0 and gan.phase(step - 1) == phase:
                step -= 1
            return step
        if name not in seen:
            seen.append(name)
    raise SystemExit(f"--phase {phase!r}: this model's schedule has the phases {', '.join(seen)}")


def random_batch(batch_size: int, image_size: int, np) -> dict:
    """Uniform random images with the centred half-side hole (the peer's input)."""
    rng = np.random.default_rng(0)
    mask = np.zeros((batch_size, image_size, image_size, 1), np.float32)
    q = image_size // 4
    mask[:, q : 3 * q, q : 3 * q] = 1.0
    return {
        "image": rng.random((batch_size, image_size, image_size, 3), dtype=np.float32),
        "mask": mask,
        "index": np.arange(batch_size, dtype=np.int64),
    }


def run_peer(script: str, image_size: int, batch_size: int, steps: int, bf16: bool) -> float:
    """Run the PyTorch peer in a subprocess; return its images per second."""
    command = [sys.executable, script, str(image_size), str(batch_size), str(steps)] + (
        ["bf16"] if bf16 else []
    )
    done = subprocess.run(command, capture_output=True, text=True)
    found = re.search(r"^images_per_sec\s+([0-9.eE+-]+)\s*$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or not found:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        hint = (
            " (install the CPU build: pip install torch==2.13.0)"
            if "No module named 'torch'" in done.stderr
            else ""
        )
        raise SystemExit(
            f"peer {' '.join(command)} failed with exit code {done.returncode}{hint}: " + " | ".join(tail)
        )
    return float(found.group(1))


def _block(logs):
    # Reading a value waits for the step to finish.
    for value in logs.values():
        value.numpy()


def _timed(fn, repeats):
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1000.0


def attention_share(config, batch_size=4, steps=5) -> dict:
    """Estimate the share of one paper-1 training step spent in the short+long-term attention layer.

    Measures, on the current device and without a distribution strategy:
    - `step_ms`: the compiled `Paper1GAN.train_one_step` (n_critic critic updates + one generator
      update) on random images with centre holes, at `config.data.image_size`, averaged over
      `steps` steps after one traced warm-up step;
    - `attention_ms`: the attention layer (query, softmax attention, fusion ResBlock) compiled
      alone on inputs of the shapes it sees in that step (both paths: 2 x batch): one
      forward+backward pass (the generator update) plus `n_critic` forward passes (the fakes of
      each critic update), each averaged over `steps` runs;
    - `attention_share` = attention_ms / step_ms.
    Timing the layer in isolation ignores any overlap with other ops, so the share is an
    estimate; the layer's cost grows as (H/8 * W/8)^2.

    Returns:
        dict with `step_ms`, `attention_ms`, `attention_share`.
    """
    import numpy as np
    import tensorflow as tf

    from tfinpaint.models.paper1 import ATTENTION_STRIDE, downsample
    from tfinpaint.training.distribute import make_step_function
    from tfinpaint.training.wgan_gp import build_gan

    size = config.data.image_size
    gan = build_gan(config, batch_size)
    gan.build_optimizers()
    batch = random_batch(batch_size, size, np)
    iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
    train = make_step_function(tf.distribute.get_strategy(), gan.train_one_step)
    step_ms = _timed(lambda: _block(train(iterator)), steps)

    layer = gan.generator.decoder.attention
    side, channels = size // ATTENTION_STRIDE, 4 * config.model.width
    x = tf.random.normal([2 * batch_size, side, side, channels])
    f = tf.random.normal([2 * batch_size, side, side, channels])
    visible = downsample(1.0 - tf.constant(batch["mask"]), ATTENTION_STRIDE)
    visible = tf.concat([visible, visible], axis=0)

    @tf.function
    def forward():
        return layer([x, f, visible], training=True)

    @tf.function
    def forward_backward():
        with tf.GradientTape() as tape:
            tape.watch([x, f])
            out = layer([x, f, visible], training=True)
        return tape.gradient(tf.reduce_sum(out), [x, f] + layer.trainable_variables)

    attention_ms = _timed(forward_backward, steps) + config.model.n_critic * _timed(forward, steps)
    return {"step_ms": step_ms, "attention_ms": attention_ms, "attention_share": attention_ms / step_ms}
