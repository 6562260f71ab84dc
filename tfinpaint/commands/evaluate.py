"""`tfinpaint evaluate`: score models and classical baselines; writes report.json, report.md and
an example grid into --out (see `tfinpaint.evaluation.evaluate.evaluate`)."""

import argparse
import sys

from tfinpaint.commands import add_examples
from tfinpaint.postprocess import BLENDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="NAME_OR_PATH",
        help="telea, ns, biharmonic, default (the model shipped with tfinpaint), or a model path "
        "(.keras file, SavedModel version folder, base path with version folders, run directory, "
        "a run's checkpoint RUN/checkpoints/ckpt-N); "
        "repeat for several",
    )
    parser.add_argument(
        "--data",
        default=None,
        metavar="SOURCE",
        help="image folder, file list, glob or TFRecords (default: the bundled "
        "demo images); every image is scored, no train/test split",
    )
    parser.add_argument(
        "--data-root",
        default=None,
        metavar="DIR",
        help="the folder a file list's relative paths start from (default: the list's own folder); "
        "e.g. the datasets folder for tfinpaint/data/default_test_faces.txt",
    )
    parser.add_argument(
        "--masks",
        default="center",
        metavar="KIND",
        help="center | random_rect | free_form | objects | files:DIR | files-paired:DIR | mixed | "
        "mixed:NAME=WEIGHT,... (default: center); every image gets the same mask on every "
        "run with the same --seed",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=256,
        help="images are centre-cropped to this square side, the masks drawn at it (default: 256)",
    )
    parser.add_argument(
        "--upscale-small",
        action="store_true",
        help="upscale images smaller than --image-size (e.g. CelebA faces) instead of skipping them",
    )
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="score only the first N images")
    parser.add_argument("--seed", type=int, default=0, help="mask seed (default: 0)")
    parser.add_argument(
        "--blend",
        choices=BLENDS,
        default="none",
        help="poisson or patches: also score learned models' blended outputs, as <model>+poisson or "
        "<model>+patches rows beside the raw ones (default: none)",
    )
    parser.add_argument(
        "--metrics",
        default="",
        metavar="fid,lpips",
        help="optional learned-feature metrics: FID (InceptionV3) over the set, LPIPS (VGG16, "
        "baseline variant) per image; their keras.applications weights must be on the machine",
    )
    parser.add_argument(
        "--weights-dir",
        default=None,
        metavar="DIR",
        help="folder holding the --metrics weight files (default: Keras' cache, ~/.keras/models); "
        "nothing is downloaded",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="report folder")
    parser.add_argument("--overwrite", action="store_true", help="replace a report in --out")
    add_examples(
        parser,
        "tfinpaint evaluate --model default --model telea --model biharmonic --out report-center",
        "tfinpaint evaluate --model runs/paper2-demo --model telea --masks free_form --blend poisson "
        "--out report-free-form",
        "tfinpaint evaluate --model default --data photos/ --masks files:masks/ --limit 50 --out report-mine",
    )


def run(args) -> int:
    from tfinpaint.evaluation.evaluate import evaluate, format_table

    try:
        report = evaluate(
            args.model,
            args.data,
            masks=args.masks,
            image_size=args.image_size,
            limit=args.limit,
            seed=args.seed,
            out_dir=args.out,
            blend=args.blend,
            overwrite=args.overwrite,
            progress=sys.stderr.isatty(),
            upscale_small=args.upscale_small,
            root=args.data_root,
            metrics=args.metrics,
            weights_dir=args.weights_dir,
        )
    except (ValueError, FileExistsError, FileNotFoundError, NotADirectoryError) as error:
        print(f"tfinpaint evaluate: {error}", file=sys.stderr)
        return 2
    print(format_table(report))
    print(f"\nwritten: {args.out}/report.json, report.md, examples.png")
    return 0
