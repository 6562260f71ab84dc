"""Classical (non-learned) inpainting baselines behind the `Inpainter` interface.

`BASELINES` maps the names `tfinpaint.inference.load_inpainter`, `tfinpaint evaluate --model` and
`tfinpaint inpaint --model` accept to constructors: "telea" and "ns" (OpenCV, radius 3, on 8-bit
images), "biharmonic" (scikit-image, on the float image) and "patchmatch" (the optional
`pypatchmatch` package: `pip install tfinpaint[patchmatch]`).
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np

from tfinpaint.convention import composite
from tfinpaint.inference.inpainters import Inpainter, check_batch

# A hole covering the whole image leaves nothing to propagate from: OpenCV returns arbitrary
# values and scikit-image raises. Such an image gets this flat grey fill instead.
_NO_CONTEXT_FILL = 0.5


class ClassicalInpainter(Inpainter):
    """A non-learned baseline: `_fill(image float [H, W, 3], hole bool [H, W])` per image.

    Deterministic (it cannot draw samples); `inpaint_image` on one 8-bit photo comes from
    `Inpainter`, so `tfinpaint.inference.inpaint` and `tfinpaint inpaint` run it as a model.
    """

    classical = True
    # Known pixels a fill reads beyond the hole's bounding box (None: it may read any pixel).
    # One photo is filled in that window only, so a small hole in a 100-megapixel photo costs
    # what the hole costs, not gigabytes of float copies of the whole photo.
    context_margin: int | None = 16

    def _fill(self, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement _fill")

    def inpaint_image(self, image: np.ndarray, hole: np.ndarray, seed: int | None = None) -> np.ndarray:
        """`Inpainter.inpaint_image` on the window `hole_window` gives; the same pixels."""
        window = hole_window(hole, self.context_margin)
        if window is None:
            return super().inpaint_image(image, hole, seed)
        completed = image.copy()
        completed[window] = super().inpaint_image(image[window], hole[window], seed)
        return completed

    def inpaint_batch(self, images, masks):
        images, hole = check_batch(images, masks)
        return _fill_each(images, hole, self._fill)


def hole_window(hole: np.ndarray, margin: int | None) -> tuple[slice, slice] | None:
    """The hole's bounding box grown by `margin` pixels (clipped to the image), as slices;
    None when `margin` is None or the hole is empty."""
    if margin is None or not hole.any():
        return None
    rows = np.flatnonzero(hole.any(axis=1))
    cols = np.flatnonzero(hole.any(axis=0))
    height, width = hole.shape
    return (
        slice(max(rows[0] - margin, 0), min(rows[-1] + 1 + margin, height)),
        slice(max(cols[0] - margin, 0), min(cols[-1] + 1 + margin, width)),
    )


def _fill_each(images, hole, fill_one) -> np.ndarray:
    """Run `fill_one(image, hole_2d)` per example, handling empty and full holes alike for all."""
    completed = images.copy()
    for i in range(images.shape[0]):
        if not hole[i].any():
            continue
        if hole[i].all():
            warnings.warn(f"example {i}: the mask covers the whole image; filled with grey.", stacklevel=3)
            completed[i] = _NO_CONTEXT_FILL
            continue
        completed[i] = fill_one(images[i], hole[i])
    return composite(images, hole[..., None].astype(np.float32), np.clip(completed, 0.0, 1.0))


class OpenCVInpainter(ClassicalInpainter):
    """OpenCV's `cv2.inpaint` on 8-bit images: Telea's fast marching or Navier-Stokes.

    The image is rounded to 8 bits, as the papers' baselines run on saved images; only the
    hole of the result is used, so pixels outside it are the float input unchanged.

    Args:
        method: "telea" or "ns".
        radius: neighbourhood radius in pixels (the papers' comparisons and ours: 3).

    Reference:
        Telea, "An image inpainting technique based on the fast marching method", JGT 2004.
        Bertalmio, Bertozzi, Sapiro, "Navier-Stokes, fluid dynamics, and image and video
        inpainting", CVPR 2001.
    """

    METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}

    def __init__(self, method: str = "telea", radius: int = 3):
        if method not in self.METHODS:
            raise ValueError(
                f"OpenCVInpainter method: expected one of {sorted(self.METHODS)}, got {method!r}."
            )
        self.method = method
        self.radius = int(radius)
        self.name = method

    def _fill(self, image, hole):
        image8 = np.round(image * 255.0).astype(np.uint8)
        mask8 = hole.astype(np.uint8) * 255
        return cv2.inpaint(image8, mask8, self.radius, self.METHODS[self.method]) / 255.0


class BiharmonicInpainter(ClassicalInpainter):
    """scikit-image's biharmonic inpainting (`skimage.restoration.inpaint_biharmonic`).

    Solves the biharmonic equation in the hole with the known pixels as boundary values, per
    channel, on the float image. Its cost grows with the hole area (about 0.4 s for a 128x128
    hole on this project's CPU).

    Reference:
        Damelin, Hoang, "On surface completion and image inpainting by biharmonic
        functions: numerical aspects", Int. J. Math. Math. Sci. 2018.
    """

    name = "biharmonic"

    @staticmethod
    def _fill(image, hole):
        # Imported here: scikit-image's import costs the other fills' start-up time.
        from skimage.restoration import inpaint_biharmonic

        return inpaint_biharmonic(image, hole, channel_axis=-1)


class PatchMatchInpainter(ClassicalInpainter):
    """PatchMatch inpainting (`pypatchmatch`): the hole is filled with patches copied from the
    known region, coarse to fine. Sharp texture, no understanding of what belongs there.

    The search is randomised; the native library's seed is set before every image, so a
    score is the same on every run.

    Args:
        patch_size: patch radius (patches span 2 * patch_size + 1 pixels); 3, as the library's
            examples (about 1 s for a 128x128 hole on this project's CPU).
        seed: seed of the randomised search.

    Raises:
        ValueError: `pypatchmatch` is not installed or its native library did not load.

    Reference:
        Barnes, Shechtman, Finkelstein, Goldman, "PatchMatch: a randomized correspondence
        algorithm for structural image editing", SIGGRAPH 2009.
    """

    name = "patchmatch"
    context_margin = None  # its patches come from anywhere in the photo

    def __init__(self, patch_size: int = 3, seed: int = 0):
        self._patchmatch = _import_patchmatch()
        self.patch_size = int(patch_size)
        self.seed = int(seed)

    def _fill(self, image, hole):
        self._patchmatch.set_random_seed(self.seed)
        image8 = np.round(image * 255.0).astype(np.uint8)
        return self._patchmatch.inpaint(image8, hole.astype(np.uint8), patch_size=self.patch_size) / 255.0


def _import_patchmatch():
    try:
        import patchmatch
    except ImportError as e:
        raise ValueError(
            "--model patchmatch: the optional package pypatchmatch is not installed "
            f"({e}); install it with `pip install 'tfinpaint[patchmatch]'` (a prebuilt wheel, "
            "nothing is compiled or downloaded at run time)."
        ) from e
    if not patchmatch.patchmatch_available:
        raise ValueError(
            "--model patchmatch: pypatchmatch is installed but its native library did not "
            "load (no prebuilt wheel for this platform?); reinstall it with "
            "`pip install --force-reinstall --no-cache-dir pypatchmatch`."
        )
    return patchmatch


# The baselines every install has (PatchMatch is an optional extra): what a run's report scores.
CORE_BASELINES = ("telea", "ns", "biharmonic")
BASELINES = {
    "telea": lambda: OpenCVInpainter("telea", radius=3),
    "ns": lambda: OpenCVInpainter("ns", radius=3),
    "biharmonic": BiharmonicInpainter,
    "patchmatch": PatchMatchInpainter,
}
