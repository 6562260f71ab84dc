"""The Keras dtype policy a run trains with, `auto` resolved for this machine's processor."""

from __future__ import annotations

import tensorflow as tf

# CPU flags (Linux /proc/cpuinfo) of native bfloat16 arithmetic. Without them TensorFlow emulates
# bfloat16 and its convolution gradients run about 10x slower than float32 (docs/BENCHMARKS.md).
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
CPUINFO = "/proc/cpuinfo"


def cpu_has_native_bf16(cpuinfo: str = CPUINFO) -> bool:
    """True when the processor's flags include one of `NATIVE_BF16_FLAGS` (False if unreadable)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            flags = {word for line in f if line.startswith("flags") for word in line.split()}
    except OSError:
        return False
    return any(flag in flags for flag in NATIVE_BF16_FLAGS)


def dtype_policy(train_cfg, cpuinfo: str = CPUINFO) -> str:
    """The policy of `train_cfg`: `precision`, else `mixed_float16` / `float32` by `mixed_precision`.

    `precision="auto"`: `mixed_bfloat16` on a CPU-only machine with native bfloat16, else float32
    (a GPU run asks for `mixed_float16` explicitly with `--mixed-precision`).
    """
    if train_cfg.precision == "auto":
        native = not tf.config.list_physical_devices("GPU") and cpu_has_native_bf16(cpuinfo)
        return "mixed_bfloat16" if native else "float32"
    return train_cfg.precision or ("mixed_float16" if train_cfg.mixed_precision else "float32")
