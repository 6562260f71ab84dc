"""`tfinpaint data check SOURCE`: list the files a data source would skip, without training."""

import argparse
import json
import sys

from tfinpaint.commands import add_examples

EXAMPLES = (
    "tfinpaint data check photos/",
    "tfinpaint data check list.txt --root /data/places2 --image-size 256",
    "tfinpaint data check 'photos/**/*.jpg' --json > report.json",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True, help="check")
    add_examples(parser, *EXAMPLES)
    check = sub.add_parser(
        "check",
        help="decode every image as the pipeline would; list unusable files",
        description="Decode every image as the pipeline would and list the unusable ones. Exit "
        "status 0: every image is usable; 1: some are not (listed); 2: the source is unusable.",
    )
    add_examples(check, *EXAMPLES)
    check.add_argument(
        "source",
        nargs="?",
        default=None,
        help="folder, file list, glob or TFRecord file(s); default: the bundled demo images",
    )
    check.add_argument(
        "--image-size",
        type=int,
        default=256,
        help="crop side: images with a shorter side below it are unusable (default 256)",
    )
    check.add_argument(
        "--root",
        default=None,
        help="folder a file list's paths are relative to (default: the list's own folder)",
    )
    check.add_argument("--limit", type=int, default=None, help="list at most this many files per section")
    check.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args) -> int:
    """Exit status 0: every image is usable; 1: some are not (listed); 2: the source is unusable."""
    from tfinpaint.data import DataError, check_source

    try:
        report = check_source(args.source, args.image_size, root=args.root)
    except DataError as err:
        print(f"tfinpaint data check: error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                {
                    "source": report.source,
                    "kind": report.kind,
                    "usable": len(report.files),
                    "bad": [list(b) for b in report.bad],
                    "ignored": [list(i) for i in report.ignored],
                    "bad_fraction": report.bad_fraction,
                },
                indent=2,
            )
        )
    else:
        print(report.format(args.limit))
    return 1 if report.bad else 0
