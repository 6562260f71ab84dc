"""The one interface every inpainting method has, so evaluations put them side by side.

Classical baselines (`tfinpaint.baselines`) and trained or exported models
(`tfinpaint.inference`) implement `Inpainter`; `load_inpainter` turns a command-line
`--model` value into one.
"""

from __future__ import annotations

import os

import numpy as np


class Inpainter:
    """Fills the holes of a batch of images.

    Subclasses set `name` (how reports and grids label the method) and implement
    `inpaint_batch`. `classical` is True for the non-learned baselines, which evaluation
    never Poisson-blends.

    `inpaint_batch(images, masks)`:
        images: float32 numpy [B, H, W, 3], values in [0, 1].
        masks: float32 numpy [B, H, W, 1], 1 = hole (binarised at 0.5).
        Returns the completed images, float32 numpy [B, H, W, 3] in [0, 1]; pixels outside the
        hole equal the input exactly (`composite` guarantees it).
    """

    name: str = "inpainter"
    classical: bool = False

    def inpaint_batch(self, images: np.ndarray, masks: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement inpaint_batch")

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


def check_batch(images, masks) -> tuple[np.ndarray, np.ndarray]:
    """Validate an `inpaint_batch` input; returns (images float32, hole bool [B, H, W])."""
    images = np.asarray(images)
    masks = np.asarray(masks)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images: expected shape [B, H, W, 3], got {images.shape}.")
    if masks.ndim != 4 or masks.shape[-1] != 1:
        raise ValueError(f"masks: expected shape [B, H, W, 1], got {masks.shape}.")
    if masks.shape[:3] != images.shape[:3]:
        raise ValueError(
            f"masks: shape {masks.shape} does not match images {images.shape} in batch, height or width."
        )
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"images: expected float values in [0, 1], got dtype {images.dtype}.")
    images = images.astype(np.float32, copy=False)
    if images.size and (not np.isfinite(images).all() or images.min() < 0 or images.max() > 1):
        raise ValueError(
            f"images: expected finite values in [0, 1], found "
            f"[{np.nanmin(images):.4g}, {np.nanmax(images):.4g}]."
        )
    return images, masks[..., 0] >= 0.5


def composite(images: np.ndarray, completed: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """`completed` inside the hole, `images` (bit for bit) outside. hole: bool [B, H, W]."""
    return np.where(hole[..., None], np.clip(completed, 0.0, 1.0), images).astype(np.float32)


def load_inpainter(name_or_path: str) -> Inpainter:
    """A baseline by name ("telea", "ns", "biharmonic"; any case) or a model from a path.

    Paths go to `tfinpaint.inference.load_model_inpainter`: a `.keras` file, a SavedModel
    version folder, a base path holding integer version folders (newest wins), or a run
    directory.
    """
    from tfinpaint import baselines

    key = str(name_or_path).strip().lower()
    if key in baselines.BASELINES:
        return baselines.BASELINES[key]()
    if os.path.exists(name_or_path):
        from tfinpaint.inference import load_model_inpainter

        return load_model_inpainter(name_or_path)
    raise ValueError(
        f"--model {name_or_path!r}: not a baseline name and no such file or folder. Expected "
        f"one of {', '.join(baselines.BASELINES)} (any case), or a path to a .keras file, a "
        "SavedModel version folder, a base path holding version folders, or a run directory."
    )
