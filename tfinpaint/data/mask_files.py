"""Masks read from image files: a folder or a list of masks, drawn at random or paired with the
images by name, read by the package's one mask rule (`tfinpaint.imagefiles.read_mask`: white >= 128 or
{0, 1} = hole), optionally the hash-chosen training or test part of the folder.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import tensorflow as tf

from tfinpaint.convention import MASK_FILE_EXTENSIONS, InputWarning
from tfinpaint.data.masks import MaskError, _BankMasks
from tfinpaint.data.splits import in_split

MASK_SPLITS = {"train": "train", "test": "test"}
MASK_SPLIT_RATIO = 0.8


class FileMasks(_BankMasks):
    """Masks read from image files as `tfinpaint inpaint` reads them (white >= 128 = hole, {0, 1}
    masks accepted, any mode), resized nearest to S.

    Warnings about the files (grey edges from a soft brush or JPEG, a mask in the alpha channel)
    are collected into one `InputWarning` for the folder.

    Args:
        image_size: side S of the masks.
        source: a folder (recursive) or a text file listing mask paths (one per line,
            relative to the list's folder).
        paired: False = a random mask per example; True = the mask whose file name (without
            extension) equals the image's, looked up by `pair_with(image_paths)`.
        split: None = every mask; "train" / "test" = the hash-chosen 4/5 / 1/5 of them (by
            path relative to `source`).
    """

    def __init__(self, image_size: int, source: str, paired: bool = False, split: str | None = None):
        self.source, self.paired, self.split = source, bool(paired), split
        self.paths = _split_masks(_mask_paths(source), source, split)
        # One warning for the folder, not one per file (a mask set can hold thousands).
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            bank = np.stack([_read_mask(p, int(image_size)) for p in self.paths])
        if caught:
            warnings.warn(
                f"mask source {source!r}: {len(caught)} warning(s) reading {len(self.paths)} mask files, "
                f"e.g. {caught[0].message}",
                InputWarning,
                stacklevel=2,
            )
        super().__init__(image_size, bank, dihedral=False)
        self._pairs = None

    def pair_with(self, image_paths, indices=None) -> None:
        """Map each image (by global index) to the mask with the same file stem."""
        by_stem = {}
        for k, p in enumerate(self.paths):
            by_stem.setdefault(os.path.splitext(os.path.basename(p))[0], k)
        indices = list(range(len(image_paths))) if indices is None else list(indices)
        table = np.zeros(max(indices, default=-1) + 1, np.int32)
        missing = []
        for index, path in zip(indices, image_paths):
            stem = os.path.splitext(os.path.basename(path))[0]
            if stem not in by_stem:
                missing.append(path)
            else:
                table[index] = by_stem[stem]
        if missing:
            raise MaskError(
                f"files-paired:{self.source}: {len(missing)} image(s) have no mask of the same "
                f"file name, e.g. {missing[0]!r}; expected <name>.png (or another image "
                "extension) in the mask folder for every image"
            )
        self._pairs = table

    def _pick(self, params, index):
        if not self.paired:
            return super()._pick(params, index)
        if self._pairs is None:
            raise MaskError(f"files-paired:{self.source}: pair_with(image_paths) was not called")
        return tf.gather(tf.constant(self._pairs), tf.cast(index, tf.int32))  # IndexError -> dropped


def _mask_paths(source: str) -> list:
    if os.path.isdir(source):
        paths = sorted(
            os.path.join(d, f)
            for d, _, files in os.walk(source)
            for f in files
            if f.lower().endswith(MASK_FILE_EXTENSIONS)
        )
    elif os.path.isfile(source):
        root = os.path.dirname(os.path.abspath(source))
        with open(source, encoding="utf-8") as f:
            names = [line.split()[0] for line in f if line.strip() and not line.startswith("#")]
        paths = [n if os.path.isabs(n) else os.path.join(root, n) for n in names]
    else:
        raise MaskError(
            f"mask source {source!r} does not exist; expected a folder of mask images "
            f"({', '.join(MASK_FILE_EXTENSIONS)}) or a text file listing them"
        )
    if not paths:
        raise MaskError(
            f"mask source {source!r} holds no mask images; expected files ending in "
            f"{', '.join(MASK_FILE_EXTENSIONS)}"
        )
    return paths


def _split_masks(paths: list, source: str, split: str | None) -> list:
    if split is None:
        return paths
    if split not in MASK_SPLITS:
        raise MaskError(f"mask source {source!r}@{split}: expected @train or @test after the folder")

    base = source if os.path.isdir(source) else os.path.dirname(os.path.abspath(source))
    keys = tf.constant([os.path.relpath(p, base) for p in paths])
    keep = in_split(keys, MASK_SPLITS[split], MASK_SPLIT_RATIO, val_fraction=0.0).numpy()
    chosen = [p for p, k in zip(paths, keep) if k]
    if not chosen:
        raise MaskError(f"mask source {source!r}@{split}: the split holds no masks ({len(paths)} in all)")
    return chosen


def _read_mask(path: str, size: int) -> np.ndarray:
    """One mask file -> uint8 [size, size] with 1 = hole, read as `tfinpaint inpaint` reads it.

    `tfinpaint.imagefiles.read_mask` applies the package's mask rule (`convention.hole_from_values`:
    white >= 128 = hole, {0, 1} masks accepted) after the same decoding (EXIF orientation,
    16-bit scaling, alpha), so a mask folder marks the same holes in training and inference.
    """
    from tfinpaint.imagefiles import ImageError, read_mask

    try:
        hole = read_mask(path)
    except (ImageError, OSError) as e:
        raise MaskError(
            f"mask file {path!r} cannot be read as an image ({e}); expected a black-and-white image, "
            "white = hole"
        ) from e
    if hole.shape != (size, size):
        import cv2

        hole = cv2.resize(hole, (size, size), interpolation=cv2.INTER_NEAREST)
    return hole
