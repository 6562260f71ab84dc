"""`tfinpaint bench data`: input-pipeline throughput (images/s) of `build_dataset` in training mode."""

import argparse
import time

EXAMPLES = (
    "tfinpaint bench data --seconds 5                       # the bundled demo images",
    "tfinpaint bench data --source photos/ --masks free_form --image-size 256 --batch-size 32 --seconds 15",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tfinpaint.bench import add_common_arguments

    parser.add_argument(
        "--source",
        default=None,
        help="images to read (folder, list, glob, TFRecords); default: the bundled demo images",
    )
    parser.add_argument("--root", default=None, help="folder a file list's paths are relative to")
    parser.add_argument(
        "--masks",
        default="center",
        help="center | random_rect | free_form | files:DIR | files-paired:DIR | mixed | "
        "mixed:NAME=WEIGHT,... (default: center)",
    )
    parser.add_argument("--image-size", type=int, default=256, help="crop side (default: 256)")
    parser.add_argument("--batch-size", type=int, default=32, help="images per batch (default: 32)")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="measuring time after a warm-up (default: 10)"
    )
    parser.add_argument(
        "--warmup-batches", type=int, default=20, help="batches pulled before timing starts (default: 20)"
    )
    add_common_arguments(parser)


def measure(
    source=None, *, masks="center", image_size=256, batch_size=32, seconds=10.0, warmup_batches=20, root=None
) -> dict:
    """Images per second pulled from a training pipeline for `seconds`, after a warm-up."""
    from tfinpaint.data import build_dataset

    iterator = iter(
        build_dataset(
            source,
            image_size=image_size,
            batch_size=batch_size,
            masks=masks,
            split="all",
            training=True,
            root=root,
        )
    )
    for _ in range(warmup_batches):
        next(iterator)
    images, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        images += int(next(iterator)["image"].shape[0])
    elapsed = time.perf_counter() - start
    return {"images_per_sec": images / elapsed, "images": images, "seconds": elapsed}


def run(args) -> int:
    import os

    from tfinpaint.bench import emit
    from tfinpaint.data import DataError
    from tfinpaint.data.masks import MaskError

    try:
        figures = measure(
            args.source,
            masks=args.masks,
            image_size=args.image_size,
            batch_size=args.batch_size,
            seconds=args.seconds,
            warmup_batches=args.warmup_batches,
            root=args.root,
        )
    except (DataError, MaskError) as e:
        print(f"error: {e}")
        return 2
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    emit(
        figures,
        args.json,
        source=args.source or "demo",
        masks=args.masks,
        image_size=args.image_size,
        batch_size=args.batch_size,
        load_average_1min=round(load, 2),
    )
    return 0
