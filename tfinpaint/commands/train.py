"""`tfinpaint train` / `python scripts/train.py`: build the config from the flags, then train."""

import argparse
import sys

from tfinpaint.config import PRESETS, ConfigError, get_config
from tfinpaint.training.distribute import STRATEGIES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--paper",
        type=int,
        required=True,
        choices=sorted(PRESETS),
        help="1: dual-path WGAN-GP; 2: multi-scale WGAN with four critics",
    )
    parser.add_argument(
        "--preset",
        default="demo",
        help="demo (minutes on a CPU, bundled images), paper (the paper's recipe) or, for paper 2, "
        "default (the shipped default model's recipe)",
    )
    parser.add_argument(
        "--data",
        help="training images: folder, file list, glob or TFRecords "
        "(default: the images bundled with the package)",
    )
    parser.add_argument("--val-data", help="validation images (default: the held-out split of --data)")
    parser.add_argument("--image-size", type=int, help="training crop side")
    parser.add_argument(
        "--batch-size",
        type=int,
        help="global batch: images per step over all devices, split evenly across them",
    )
    parser.add_argument(
        "--steps",
        type=int,
        help="total training steps (paper 2: fewer than the schedule scale its three phases)",
    )
    parser.add_argument("--masks", help="center, random_rect, free_form, files:DIR or mixed")
    parser.add_argument("--seed", type=int)
    parser.add_argument(
        "--name",
        help="the run's name: runs/NAME and saved_models/NAME (default paper{N}-{preset}, plus the "
        "data folder's name with --data)",
    )
    parser.add_argument(
        "--init-from",
        metavar="MODEL",
        help="fine-tune: start from a trained generator's weights: default (the shipped model), "
        "a .keras file or a run directory",
    )
    parser.add_argument("--run-dir", help="default runs/NAME")
    parser.add_argument("--export-root", default="saved_models", help="TF Serving model root")
    parser.add_argument("--strategy", default="auto", choices=STRATEGIES)
    parser.add_argument(
        "--mixed-precision",
        action="store_true",
        help="mixed_float16 compute (GPU); outputs, scores and losses stay float32",
    )
    parser.add_argument(
        "--deterministic",
        action="store_true",
        help="op determinism + fixed seeds: two runs give identical weights",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config field, e.g. --set model.n_critic=1",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace a finished or other run")
    parser.add_argument("--no-progress", action="store_true", help="log lines instead of a bar")


def config_from_args(args):
    """The resolved config: preset, then the dedicated flags, then --set overrides."""
    flags = {
        "data.source": args.data,
        "data.val_source": args.val_data,
        "data.image_size": args.image_size,
        "data.masks": args.masks,
        "train.batch_size": args.batch_size,
        "train.steps": args.steps,
        "train.seed": args.seed,
        "train.name": args.name,
        "train.init_from": args.init_from,
    }
    overrides = [f"{k}={v}" for k, v in flags.items() if v is not None]
    if args.mixed_precision:
        overrides.append("train.mixed_precision=true")
    if args.deterministic:
        overrides.append("train.deterministic=true")
    return get_config(args.paper, args.preset, overrides + list(args.overrides))


def run(args) -> int:
    from tfinpaint.data import DataError
    from tfinpaint.export import ExportError
    from tfinpaint.training.run import RunError, train

    try:
        config = config_from_args(args)
        summary = train(
            config,
            run_dir=args.run_dir,
            overwrite=args.overwrite,
            strategy=args.strategy,
            export_root=args.export_root,
            progress=False if args.no_progress else None,
        )
    except (ConfigError, DataError, RunError, ExportError) as err:
        print(f"tfinpaint train: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    print(f"total wall time {summary['seconds']:.0f} s")
    return 0
