"""`tfinpaint` console script: one sub-command per module in `tfinpaint.commands`.

Each command module has `add_arguments(parser)` and `run(args) -> int`; this file only
parses arguments and dispatches. Modules are imported on use so `tfinpaint --help` is quick.
"""

import argparse
import importlib
import sys

COMMANDS = {
    "train": "train a paper's GAN (same as scripts/train.py)",
    "evaluate": "score models and classical baselines with PSNR / SSIM / L1",
    "inpaint": "inpaint images with a trained or exported model",
    "export": "export a run or .keras model as a SavedModel (TF Serving) and TFLite",
    "serve": "serve an export over TF Serving's REST and gRPC APIs",
    "bench": "measure data, training and inference speed",
    "data": "check a data source for unreadable or too-small images",
}


def build_parser(argv):
    parser = argparse.ArgumentParser(
        prog="tfinpaint",
        description="GAN image inpainting (two papers) in TensorFlow / Keras: "
        "train, evaluate, inpaint, export, serve. `tfinpaint COMMAND --help` for a command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    # Only the chosen command's module is imported (each pulls in TensorFlow).
    chosen = next((a for a in argv if a in COMMANDS), None)
    if chosen is None:
        return parser, None
    module = importlib.import_module(f"tfinpaint.commands.{chosen}")
    cmd_parser = argparse.ArgumentParser(prog=f"tfinpaint {chosen}", description=COMMANDS[chosen])
    module.add_arguments(cmd_parser)
    return cmd_parser, module


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, module = build_parser(argv)
    if module is None:
        parser.print_help()
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    index = argv.index(next(a for a in argv if a in COMMANDS))
    args = parser.parse_args(argv[index + 1 :])
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
