"""`tfinpaint inpaint IMAGE… --mask MASK…`: inpaint photos with a trained model or a baseline.

Pairs: one image and one mask; several images with as many masks; one mask for several images
or for a whole folder (a watermark: images of another size are listed and skipped, or the mask
is resized with `--resize-mask`); or a folder of images with a folder of masks matched by file
stem (`a.jpg` <- `a.png` or `a_mask.png`; masks beside the photos as `a_mask.png`): see
`tfinpaint.inference.file_pairs`, which pairs, plans, reads and writes the files. Outputs go
next to each input as `<stem>_inpainted.<ext>`, or into `-o` (a file for a single image, else a
folder), with the input's ICC profile, EXIF, DPI and text. Nothing is overwritten without
`--overwrite`, and an input is never overwritten at all; `--skip-existing` finishes an
interrupted folder run. The model is loaded once for all images (a progress bar on a
terminal); an output that cannot be written (disk full, read-only) stops the run with one
message naming it, since the rest would fail alike.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from tqdm import tqdm

from tfinpaint.commands import add_examples
from tfinpaint.convention import InputWarning
from tfinpaint.imagefiles import MAX_PIXELS, read_image
from tfinpaint.inference import DEFAULT_CONTEXT, DEFAULT_MAX_SIDE, inpaint, load_inpainter
from tfinpaint.inference.baselines import BASELINES
from tfinpaint.inference.file_pairs import (
    OutputError,
    PairMasks,
    Skipped,
    UsageError,
    check_existing,
    make_output_folder,
    pair_inputs,
    plan_outputs,
    write_output,
)
from tfinpaint.postprocess import BLENDS

PROG = "tfinpaint inpaint"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_examples(
        parser,
        "tfinpaint inpaint photo.jpg --mask mask.png              # the default model -> photo_inpainted.jpg",
        "tfinpaint inpaint photos/ --mask photos/ -o out/ --skip-existing   # a.jpg <- a_mask.png",
        "tfinpaint inpaint photo.jpg --mask mask.png --model patchmatch -o fixed.png",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files, or one folder of images")
    parser.add_argument(
        "--mask",
        "-m",
        nargs="+",
        required=True,
        metavar="MASK",
        help="one mask per image, one mask for all (also for a folder of images), or a folder "
        "of masks named like the images; white (>= 128) = hole",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="default (the model shipped with tfinpaint; the default), a .keras file, a SavedModel "
        "version folder, a base path with version folders, a run directory, a run's checkpoint "
        "(RUN/checkpoints/ckpt-N), or a classical "
        "baseline: telea, ns, biharmonic, patchmatch",
    )
    parser.add_argument(
        "-o",
        "--output",
        default=None,
        help="output file (one image) or folder (default: <stem>_inpainted.<ext> next to each input)",
    )
    parser.add_argument(
        "--blend",
        choices=BLENDS,
        default=None,
        help="poisson: Poisson-blend the hole into the photo; patches: re-make the hole from the "
        "photo's own patches, following the model's fill (real texture); none: the raw composite "
        "(default: the model's own: patches for the default model, poisson for other paper-2 "
        "models, whose paper blends; none for paper 1 and baselines)",
    )
    parser.add_argument(
        "--samples", type=int, default=1, help="random completions per image (paper 1 models only)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the first sample")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    existing.add_argument(
        "--skip-existing",
        action="store_true",
        help="leave images whose outputs exist and do the rest (finishes an interrupted folder run)",
    )
    parser.add_argument(
        "--resize-mask",
        action="store_true",
        help="resize a mask of another size to its image (nearest neighbour); without it a "
        "shared mask skips images of another size",
    )
    parser.add_argument(
        "--invert-mask",
        action="store_true",
        help="flip the mask (for masks drawn black = hole); a mask that looks inverted is "
        "warned about, never flipped on a guess",
    )
    parser.add_argument(
        "--dilate", type=_pixels, default=0, metavar="N", help="grow the hole by N pixels first (halos)"
    )
    parser.add_argument(
        "--feather",
        type=_pixels,
        default=0,
        metavar="N",
        help="blend the fill into the photo over N pixels around the hole; pixels further "
        "out stay byte-identical",
    )
    parser.add_argument(
        "--quality", type=_quality, default=95, help="JPEG / WebP output quality, 1-100 (default: 95)"
    )
    parser.add_argument(
        "--max-side",
        type=int,
        default=None,
        help="larger images are completed in windows around the holes, never larger than the side "
        f"the model was trained at (default: {DEFAULT_MAX_SIDE}; an export keeps its own)",
    )
    parser.add_argument(
        "--context",
        type=int,
        default=None,
        help=f"pixels of context around a hole in a window (default: {DEFAULT_CONTEXT}; an export "
        "keeps its own)",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=MAX_PIXELS,
        help="refuse images declaring more pixels (decompression bombs)",
    )


def needs_tensorflow(args) -> bool:
    """Only a model does: the classical fills run without loading TensorFlow."""
    return str(args.model).strip().lower() not in BASELINES


def _pixels(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value}: expected pixels >= 0")
    return value


def _quality(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value}: expected 1-100")
    return value


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def _inpaint_pair(args, model, image_path: str, mask_path: str, outputs: list[str], masks: PairMasks) -> None:
    loaded = read_image(image_path, max_pixels=args.max_pixels)
    hole = masks.hole(mask_path, loaded)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InputWarning)
        results = inpaint(
            loaded.rgb,
            hole.astype(bool),
            model=model,
            blend=args.blend,
            samples=args.samples,
            seed=args.seed,
            dilate=args.dilate,
            feather=args.feather,
            invert_mask=args.invert_mask,
        )
    for warning in caught:
        # The mask went in as an array: say which image (and mask) the warning is about.
        _say(f"{PROG}: warning: {image_path} with {mask_path}: {warning.message}")
    for path, rgb in zip(outputs, results if args.samples > 1 else [results]):
        write_output(path, rgb, loaded, overwrite=args.overwrite, quality=args.quality)
        tqdm.write(f"wrote {path}", file=sys.stdout)


def _say(message: str) -> None:
    """A line on stderr that does not break the progress bar."""
    tqdm.write(message, file=sys.stderr)


def run(args) -> int:
    if args.samples < 1:
        print(f"{PROG}: error: --samples {args.samples}: expected an integer >= 1.", file=sys.stderr)
        return 2
    finished = []
    try:
        return _run(args, finished)
    except KeyboardInterrupt:
        done, total = (finished[0], finished[1]) if finished else (0, None)
        of = f" of {total}" if total is not None else ""
        print(
            f"\n{PROG}: interrupted: {done}{of} images finished; the same command with --skip-existing "
            "does the rest.",
            file=sys.stderr,
        )
        return 130


def _run(args, finished: list) -> int:
    """`run`; `finished` holds [images done, images to do] once the work starts (Ctrl-C says it)."""
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        # Every file's warnings, not only the first of each kind.
        warnings.simplefilter("always", InputWarning)
        try:
            pairs = pair_inputs(args.images, args.mask)
            plans = plan_outputs(pairs, args.output, args.samples)
            todo = check_existing(plans, args.overwrite, args.skip_existing)
            make_output_folder(args.output)
            model = load_inpainter(args.model, max_side=args.max_side, context=args.context)
            if args.samples > 1 and not model.can_sample:
                raise UsageError(
                    f"--samples {args.samples}: model {model.name!r} cannot draw "
                    "samples (only paper 1 models are pluralistic); use --samples 1."
                )
        except (ValueError, OSError) as e:
            print(f"{PROG}: error: {e}", file=sys.stderr)
            return 2
        masks = PairMasks(pairs, resize=args.resize_mask, max_pixels=args.max_pixels)
        failed, skipped = 0, []
        if not all(todo):
            print(f"{PROG}: {todo.count(False)} of {len(pairs)} images already done (--skip-existing).")
        work = [(pair, outputs) for pair, outputs, do in zip(pairs, plans, todo) if do]
        finished[:] = [0, len(work)]
        # Shown on a terminal only; `wrote` lines and warnings print above it.
        for (image_path, mask_path), outputs in tqdm(
            work, unit="image", disable=None if len(work) > 1 else True
        ):
            try:
                _inpaint_pair(args, model, image_path, mask_path, outputs, masks)
            except Skipped as e:
                skipped.append(image_path)
                _say(f"{PROG}: {e}")
            except OutputError as e:
                print(f"{PROG}: error: {e}; {finished[0]} of {len(work)} images finished.", file=sys.stderr)
                return 2
            except (ValueError, OSError) as e:
                # One bad file in a folder must not stop the others; the exit code says it.
                failed += 1
                _say(f"{PROG}: error: {e}")
            else:
                finished[0] += 1
    if skipped:
        names = ", ".join(os.path.basename(p) for p in skipped)
        print(
            f"{PROG}: {len(skipped)} of {len(pairs)} images skipped (not the shared mask's size): {names}",
            file=sys.stderr,
        )
    if failed:
        print(f"{PROG}: {failed} of {len(pairs)} images failed.", file=sys.stderr)
        return 2
    return 0
