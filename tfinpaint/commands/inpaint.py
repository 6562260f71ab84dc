"""`tfinpaint inpaint IMAGE… --mask MASK…`: inpaint photos with a trained model or a baseline.

Pairs: one image and one mask; several images with as many masks; one mask for several images
or for a whole folder (a watermark: images of another size are listed and skipped, or the mask
is resized with `--resize-mask`); or a folder of images with a folder of masks matched by file
stem (`a.jpg` <- `a.png` or `a_mask.png`). Outputs go next to each input as
`<stem>_inpainted.<ext>`, or into `-o` (a file for a single image, else a folder), with the
input's ICC profile, EXIF, DPI and text. Nothing is overwritten without `--overwrite`, and an
input is never overwritten at all.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import warnings

import numpy as np
from PIL import Image

from tfinpaint.convention import InputWarning
from tfinpaint.inference import DEFAULT_CONTEXT, DEFAULT_MAX_SIDE, inpaint, load_inpainter
from tfinpaint.io import (
    MAX_PIXELS,
    WRITE_FORMATS,
    MaskSizeError,
    fit_mask,
    output_format,
    read_image,
    read_mask,
    write_image,
)

PROG = "tfinpaint inpaint"


class UsageError(ValueError):
    """Arguments that do not describe a valid set of inputs and outputs."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
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
        "version folder, a base path with version folders, a run directory, or a classical "
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
        choices=("poisson", "none"),
        default=None,
        help="Poisson-blend the hole into the photo or keep the raw composite (default: poisson for "
        "paper-2 models such as the default model, whose paper blends; none for paper 1 and baselines)",
    )
    parser.add_argument(
        "--samples", type=int, default=1, help="random completions per image (paper 1 models only)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the first sample")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
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


def _readable_extensions() -> set[str]:
    # registered_extensions() also lists write-only formats (PDF, …): keep those Pillow opens.
    return {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}


def _list_images(folder: str) -> list[str]:
    extensions = _readable_extensions()
    return sorted(
        os.path.join(folder, f)
        for f in os.listdir(folder)
        if not f.startswith(".")
        and os.path.splitext(f)[1].lower() in extensions
        and os.path.isfile(os.path.join(folder, f))
    )


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def _match_masks(images: list[str], mask_folder: str) -> list[tuple[str, str]]:
    by_stem: dict[str, list[str]] = {}
    for path in _list_images(mask_folder):
        by_stem.setdefault(_stem(path), []).append(path)
    pairs, missing = [], []
    for image in images:
        stem = _stem(image)
        found = by_stem.get(stem) or by_stem.get(f"{stem}_mask") or []
        if len(found) > 1:
            raise UsageError(
                f"{mask_folder}: several masks for {os.path.basename(image)} "
                f"({', '.join(os.path.basename(p) for p in found)}); expected one."
            )
        if not found:
            missing.append(os.path.basename(image))
        else:
            pairs.append((image, found[0]))
    if missing:
        raise UsageError(
            f"{mask_folder}: no mask for {', '.join(missing[:5])}"
            f"{' …' if len(missing) > 5 else ''}; expected a file with the same "
            "stem (e.g. a.jpg -> a.png or a_mask.png)."
        )
    return pairs


def pair_inputs(images: list[str], masks: list[str]) -> list[tuple[str, str]]:
    """(image, mask) pairs from the command line's IMAGE… and --mask MASK… values."""
    if len(images) == 1 and os.path.isdir(images[0]):
        if len(masks) != 1:
            raise UsageError(
                f"{images[0]} is a folder: expected --mask to be one mask for every image or one "
                "folder of masks named like the images."
            )
        found = _list_images(images[0])
        if not found:
            raise UsageError(f"{images[0]}: no image files in the folder.")
        if not os.path.isdir(masks[0]):
            return [(image, masks[0]) for image in found]
        return _match_masks(found, masks[0])
    folders = [p for p in images if os.path.isdir(p)]
    if folders:
        raise UsageError(f"{folders[0]} is a folder: give image files, or one folder alone.")
    if len(masks) == 1 and os.path.isdir(masks[0]):
        return _match_masks(images, masks[0])
    if len(masks) == 1:
        return [(image, masks[0]) for image in images]
    if len(masks) != len(images):
        raise UsageError(
            f"{len(images)} images but {len(masks)} masks: expected one mask per "
            "image, one mask for all, or a folder of masks."
        )
    return list(zip(images, masks))


def _output_ext(image: str) -> str:
    ext = os.path.splitext(image)[1].lower()
    # Formats we do not write (GIF's palette, exotic ones) come out as PNG, which loses nothing.
    return ext if ext in WRITE_FORMATS else ".png"


def output_is_file(output: str | None) -> bool:
    """`-o` names a file (it has an extension and is not a folder), not a folder."""
    return (
        output is not None
        and not os.path.isdir(output)
        and not output.endswith(("/", os.sep))
        and os.path.splitext(output)[1] != ""
    )


def plan_outputs(pairs, output: str | None, samples: int) -> list[list[str]]:
    """Output paths, one list of `samples` paths per pair; refuses collisions before any work."""
    suffixes = [""] if samples == 1 else [f"_{k}" for k in range(samples)]
    single_file = output_is_file(output)
    if single_file and len(pairs) > 1:
        raise UsageError(f"-o {output} names a file but there are {len(pairs)} images; give a folder.")
    plans = []
    for image, _ in pairs:
        if single_file:
            base, ext = os.path.splitext(output)
            output_format(output)
            plans.append([f"{base}{s}{ext}" for s in suffixes])
            continue
        folder = output if output is not None else os.path.dirname(image)
        plans.append(
            [os.path.join(folder, f"{_stem(image)}_inpainted{s}{_output_ext(image)}") for s in suffixes]
        )
    flat = [os.path.abspath(p) for paths in plans for p in paths]
    duplicates = sorted({p for p in flat if flat.count(p) > 1})
    if duplicates:
        raise UsageError(
            f"two inputs would both be written to {duplicates[0]}; give them "
            "different names or run them separately."
        )
    inputs = {os.path.abspath(p) for pair in pairs for p in pair}
    clobbered = [p for p in flat if p in inputs]
    if clobbered:
        raise UsageError(f"{clobbered[0]} is an input; choose another output.")
    return plans


def _check_existing(plans, overwrite: bool) -> None:
    if overwrite:
        return
    existing = [p for paths in plans for p in paths if os.path.exists(p)]
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise UsageError(f"{existing[0]} already exists{more}; pass --overwrite to replace it.")


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"{PROG}: warning: {message}", file=sys.stderr)


class Skipped(Exception):
    """An image left out on purpose (a shared mask of another size); the message says why."""


def _hole_for(args, mask_path: str, loaded, shared: bool, masks: dict) -> np.ndarray:
    """The image's hole from `mask_path`, read once per mask file (a shared watermark mask
    is decoded once for a whole folder) and fitted to the image's size."""
    if mask_path not in masks:
        masks[mask_path] = read_mask(mask_path, max_pixels=args.max_pixels)
    try:
        return fit_mask(
            masks[mask_path],
            loaded.size,
            resize=args.resize_mask,
            mask_name=mask_path,
            image_name=loaded.path,
        )
    except MaskSizeError as e:
        if not shared:
            raise
        h, w = masks[mask_path].shape
        raise Skipped(
            f"{loaded.path}: skipped: {loaded.size[1]}x{loaded.size[0]}, the shared mask {mask_path} "
            f"is {w}x{h} (--resize-mask resizes it)."
        ) from e


def _inpaint_pair(args, model, image_path: str, mask_path: str, outputs: list[str], state) -> None:
    loaded = read_image(image_path, max_pixels=args.max_pixels)
    hole = _hole_for(args, mask_path, loaded, state["shared"][mask_path] > 1, state["masks"])
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
        print(f"{PROG}: warning: {image_path} with {mask_path}: {warning.message}", file=sys.stderr)
    for path, rgb in zip(outputs, results if args.samples > 1 else [results]):
        # The alpha goes back unchanged: transparency is not the model's to fill.
        write_image(path, rgb, loaded.alpha, overwrite=args.overwrite, quality=args.quality, meta=loaded.meta)
        print(f"wrote {path}")


def run(args) -> int:
    if args.samples < 1:
        print(f"{PROG}: error: --samples {args.samples}: expected an integer >= 1.", file=sys.stderr)
        return 2
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        # Every file's warnings, not only the first of each kind.
        warnings.simplefilter("always", InputWarning)
        try:
            pairs = pair_inputs(args.images, args.mask)
            plans = plan_outputs(pairs, args.output, args.samples)
            _check_existing(plans, args.overwrite)
            if args.output is not None:
                is_file = output_is_file(args.output)
                os.makedirs((os.path.dirname(args.output) if is_file else args.output) or ".", exist_ok=True)
            model = load_inpainter(args.model, max_side=args.max_side, context=args.context)
            if args.samples > 1 and not model.can_sample:
                raise UsageError(
                    f"--samples {args.samples}: model {model.name!r} cannot draw "
                    "samples (only paper 1 models are pluralistic); use --samples 1."
                )
        except (ValueError, OSError) as e:
            print(f"{PROG}: error: {e}", file=sys.stderr)
            return 2
        state = {"shared": collections.Counter(mask for _, mask in pairs), "masks": {}}
        failed, skipped = 0, []
        for (image_path, mask_path), outputs in zip(pairs, plans):
            try:
                _inpaint_pair(args, model, image_path, mask_path, outputs, state)
            except Skipped as e:
                skipped.append(image_path)
                print(f"{PROG}: {e}", file=sys.stderr)
            except (ValueError, OSError) as e:
                # One bad file in a folder must not stop the others; the exit code says it.
                failed += 1
                print(f"{PROG}: error: {e}", file=sys.stderr)
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
