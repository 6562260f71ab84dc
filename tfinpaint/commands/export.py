"""`tfinpaint export MODEL`: SavedModel (TF Serving layout) + TFLite variants of a generator."""

import argparse
import os

from tfinpaint.commands import add_examples
from tfinpaint.export import TFLITE_VARIANTS
from tfinpaint.inference.sizing import DEFAULT_CONTEXT, DEFAULT_MAX_SIDE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        metavar="MODEL",
        help="'default' (the model shipped with tfinpaint), a run directory (config.json + generator "
        ".keras), a .keras file or a run's checkpoint (RUN/checkpoints/ckpt-N)",
    )
    parser.add_argument(
        "--name",
        help="model name, the folder under --out (default: 'default' for the shipped model; a "
        "run's name with '_' for '-' (paper{N}_{preset}, plus the data's name for a run on other "
        "data); else the file stem)",
    )
    parser.add_argument("--version", type=int, help="integer version (default: the next one)")
    parser.add_argument(
        "--tflite",
        default="fp32",
        help=f"comma-separated TFLite variants from {','.join(TFLITE_VARIANTS)}, or 'none' (default: fp32)",
    )
    parser.add_argument(
        "--tflite-size",
        type=int,
        default=None,
        help="side of the TFLite models' fixed square input, at most the side the model runs at "
        "(default: that side, at most 256)",
    )
    parser.add_argument(
        "--max-side",
        type=int,
        default=DEFAULT_MAX_SIDE,
        help="largest window the exported graph runs the network on; it never exceeds the model's "
        f"training size (default: {DEFAULT_MAX_SIDE})",
    )
    parser.add_argument(
        "--context",
        type=int,
        default=DEFAULT_CONTEXT,
        help=f"pixels of context around a hole in a window (default: {DEFAULT_CONTEXT})",
    )
    parser.add_argument("--out", default="saved_models", help="export root (default: saved_models)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing version folder")
    add_examples(
        parser,
        "tfinpaint export default --tflite fp32,fp16,int8     # the shipped model -> saved_models/default/N/",
        "tfinpaint export runs/paper2-demo                    # a run -> saved_models/paper2_demo/N/",
        "tfinpaint export my_generator.keras --name garden --version 3 --tflite none",
    )


def run(args) -> int:
    from tfinpaint.export import ExportError, export

    try:
        path = export(
            args.source,
            name=args.name,
            version=args.version,
            tflite=args.tflite,
            out_root=args.out,
            overwrite=args.overwrite,
            tflite_size=args.tflite_size,
            max_side=args.max_side,
            context=args.context,
        )
    except ExportError as error:
        print(f"tfinpaint export: {error}")
        return 2
    print(f"SavedModel: {path}")
    tflite_dir = os.path.join(path, "tflite")
    if os.path.isdir(tflite_dir):
        for name in sorted(os.listdir(tflite_dir)):
            size = os.path.getsize(os.path.join(tflite_dir, name))
            print(f"TFLite:     {os.path.join(tflite_dir, name)} ({size / 1e6:.2f} MB)")
    print(f"TF Serving: {os.path.join(args.out, 'models.config')}")
    return 0
