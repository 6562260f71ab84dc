"""(photo, mask) file pairs for a run over many photos (`tfinpaint inpaint IMAGE… --mask MASK…`):
the pairs from the command line's values, each pair's output paths checked before any work,
each pair's hole read and fitted to its photo, and its outputs written.

A mask folder is matched by file stem (`a.jpg` <- `a.png` or `a_mask.png`). Masks kept beside
the photos (`S/x.png` + `S/x_mask.png`, `tfinpaint inpaint S --mask S`) pair by the `_mask`
suffix only: a file is never its own mask, and a `*_mask` file is a mask, never a photo.
"""

from __future__ import annotations

import collections
import errno
import os

import numpy as np
from PIL import Image

from tfinpaint.imagefiles import (
    WRITE_FORMATS,
    LoadedImage,
    MaskSizeError,
    fit_mask,
    output_format,
    read_mask,
    write_image,
)

MASK_SUFFIX = "_mask"


class UsageError(ValueError):
    """Arguments that do not describe a valid set of inputs and outputs."""


class Skipped(Exception):
    """An image left out on purpose (a shared mask of another size); the message says why."""


class OutputError(Exception):
    """An output that cannot be written for a reason every later one shares (no space, a
    read-only or forbidden folder); the message names the output asked for."""


# Errors of the output folder or disk, not of one image: the run stops at the first.
_STOPPING_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def _readable_extensions() -> set[str]:
    # registered_extensions() also lists write-only formats (PDF, …): keep those Pillow opens.
    return {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}


def _is_mask_name(path: str) -> bool:
    return _stem(path).endswith(MASK_SUFFIX)


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


def _same_folder(a: str, b: str) -> bool:
    return os.path.isdir(a) and os.path.isdir(b) and os.path.samefile(a, b)


def _match_masks(images: list[str], mask_folder: str) -> list[tuple[str, str]]:
    by_stem: dict[str, list[str]] = {}
    for path in _list_images(mask_folder):
        by_stem.setdefault(_stem(path), []).append(path)
    pairs, missing = [], []
    for image in images:
        stem = _stem(image)
        # The same stem, unless that is the photo itself (masks beside the photos).
        same = [p for p in by_stem.get(stem, []) if not os.path.samefile(p, image)]
        found = same or by_stem.get(f"{stem}{MASK_SUFFIX}") or []
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


def _match_masks_beside(images: list[str], folder: str) -> list[tuple[str, str]]:
    """Photos and masks in one folder: `x.png` <- `x_mask.*`, nothing else."""
    masks: dict[str, list[str]] = {}
    for path in _list_images(folder):
        if _is_mask_name(path):
            masks.setdefault(_stem(path)[: -len(MASK_SUFFIX)], []).append(path)
    pairs, missing = [], []
    for image in images:
        found = masks.get(_stem(image), [])
        if len(found) > 1:
            raise UsageError(
                f"{folder}: several masks for {os.path.basename(image)} "
                f"({', '.join(os.path.basename(p) for p in found)}); expected one."
            )
        if found:
            pairs.append((image, found[0]))
        else:
            missing.append(os.path.basename(image))
    if missing:
        raise UsageError(
            f"{folder}: no mask for {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}; with the "
            f"masks in the photos' folder, each photo's mask is named <photo>{MASK_SUFFIX} ({missing[0]} -> "
            f"{os.path.splitext(missing[0])[0]}{MASK_SUFFIX}.png), or give --mask a folder of masks named "
            "like the photos."
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
        listed = _list_images(images[0])
        # A `*_mask` file is a mask, never a photo to fill (with masks beside the photos, or
        # a watermark mask kept in the folder).
        found = [p for p in listed if not _is_mask_name(p)]
        if not found:
            raise UsageError(
                f"{images[0]}: no image files in the folder"
                + (f" (only masks, named *{MASK_SUFFIX})." if listed else ".")
            )
        if not os.path.isdir(masks[0]):
            return [(image, masks[0]) for image in found]
        if _same_folder(images[0], masks[0]):
            return _match_masks_beside(found, masks[0])
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


def check_existing(plans, overwrite: bool, skip_existing: bool) -> list[bool]:
    """Which pairs to run: all with `overwrite`; with `skip_existing` those whose outputs are
    not all written yet (an interrupted folder run finishes); else all, or `UsageError`
    naming an output that exists."""
    done = [all(os.path.exists(p) for p in paths) for paths in plans]
    if overwrite:
        return [True] * len(plans)
    if skip_existing:
        partial = [p for paths, d in zip(plans, done) if not d for p in paths if os.path.exists(p)]
        if partial:
            raise UsageError(
                f"{partial[0]} already exists but not every sample of its image does; pass --overwrite "
                "to replace it."
            )
        return [not d for d in done]
    existing = [p for paths in plans for p in paths if os.path.exists(p)]
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise UsageError(
            f"{existing[0]} already exists{more}; pass --skip-existing to leave finished outputs and "
            "do the rest, or --overwrite to replace them."
        )
    return [True] * len(plans)


def make_output_folder(output: str | None) -> None:
    """Create `-o`'s folder (a file's folder, or the folder it names) when it does not exist."""
    if output is None:
        return
    os.makedirs((os.path.dirname(output) if output_is_file(output) else output) or ".", exist_ok=True)


class PairMasks:
    """The holes of a run's pairs, each mask file read once (a shared watermark mask is decoded
    once for a whole folder) and fitted to its photo's size.

    Args:
        pairs: the run's (image, mask) paths; a mask named by several pairs is shared.
        resize: resize a mask of another size (nearest neighbour) instead of refusing it.
        max_pixels: as for `read_mask`.
    """

    def __init__(self, pairs, *, resize: bool, max_pixels: int):
        self._shared = collections.Counter(mask for _, mask in pairs)
        self._masks: dict[str, np.ndarray] = {}
        self.resize = resize
        self.max_pixels = max_pixels

    def hole(self, mask_path: str, loaded: LoadedImage) -> np.ndarray:
        """The photo's hole, uint8 [H, W] (1 = hole).

        Raises:
            MaskSizeError: a mask of its own of another size (without `resize`).
            Skipped: a shared mask of another size (without `resize`): the photo is left out.
        """
        if mask_path not in self._masks:
            self._masks[mask_path] = read_mask(mask_path, max_pixels=self.max_pixels)
        try:
            return fit_mask(
                self._masks[mask_path],
                loaded.size,
                resize=self.resize,
                mask_name=mask_path,
                image_name=loaded.path,
            )
        except MaskSizeError as e:
            if self._shared[mask_path] < 2:
                raise
            h, w = self._masks[mask_path].shape
            raise Skipped(
                f"{loaded.path}: skipped: {loaded.size[1]}x{loaded.size[0]}, the shared mask {mask_path} "
                f"is {w}x{h} (--resize-mask resizes it)."
            ) from e


def write_output(path: str, rgb: np.ndarray, loaded: LoadedImage, *, overwrite: bool, quality: int) -> None:
    """Write one output with the input's alpha and metadata; `OutputError` when the folder or
    disk refuses it (every later output would fail alike)."""
    try:
        # The alpha goes back unchanged: transparency is not the model's to fill.
        write_image(path, rgb, loaded.alpha, overwrite=overwrite, quality=quality, meta=loaded.meta)
    except OSError as e:
        if e.errno not in _STOPPING_ERRNOS:
            raise
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
