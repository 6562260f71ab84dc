"""`tfinpaint bench data|train|infer|user`: speed measurements printing `name value` lines."""

import argparse
import importlib

from tfinpaint.commands import add_examples

KINDS = {
    "data": "input pipeline throughput (images/s)",
    "train": "training step throughput (images/s), optionally beside the PyTorch peer",
    "infer": "inference latency (ms per image) of Keras, SavedModel, TFLite and the server",
    "user": "what a user waits for: tfinpaint inpaint (one photo, a folder) and serve's first start",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="kind", metavar="KIND", required=True, help=", ".join(KINDS))
    modules = {kind: importlib.import_module(f"tfinpaint.bench.{kind}") for kind in KINDS}
    add_examples(parser, *(modules[kind].EXAMPLES[0] for kind in ("train", "infer", "user")))
    for kind, module in modules.items():
        kind_parser = sub.add_parser(kind, help=KINDS[kind], description=KINDS[kind])
        module.add_arguments(kind_parser)
        add_examples(kind_parser, *module.EXAMPLES)


def run(args) -> int:
    return importlib.import_module(f"tfinpaint.bench.{args.kind}").run(args)
