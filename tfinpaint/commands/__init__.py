"""CLI sub-commands: each module has `add_arguments(parser)` and `run(args) -> int`."""

import argparse


def add_examples(parser: argparse.ArgumentParser, *examples: str) -> None:
    """End `parser`'s `--help` with an `examples:` section, one command a line, kept as written."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = "examples:\n" + "\n".join(f"  {example}" for example in examples)
