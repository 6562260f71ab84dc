"""The one interface every inpainting method has, so evaluations put them side by side.

Classical baselines (`tfinpaint.inference.baselines`) and trained or exported models
(`tfinpaint.inference`) implement `Inpainter`; `tfinpaint.inference.load_inpainter` turns a
command-line `--model` value into one.
"""

from __future__ import annotations

import numpy as np

from tfinpaint.convention import to_uint8


class Inpainter:
    """Fills the holes of a batch of images.

    Subclasses set `name` (how reports and grids label the method) and implement
    `inpaint_batch`. `classical` is True for the non-learned baselines, which evaluation
    never Poisson-blends; `default_blend` is what `tfinpaint.inference.inpaint` does when not
    told ("poisson" for paper 2's models, whose paper blends, "none" otherwise);
    `can_sample` is True for models that draw random completions from a seed (paper 1).

    `inpaint_batch(images, masks)`:
        images: float32 numpy [B, H, W, 3], values in [0, 1].
        masks: float32 numpy [B, H, W, 1], 1 = hole (binarised at 0.5).
        Returns the completed images, float32 numpy [B, H, W, 3] in [0, 1]; pixels outside the
        hole equal the input exactly.
    """

    name: str = "inpainter"
    classical: bool = False
    can_sample: bool = False
    default_blend: str = "none"

    def inpaint_batch(self, images: np.ndarray, masks: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement inpaint_batch")

    def inpaint_image(self, image: np.ndarray, hole: np.ndarray, seed: int | None = None) -> np.ndarray:
        """One uint8 image [H, W, 3] and bool hole [H, W] -> uint8 [H, W, 3] (the input outside
        the hole). `seed` None = the deterministic completion; an int = a random sample."""
        self.check_seed(seed)
        completed = self.inpaint_batch(
            image[None].astype(np.float32) / np.float32(255.0), hole[None, :, :, None].astype(np.float32)
        )
        return np.where(hole[..., None], to_uint8(completed[0]), image)

    def check_seed(self, seed) -> None:
        if seed is not None and not self.can_sample:
            raise ValueError(
                f"model {self.name!r} cannot draw samples: only paper 1's generator (or an export "
                "with a `sample` signature) is pluralistic; use samples=1."
            )

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
