"""Benchmarks. Each prints one `name value` line per figure (or JSON with --json) plus the
machine and date, so every number in docs/BENCHMARKS.md can be re-run."""

import datetime
import json
import os
import platform


def machine() -> dict:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import tensorflow as tf

    return {
        "date": datetime.date.today().isoformat(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "gpus": len(tf.config.list_physical_devices("GPU")),
        "tensorflow": tf.__version__,
    }


def emit(figures: dict, as_json: bool = False, **context) -> None:
    """Print `figures` (name -> number) in the benchmark format, with the machine and context."""
    info = {**machine(), **context}
    if as_json:
        print(json.dumps({"machine": info, "figures": figures}, indent=2))
        return
    print("# " + " ".join(f"{k}={v}" for k, v in info.items()))
    for name, value in figures.items():
        print(f"{name} {value:.3f}" if isinstance(value, float) else f"{name} {value}")


def add_common_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
