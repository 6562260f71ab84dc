"""`tfinpaint train` / `python scripts/train.py`: build the config from the flags, then train."""

import argparse
import sys
import time

from tfinpaint.commands import add_examples
from tfinpaint.config import DATASETS_ENV, PRESETS, ConfigError, get_config, resolve_data_root
from tfinpaint.training.distribute import STRATEGIES

MASKS_HELP = (
    "center | random_rect | free_form | objects | files:DIR (random picks) | files-paired:DIR (the "
    "mask named like each image) | mixed | mixed:NAME=WEIGHT,... (e.g. "
    "mixed:free_form=0.4,files:DIR@train=0.3,center=0.3); files:DIR@train / @test take a "
    "hash-chosen 4/5 / 1/5 of the folder "
    "(default: the preset's)"
)


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
        metavar="PRESET",
        # Listed here, checked by get_config: its error is one line, argparse's is the usage.
        help="demo (minutes on a CPU, bundled images; the default), paper (the paper's recipe) or, "
        "for paper 2, default (the shipped default model's recipe; needs the datasets folder)",
    )
    parser.add_argument(
        "--data",
        help="training images: folder, file list, glob or TFRecords "
        "(default: the images bundled with the package)",
    )
    parser.add_argument("--val-data", help="validation images (default: the held-out split of --data)")
    parser.add_argument(
        "--data-root",
        metavar="DIR",
        help="the folder a file list's relative paths start from (default: the list's own folder; "
        f"for --preset default the datasets folder, ${DATASETS_ENV})",
    )
    parser.add_argument(
        "--image-size", type=int, help="side of the square training crop (default: the preset's)"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        help="global batch: images per step over all devices, split evenly across them "
        "(default: the preset's)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        help="total training steps (default: the preset's; paper 2: fewer than its schedule "
        "scale the three phases)",
    )
    parser.add_argument("--masks", metavar="KIND", help=MASKS_HELP)
    parser.add_argument(
        "--seed",
        type=int,
        help="seeds the weights and every random draw: crops, flips, masks, noise (default: 0)",
    )
    parser.add_argument(
        "--name",
        help="the run's name: runs/NAME and saved_models/NAME (default paper{N}-{preset}, plus the "
        "data folder's name with --data)",
    )
    parser.add_argument(
        "--init-from",
        metavar="MODEL",
        help="fine-tune: start from a trained generator's weights: default (the shipped model), "
        "a .keras file, a run directory or a run's checkpoint (RUN/checkpoints/ckpt-N)",
    )
    parser.add_argument("--run-dir", help="the run's folder (default: runs/NAME)")
    parser.add_argument(
        "--export-root",
        default="saved_models",
        help="TF Serving model root the run exports into (default: saved_models)",
    )
    parser.add_argument(
        "--strategy",
        default="auto",
        choices=STRATEGIES,
        help="auto (the default): mirror over the local GPUs when there are several, else one "
        "device; one: one device; mirrored: every local GPU (or logical CPU); multiworker: the "
        "cluster in TF_CONFIG",
    )
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
    add_examples(
        parser,
        "tfinpaint train --paper 2                      # the demo: minutes on a CPU, bundled images",
        "tfinpaint train --paper 2 --preset paper --data photos/ --batch-size 32",
        "tfinpaint train --paper 2 --preset default --init-from default --data my_photos/  # fine-tune",
    )


def config_from_args(args):
    """The resolved config: preset, then the dedicated flags, then --set overrides; a data root
    of `$TFINPAINT_DATASETS` is read from the environment here, as the run starts."""
    flags = {
        "data.source": args.data,
        "data.val_source": args.val_data,
        "data.root": args.data_root,
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
    return resolve_data_root(get_config(args.paper, args.preset, overrides + list(args.overrides)))


def train_export_evaluate(
    config,
    *,
    run_dir: str | None = None,
    overwrite: bool = False,
    strategy: str = "auto",
    export_root: str = "saved_models",
    progress: bool | None = None,
    log=print,
) -> dict:
    """The whole job of `tfinpaint train`: train (or resume) `config`, then, on the chief,
    export the generator (`train.export`), score it on the test split (`train.evaluate`) and
    mark the run finished. Returns the summary (`tfinpaint.training.run.train`'s, plus export,
    report: protocol -> report, and seconds).

    Raises:
        ConfigError, DataError, RunError: see `tfinpaint.training.run.train`.
        ExportError: the export failed (the run stays unfinished: rerunning exports again).
    """
    import keras

    from tfinpaint.training import results
    from tfinpaint.training.run import train

    started = time.time()
    config = resolve_data_root(config)  # config_from_args did it already; a Python caller may not have
    trained = train(
        config, run_dir=run_dir, overwrite=overwrite, strategy=strategy, progress=progress, log=log
    )
    summary = trained.summary
    if not trained.chief:
        return {**summary, "seconds": round(time.time() - started, 1)}
    # The export and the report run the network as users do, in float32: TFLite has no kernels
    # for a mixed_bfloat16 generator's layers, which the loaded file would otherwise get.
    keras.mixed_precision.set_global_policy("float32")
    if config.train.export:
        summary["export"] = results.export_generator(config, summary["generator"], export_root, log)
    if config.train.evaluate:
        summary["report"] = results.evaluate_generator(trained.generator, config, summary["run_dir"], log)
    return results.record_finished(config, summary, started, log)


def run(args) -> int:
    from tfinpaint.data import DataError
    from tfinpaint.export import ExportError
    from tfinpaint.training.run import RunError

    try:
        config = config_from_args(args)
        summary = train_export_evaluate(
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
