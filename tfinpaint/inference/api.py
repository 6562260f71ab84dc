"""`inpaint()`: complete the hole of one photo in one call (what `tfinpaint inpaint` runs)."""

from __future__ import annotations

import os
import warnings

import numpy as np

from tfinpaint import maskops
from tfinpaint.convention import InputWarning, hole_map
from tfinpaint.imagefiles import read_image, read_mask
from tfinpaint.inference.inpainters import Inpainter
from tfinpaint.inference.loading import load_inpainter
from tfinpaint.postprocess import BLENDS, apply_blend


def _as_inpainter(model) -> Inpainter:
    if isinstance(model, Inpainter):
        return model
    if model is None or isinstance(model, (str, os.PathLike)):
        return load_inpainter(model)
    if callable(model):  # a Keras model object: TensorFlow is already loaded
        from tfinpaint.inference.model_inpainters import KerasInpainter
        from tfinpaint.models.generator import InpaintingGenerator

        if isinstance(model, InpaintingGenerator):
            return KerasInpainter(model)
    raise TypeError(
        f"model: expected a name or path, an Inpainter or a tfinpaint generator, got {type(model).__name__}."
    )


def _image_array(image) -> np.ndarray:
    if isinstance(image, (str, os.PathLike)):
        return read_image(image).rgb
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image: expected uint8 [H, W, 3] RGB, got {image.dtype} {list(image.shape)}.")
    return image


def _hole_array(mask, size: tuple[int, int], resize_mask: bool) -> np.ndarray:
    if isinstance(mask, (str, os.PathLike)):
        return read_mask(mask, size=size, resize=resize_mask).astype(bool)
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[-1] == 1:
        mask = mask[..., 0]
    if mask.shape != tuple(size):
        raise ValueError(
            f"mask: shape {list(mask.shape)} does not match the image's {list(size)}; expected [H, W] "
            "or [H, W, 1]."
        )
    return hole_map(mask)


def inpaint(
    image,
    mask,
    model=None,
    blend: str | None = None,
    samples: int = 1,
    seed: int = 0,
    *,
    resize_mask: bool = False,
    dilate: int = 0,
    feather: int = 0,
    invert_mask: bool = False,
    sample: bool = False,
) -> np.ndarray | list[np.ndarray]:
    """Complete the hole of one photo.

    Args:
        image: uint8 [H, W, 3] RGB, or a path (read with `tfinpaint.imagefiles.read_image`).
        mask: a path (white >= 128 = hole, see `tfinpaint.imagefiles.read_mask`), or an array [H, W] /
            [H, W, 1]: bool, integers (the file rule: >= 128, or {0, 1}) or floats (>= 0.5).
        model: an `Inpainter`, a generator, a baseline name ("telea", "ns", "biharmonic") or a
            model `tfinpaint.artifacts.resolve_model` accepts; None = the model shipped with
            tfinpaint ("default").
        blend: "poisson" (`tfinpaint.postprocess.poisson_blend`), "patches" (the hole re-made
            from the photo's own patches, following the model's fill:
            `tfinpaint.patch_synthesis`, its search seeded by `seed`) or "none" (the raw
            composite: every pixel outside the hole is the input's); None = the model's own
            (`ModelInpainter.default_blend`): "patches" for the shipped default model, "poisson"
            for other paper-2 models (the paper blends), "none" for paper 1's and the classical
            baselines.
        samples: K > 1 draws K random completions with seeds `seed`, `seed + 1`, … (paper 1);
            1 = the model's deterministic completion (unless `sample`).
        seed: first sample's seed.
        resize_mask: resize a mask file of another size (nearest neighbour) instead of failing.
        dilate, feather, invert_mask: grow the hole by `dilate` pixels; blend the fill into the
            photo over `feather` pixels around the hole; flip the mask (see `tfinpaint.maskops`,
            which also warns when a mask looks inverted).
        sample: with samples=1, draw the random completion for `seed` instead of the
            deterministic one (the browser page's "another sample").

    Returns:
        uint8 [H, W, 3], or a list of K of them when `samples > 1`. Pixels outside the hole
        are the input's (Poisson blending changes the hole only). The result does not depend
        on what the image holds inside the hole.

    Raises:
        ValueError (ImageError, ModelPathError): bad image, mask, model or arguments.
    """
    if blend not in (None, *BLENDS):
        raise ValueError(f"blend {blend!r}: expected one of {', '.join(BLENDS)} (or None: the model's).")
    if not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples {samples!r}: expected an integer >= 1.")
    image = _image_array(image)
    hole = _hole_array(mask, image.shape[:2], resize_mask)
    name = os.fspath(mask) if isinstance(mask, (str, os.PathLike)) else "the mask"
    hole = maskops.prepare_hole(hole, invert=invert_mask, dilate_by=dilate, name=name)
    fill = maskops.fill_region(hole, feather)
    inpainter = _as_inpainter(model)
    blend = blend or inpainter.default_blend
    sampling = samples > 1 or sample
    if sampling:
        inpainter.check_seed(seed)
    if not hole.any():
        warnings.warn(
            "the mask is empty: the image is returned unchanged; the network was not run.",
            InputWarning,
            stacklevel=2,
        )
        return image.copy() if samples == 1 else [image.copy() for _ in range(samples)]
    seeds = [seed + k for k in range(samples)] if sampling else [None]
    results = []
    for sample_seed in seeds:
        completed = inpainter.inpaint_image(image, fill, sample_seed)
        if blend != "none":
            completed = apply_blend(blend, image, completed, fill, seed=seed)
        if feather:
            completed = maskops.feather(image, completed, hole, feather)
        results.append(completed)
    return results[0] if samples == 1 else results
