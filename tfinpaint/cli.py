"""`tfinpaint` console script: one sub-command per module in `tfinpaint.commands`.

Each command module has `add_arguments(parser)` and `run(args) -> int`, and may have
`needs_tensorflow(args) -> bool` (default: True); this file only parses arguments, quiets
TensorFlow's native log lines (unless `--verbose`) and dispatches. Modules are imported on use
and TensorFlow only after the arguments parsed and only for a command that needs it, so
`--help`, an argument error and a classical fill answer without its seconds of start-up.
"""

import argparse
import contextlib
import importlib
import os
import re
import sys
import tempfile

COMMANDS = {
    "train": "train a paper's GAN (same as scripts/train.py)",
    "evaluate": "score models and classical baselines with PSNR / SSIM / L1",
    "inpaint": "inpaint images with a trained or exported model",
    "export": "export a run or .keras model as a SavedModel (TF Serving) and TFLite",
    "serve": "serve a model over TF Serving's REST and gRPC APIs, with a browser page",
    "bench": "measure data, training and inference speed",
    "data": "check a data source for unreadable or too-small images",
}
VERBOSE_HELP = "show TensorFlow's own log lines (hidden by default: a real error stands out)"

# Lines TensorFlow's native libraries print while they load, before any log level applies
# (`absl` info and warning lines: oneDNN, "could not find cuda drivers", CPU features).
_LOAD_NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\)"
    rb"|[IW]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\]"
    rb"|To enable the following instructions)"
)


def quiet_tensorflow(verbose: bool) -> None:
    """Set TensorFlow's native log level before it loads (a level set by the user stays).

    Level 3 keeps the lines a machine without a GPU prints on every run — `failed call to
    cuInit`, `remapper failed`, ~30 TFLite converter lines — out of the way; errors still
    reach the user as Python exceptions. `verbose` shows everything.
    """
    if verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def native_load_lines_filtered(enabled: bool = True):
    """Hold back stderr (the file descriptor, where C++ writes) while the block runs, then
    print what it wrote minus TensorFlow's load-time info lines, which no level hides."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [line for line in held.read().splitlines(keepends=True) if not _LOAD_NOISE.match(line)]
            if kept:
                sys.stderr.buffer.write(b"".join(kept))
                sys.stderr.flush()


def build_parser(argv):
    parser = argparse.ArgumentParser(
        prog="tfinpaint",
        description="GAN image inpainting (two papers) in TensorFlow / Keras: "
        "train, evaluate, inpaint, export, serve. `tfinpaint COMMAND --help` for a command.",
    )
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    # Only the chosen command's module is imported (most pull in TensorFlow).
    chosen = next((a for a in argv if a in COMMANDS), None)
    if chosen is None:
        return parser, None
    module = importlib.import_module(f"tfinpaint.commands.{chosen}")
    cmd_parser = argparse.ArgumentParser(prog=f"tfinpaint {chosen}", description=COMMANDS[chosen])
    module.add_arguments(cmd_parser)
    cmd_parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    return cmd_parser, module


def main(argv=None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # Ctrl-C while TensorFlow or a model loads: a line, not a traceback.
        print("\ntfinpaint: interrupted.", file=sys.stderr)
        return 130


def _main(argv) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in argv
    quiet_tensorflow(verbose)
    # Lines printed while TensorFlow loads escape every log level: it is loaded here, filtered,
    # by the command's module or, after the arguments parsed, for a command that needs it.
    with native_load_lines_filtered(enabled=not verbose and "tensorflow" not in sys.modules):
        parser, module = build_parser(argv)
    if module is None:
        parser.print_help()
        return 0 if all(a in ("-h", "--help", "--verbose") for a in argv) else 2
    index = argv.index(next(a for a in argv if a in COMMANDS))
    args = parser.parse_args(argv[index + 1 :])
    args.verbose = verbose
    if getattr(module, "needs_tensorflow", lambda _: True)(args) and "tensorflow" not in sys.modules:
        with native_load_lines_filtered(enabled=not verbose):
            import tensorflow  # noqa: F401
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
