"""`tfinpaint bench data|train|infer`: speed measurements printing `name value` lines."""

import argparse
import importlib

KINDS = {
    "data": "input pipeline throughput (images/s)",
    "train": "training step throughput (images/s), optionally beside the PyTorch peer",
    "infer": "inference latency (ms per image) of Keras, SavedModel, TFLite and the server",
    "user": "what a user waits for: tfinpaint inpaint (one photo, a folder) and serve's first start",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    for kind, help_text in KINDS.items():
        module = importlib.import_module(f"tfinpaint.bench.{kind}")
        module.add_arguments(sub.add_parser(kind, help=help_text))


def run(args) -> int:
    return importlib.import_module(f"tfinpaint.bench.{args.kind}").run(args)
