"""Copy a trained generator into the package as the shipped default model.

    python scripts/ship_default_model.py GENERATOR [--blend NAME] [--overwrite] [--out FILE]
    python scripts/ship_default_model.py --export-only

GENERATOR is a trained generator's `.keras` file (RUN/generator-reconstruction.keras) or a run's
checkpoint (RUN/checkpoints/ckpt-N: its averaged weights when the run kept them). It is rebuilt
under the float32 dtype policy (a run trained with mixed_bfloat16 saves its layers with that
policy; the variables are float32 either way) and written atomically to
tfinpaint/weights/default.keras, the file `--model default` and every command without a model
load. Its saved config keeps `train_size`, the side it was trained at, which inference runs it at,
and `blend`, the post-processing every command applies to it when none is asked (`--blend`; by
default the generator's own, else its paper's).
Then the shipped export beside it, tfinpaint/weights/default_export/ (`tfinpaint.default_export`),
is made again from it; `--export-only` only remakes that export (after a change to the code that
builds the exported graph, which tests/test_default_export.py detects).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from tfinpaint.artifacts import checkpoint_prefix
from tfinpaint.convention import BLENDS

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.path.join(os.path.dirname(HERE), "tfinpaint", "weights", "default.keras")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "generator",
        nargs="?",
        help="a trained generator (.keras, or a run's checkpoint RUN/checkpoints/ckpt-N)",
    )
    parser.add_argument(
        "--blend", choices=BLENDS, help="the shipped model's blend (default: the generator's)"
    )
    parser.add_argument("--out", default=TARGET, help=f"default: {TARGET}")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")
    parser.add_argument(
        "--export-only", action="store_true", help="only remake the shipped export of the shipped weights"
    )
    args = parser.parse_args()
    if args.export_only:
        ship_export()
        return 0
    if args.generator is None:
        parser.error("give a generator (.keras), or --export-only")
    if not (args.generator.endswith(".keras") and os.path.isfile(args.generator)) and not checkpoint_prefix(
        args.generator
    ):
        sys.exit(f"{args.generator}: expected an existing .keras generator file or a run's checkpoint")
    if os.path.exists(args.out) and not args.overwrite:
        sys.exit(f"{args.out} exists; pass --overwrite to replace it")

    import keras
    import numpy as np

    from tfinpaint.inference import load_generator

    trained = load_generator(args.generator)
    config = trained.get_config()
    if config.get("train_size") is None:
        sys.exit(
            f"{args.generator}: the generator records no train_size; expected one saved by `tfinpaint train`"
        )
    config["dtype"] = "float32"
    if args.blend:
        config["blend"] = args.blend
    keras.mixed_precision.set_global_policy("float32")
    shipped = type(trained).from_config(config)
    shipped.build()
    shipped.set_weights(trained.get_weights())
    probe = {
        "image": np.random.RandomState(0).rand(1, 64, 64, 3).astype("float32"),
        "mask": np.zeros((1, 64, 64, 1), "float32"),
    }
    probe["mask"][:, 16:48, 16:48] = 1.0
    gap = float(np.abs(shipped(probe).numpy() - trained(probe).numpy().astype("float32")).max())
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    tmp = args.out[: -len(".keras")] + ".tmp.keras"
    shipped.save(tmp)
    os.replace(tmp, args.out)
    print(
        f"{args.out}: {os.path.getsize(args.out) / 1e6:.1f} MB, {shipped.count_params():,} parameters, "
        f"train_size {shipped.train_size}, blend {shipped.blend or 'of its paper'}; "
        f"max |float32 - trained| on a probe: {gap:.4f}"
    )
    if os.path.abspath(args.out) == TARGET:
        ship_export()
    return 0


def ship_export() -> None:
    """Remake tfinpaint/weights/default_export/ from the shipped weights."""
    from tfinpaint import default_export
    from tfinpaint.serving.default_model import export_default

    version = os.path.join(default_export.SHIPPED_BASE_PATH, str(default_export.VERSION))
    shutil.rmtree(version, ignore_errors=True)
    export_default(default_export.SHIPPED_BASE_PATH)
    size = sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(version) for f in files)
    print(f"{version}: {size / 1e6:.1f} MB, made from {default_export.source_digest()}")


if __name__ == "__main__":
    sys.exit(main())
