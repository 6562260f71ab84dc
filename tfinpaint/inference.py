"""Trained and exported models as inpainters, for photos of any size, and `inpaint()`.

Every model inpainter shares one shape policy (`ModelInpainter`):
- sizes that are not a multiple of the network's stride are reflect-padded and cropped back;
- an image with a side above `max_side` (and never above the model's own `max_side`, e.g.
  paper 1's attention limit) is not run whole: each cluster of holes is completed in a window
  around it with `context` pixels of surroundings at full resolution, or — when the hole
  itself is too big for a window — in a downscaled window; only the hole is pasted back;
- the result is composited last, so pixels outside the hole are the input's, bit for bit;
- an empty mask returns the input without running the network; a full mask is allowed.

`KerasInpainter` wraps an in-memory inference generator (contract 4), `SavedModelInpainter`
an export's `serving_default` signature (contract 7). `load_model_inpainter` builds either
from a path; `inpaint()` is the one-call Python API with Poisson blending.
"""

from __future__ import annotations

import json
import os
import warnings

import cv2
import numpy as np

from tfinpaint import maskops
from tfinpaint.convention import InputWarning, hole_from_values
from tfinpaint.inpainters import Inpainter, check_batch, composite
from tfinpaint.io import read_image, read_mask
from tfinpaint.postprocess import poisson_blend

DEFAULT_MAX_SIDE = 1024
DEFAULT_CONTEXT = 128
# Above this many separate holes, clustering them costs more than it saves: one window.
_MAX_HOLE_COMPONENTS = 64
# Size multiple assumed for an export: it pads to its own stride, but also refuses inputs
# smaller than it, and 32 is a multiple of both papers' strides (4 and 32).
_EXPORT_SIZE_MULTIPLE = 32
DEFAULT_EXPORT_ROOT = "saved_models"
TRAIN_HINT = "python scripts/train.py --paper 2"


class ModelPathError(ValueError):
    """A `--model` path that is not a model tfinpaint can load; the message says what it found."""


def _warn(message: str) -> None:
    warnings.warn(message, InputWarning, stacklevel=3)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _reflect_pad(x: np.ndarray, pad_h: int, pad_w: int) -> np.ndarray:
    """Pad axes 1 (H) and 2 (W) at the bottom / right by mirroring (edge for 1-pixel sides)."""
    if not pad_h and not pad_w:
        return x
    widths = [(0, 0)] * x.ndim
    widths[1], widths[2] = (0, pad_h), (0, pad_w)
    mode = "reflect" if min(x.shape[1], x.shape[2]) > 1 else "edge"
    return np.pad(x, widths, mode=mode)


def _box_fits(extent: int, side: int, context: int) -> bool:
    """A hole extent can be completed at full resolution with a quarter of the context."""
    return extent + 2 * (context // 4) <= side


Box = tuple[int, int, int, int]


def hole_groups(hole: np.ndarray, side: int, context: int) -> list[tuple[Box, np.ndarray]]:
    """Cluster the holes of a large image into groups that can share one window.

    Connected holes whose joint bounding box still fits a window of `side` pixels are merged,
    so two scratches near each other cost one network run while holes at opposite corners
    get windows of their own.

    Returns:
        [((y0, y1, x0, x1), pixels bool [H, W]), …]: each group's bounding box (end exclusive)
        and its hole pixels.
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStats(hole.astype(np.uint8), connectivity=8)
    if count - 1 > _MAX_HOLE_COMPONENTS:
        ys, xs = np.nonzero(hole)
        return [((int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1), hole)]
    groups = [[(y, y + h, x, x + w), [label]] for label, (x, y, w, h, _) in enumerate(stats) if label]
    merged = True
    while merged:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                a, b = groups[i][0], groups[j][0]
                union = (min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))
                if _box_fits(union[1] - union[0], side, context) and _box_fits(
                    union[3] - union[2], side, context
                ):
                    groups[i] = [union, groups[i][1] + groups[j][1]]
                    del groups[j]
                    merged = True
                    break
            if merged:
                break
    return [(tuple(int(v) for v in box), np.isin(labels, members)) for box, members in groups]


def _window_1d(start: int, end: int, length: int, side: int, multiple: int) -> tuple[int, int]:
    """A span of at most `side` pixels covering [start, end), centred on it, inside [0, length)."""
    want = min(length, side, _round_up(end - start, multiple))
    centre = (start + end) // 2
    lo = min(max(centre - want // 2, 0), length - want)
    return lo, lo + want


class ModelInpainter(Inpainter):
    """The shape policy shared by every learned inpainter; subclasses provide `_predict`.

    Args:
        name: label in reports and grids.
        size_multiple: the network needs H and W divisible by this (inputs are reflect-padded).
        model_max_side: the largest side the network should ever see (paper 1: attention
            memory), or None.
        max_side: larger images are completed window by window (see module docstring);
            the effective cap is `min(max_side, model_max_side, train_size)`.
        train_size: the image side the model was trained at, when known. A network trained on
            64-pixel crops turns a 512-pixel photo's holes into noise; run at its training
            scale (holes and their context shrunk to fit, only the hole scaled back), it sees
            what it learned from.
        context: pixels of surrounding image wanted on each side of a hole in a window. A hole
            is completed at full resolution as long as a quarter of that fits; larger holes are
            completed in a downscaled window with the whole context.
        can_sample: the model draws random (pluralistic) completions from a seed.
    """

    def __init__(
        self,
        name: str,
        *,
        size_multiple: int = 1,
        model_max_side: int | None = None,
        max_side: int = DEFAULT_MAX_SIDE,
        context: int = DEFAULT_CONTEXT,
        can_sample: bool = False,
        train_size: int | None = None,
    ):
        if max_side < size_multiple:
            raise ValueError(
                f"max_side {max_side}: expected at least the model's size multiple {size_multiple}."
            )
        if context < 0:
            raise ValueError(f"context {context}: expected pixels >= 0.")
        self.name = name
        self.size_multiple = int(size_multiple)
        self.model_max_side = model_max_side
        self.train_size = train_size
        self.max_side = int(max_side)
        self.context = int(context)
        self.can_sample = can_sample

    @property
    def window_side(self) -> int:
        """The largest side the network is run at: a multiple of `size_multiple`."""
        cap = min(self.max_side, self.model_max_side or self.max_side, self.train_size or self.max_side)
        return max(self.size_multiple, cap // self.size_multiple * self.size_multiple)

    def _predict(self, images: np.ndarray, masks: np.ndarray, seed: int | None) -> np.ndarray:
        """Network output for float32 images [B,h,w,3] in [0,1] and masks [B,h,w,1] (1 = hole),
        h and w multiples of `size_multiple`; `seed` None = the deterministic completion."""
        raise NotImplementedError

    def _check_seed(self, seed) -> None:
        if seed is not None and not self.can_sample:
            raise ValueError(
                f"model {self.name!r} cannot draw samples: only paper 1's generator (or an export "
                "with a `sample` signature) is pluralistic; use samples=1."
            )

    def _run_padded(self, images: np.ndarray, hole: np.ndarray, seed) -> np.ndarray:
        """Run on a batch at its own size: reflect-pad to the stride, predict, crop back."""
        h, w = images.shape[1:3]
        pad_h = _round_up(h, self.size_multiple) - h
        pad_w = _round_up(w, self.size_multiple) - w
        # The mask is mirrored with the image: a zero-padded mask would show the mirrored hole
        # content (the thing being removed) to the network as known pixels.
        out = self._predict(
            _reflect_pad(images, pad_h, pad_w),
            _reflect_pad(hole[..., None].astype(np.float32), pad_h, pad_w),
            seed,
        )
        return np.asarray(out, np.float32)[:, :h, :w, :]

    def _complete_group(self, image: np.ndarray, hole: np.ndarray, box, seed) -> tuple:
        """(window slices, completed window [h, w, 3] in `image`'s dtype) for one hole group.

        `image` may be uint8 or float in [0, 1]; only the network's input and output are float,
        so a 50-megapixel photo never exists as float32 in full.
        """
        side, height, width = self.window_side, hole.shape[0], hole.shape[1]
        y0, y1, x0, x1 = box
        if _box_fits(y1 - y0, side, self.context) and _box_fits(x1 - x0, side, self.context):
            wy = _window_1d(y0 - self.context, y1 + self.context, height, side, self.size_multiple)
            wx = _window_1d(x0 - self.context, x1 + self.context, width, side, self.size_multiple)
            window = (slice(*wy), slice(*wx))
            out = self._run_padded(_to_float(image[window])[None], hole[window][None], seed)[0]
            return window, _like(out, image.dtype)
        # The hole alone is too big for a window: shrink the hole and its context to fit.
        window = (
            slice(max(y0 - self.context, 0), min(y1 + self.context, height)),
            slice(max(x0 - self.context, 0), min(x1 + self.context, width)),
        )
        crop = image[window]
        scale = side / max(crop.shape[:2])
        small = (max(1, int(crop.shape[1] * scale)), max(1, int(crop.shape[0] * scale)))
        small_image = _to_float(cv2.resize(crop, small, interpolation=cv2.INTER_AREA))
        # Any hole pixel in a shrunken cell marks it, so the network fills every pixel that
        # will be pasted back (float: a uint8 average would round one pixel in 600 to zero).
        small_hole = cv2.resize(hole[window].astype(np.float32), small, interpolation=cv2.INTER_AREA) > 0
        small_out = self._run_padded(small_image[None], small_hole[None], seed)[0]
        # Back to the image's dtype before upscaling: the full-size window stays uint8.
        return window, cv2.resize(
            _like(small_out, image.dtype), (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR
        )

    def _complete_large(self, image: np.ndarray, hole: np.ndarray, seed) -> np.ndarray:
        """Window by window; the result has `image`'s dtype (uint8 or float)."""
        completed = image.copy()
        for box, pixels in hole_groups(hole, self.window_side, self.context):
            window, out = self._complete_group(image, hole, box, seed)
            mine = pixels[window]
            completed[window][mine] = out[mine]
        return completed

    def _warn_about(self, hole: np.ndarray) -> np.ndarray:
        """Warn about empty and full masks in a bool [B, H, W] batch; returns which have holes."""
        has_hole = hole.any(axis=(1, 2))
        if not has_hole.all():
            _warn(
                f"{int((~has_hole).sum())} of {len(has_hole)} masks are empty: those images "
                "are returned unchanged."
            )
        full = hole.all(axis=(1, 2))
        if full.any():
            _warn(
                f"{int(full.sum())} of {len(full)} masks cover the whole image: the model has "
                "no context to work from."
            )
        return has_hole

    def inpaint_batch(self, images: np.ndarray, masks: np.ndarray, seed: int | None = None) -> np.ndarray:
        """Contract 6, plus `seed` (None = deterministic; an int = a random sample)."""
        images, hole = check_batch(images, masks)
        self._check_seed(seed)
        completed = images.copy()
        todo = np.flatnonzero(self._warn_about(hole))
        if todo.size and max(images.shape[1:3]) <= self.window_side:
            completed[todo] = self._run_padded(images[todo], hole[todo], seed)
        else:
            for i in todo:
                completed[i] = self._complete_large(images[i], hole[i], seed)
        return composite(images, completed, hole)

    def inpaint_image(self, image: np.ndarray, hole: np.ndarray, seed: int | None = None) -> np.ndarray:
        """One uint8 image [H,W,3] and bool hole [H,W] -> uint8 [H,W,3], composited in uint8."""
        self._check_seed(seed)
        if not self._warn_about(hole[None])[0]:
            return image.copy()
        if max(image.shape[:2]) <= self.window_side:
            completed = _like(self._run_padded(_to_float(image)[None], hole[None], seed)[0], np.uint8)
        else:
            completed = self._complete_large(image, hole, seed)
        return np.where(hole[..., None], completed, image)


def _to_float(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) / np.float32(255.0)
    return pixels.astype(np.float32, copy=False)


def _like(values: np.ndarray, dtype) -> np.ndarray:
    """Network output in [0, 1] as `dtype`: rounded bytes for uint8, float32 otherwise."""
    if dtype == np.uint8:
        return np.rint(np.clip(values, 0.0, 1.0) * 255.0).astype(np.uint8)
    return values.astype(np.float32, copy=False)


class KerasInpainter(ModelInpainter):
    """An in-memory inference generator (contract 4) behind the shape policy.

    Args:
        generator: a `keras.Model` called as `generator({"image", "mask"}, training=False)`,
            with `size_multiple`, `max_side` and, for paper 1, `sample(inputs, seed)`.
        name: label in reports (default: the generator's name).
        max_side, context, train_size: see `ModelInpainter`; `train_size` defaults to the
            generator's `train_size` attribute (set by `tfinpaint.models.load_generator`).
    """

    def __init__(
        self,
        generator,
        *,
        name: str | None = None,
        max_side: int = DEFAULT_MAX_SIDE,
        context: int = DEFAULT_CONTEXT,
        train_size: int | None = None,
    ):
        self.generator = generator
        super().__init__(
            name or generator.name,
            size_multiple=int(getattr(generator, "size_multiple", 1) or 1),
            model_max_side=getattr(generator, "max_side", None),
            max_side=max_side,
            context=context,
            can_sample=callable(getattr(generator, "sample", None)),
            train_size=train_size or getattr(generator, "train_size", None),
        )

    def _predict(self, images, masks, seed):
        import tensorflow as tf

        inputs = {"image": tf.constant(images, tf.float32), "mask": tf.constant(masks, tf.float32)}
        if seed is None:
            out = self.generator(inputs, training=False)
        else:
            out = self.generator.sample(inputs, seed)
        return np.asarray(out, np.float32)


class SavedModelInpainter(ModelInpainter):
    """An exported SavedModel (contract 7) behind the shape policy: uint8 in, uint8 out.

    Args:
        path: a SavedModel folder (a TF Serving version folder).
        name: label in reports (default: `<model name>/<version>` from the path).
        max_side, context: see `ModelInpainter`. The export refuses sides below its stride and
            shrinks inputs above paper 1's attention limit itself. Unless the export records
            `size_multiple` and `max_side` (as saved variables), this class pads to a multiple
            of 32, which every tfinpaint export accepts, and caps windows at `max_side` only.

    Reference:
        TF Serving SignatureDefs, https://www.tensorflow.org/tfx/serving/signature_defs
    """

    def __init__(
        self,
        path: str,
        *,
        name: str | None = None,
        max_side: int = DEFAULT_MAX_SIDE,
        context: int = DEFAULT_CONTEXT,
    ):
        import tensorflow as tf

        self.path = os.fspath(path)
        if not os.path.isfile(os.path.join(self.path, "saved_model.pb")):
            raise ModelPathError(f"{self.path}: no saved_model.pb; expected a SavedModel folder.")
        self.loaded = tf.saved_model.load(self.path)
        signatures = self.loaded.signatures
        if "serving_default" not in signatures:
            raise ModelPathError(
                f"{self.path}: the SavedModel has no serving_default signature "
                f"(found {sorted(signatures)}); expected a tfinpaint export."
            )
        self._serve = signatures["serving_default"]
        self._sample = signatures["sample"] if "sample" in signatures else None
        folder = os.path.normpath(os.path.abspath(self.path))
        default_name = f"{os.path.basename(os.path.dirname(folder))}/{os.path.basename(folder)}"
        multiple = _saved_int(self.loaded, "size_multiple") or _EXPORT_SIZE_MULTIPLE
        super().__init__(
            name or default_name,
            size_multiple=multiple,
            model_max_side=_saved_int(self.loaded, "max_side"),
            train_size=_saved_int(self.loaded, "train_size"),
            max_side=max_side,
            context=context,
            can_sample=self._sample is not None,
        )

    def _predict(self, images, masks, seed):
        import tensorflow as tf

        image = tf.constant(np.rint(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8))
        mask = tf.constant((masks >= 0.5).astype(np.uint8))
        if seed is None:
            out = self._serve(image=image, mask=mask)
        else:
            out = self._sample(image=image, mask=mask, seed=tf.constant(seed, tf.int64))
        return out["inpainted"].numpy().astype(np.float32) / 255.0


def _saved_int(loaded, attribute: str) -> int | None:
    """A positive integer an export saved as a variable or constant (e.g. `max_side`), or None.

    Exports that record the generator's `size_multiple` / `max_side` let windows match the
    network; without them the conservative defaults above apply.
    """
    value = getattr(loaded, attribute, None)
    if value is None or not hasattr(value, "numpy"):
        return None
    value = int(value.numpy())
    return value if value > 0 else None


# ---------------------------------------------------------------------------------------------
# Finding and loading models.
# ---------------------------------------------------------------------------------------------


def _is_saved_model(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "saved_model.pb"))


def newest_version(base_path: str) -> tuple[int, str] | None:
    """(version, folder) of the highest integer version under a TF Serving base path, or None.

    Only folders named by an integer and holding a `saved_model.pb` count, as for TF Serving;
    a half-written export (a hidden temporary folder) never does.
    """
    if not os.path.isdir(base_path):
        return None
    versions = [
        int(e) for e in os.listdir(base_path) if e.isdigit() and _is_saved_model(os.path.join(base_path, e))
    ]
    if not versions:
        return None
    best = max(versions)
    return best, os.path.join(base_path, str(best))


def _run_dir_model(path: str) -> str:
    models = sorted(f for f in os.listdir(path) if f.endswith(".keras"))
    if len(models) == 1:
        return os.path.join(path, models[0])
    generators = [f for f in models if "generator" in f]
    if len(generators) == 1:
        return os.path.join(path, generators[0])
    raise ModelPathError(
        f"{path}: a run directory (config.json) holding "
        f"{models or 'no .keras file'}; expected exactly one generator .keras "
        "file — has the run finished?"
    )


def _newest_export(root: str) -> str | None:
    if not os.path.isdir(root):
        return None
    found = []
    for entry in os.listdir(root):
        newest = newest_version(os.path.join(root, entry))
        if newest:
            found.append((os.path.getmtime(os.path.join(newest[1], "saved_model.pb")), newest[1]))
    return max(found)[1] if found else None


def resolve_model_path(
    path: str | os.PathLike | None = None, *, export_root: str = DEFAULT_EXPORT_ROOT
) -> str:
    """The `.keras` file or SavedModel version folder a `--model` value stands for.

    Accepts a TF Serving base path (integer version folders; the highest wins), a version
    folder, a `.keras` file or a run directory (`config.json` + the generator's `.keras`).
    None = the most recently written export under `export_root` (./saved_models).

    Raises:
        ModelPathError: nothing usable at `path`, or no export at all when `path` is None.
    """
    if path is None:
        found = _newest_export(export_root)
        if found is None:
            raise ModelPathError(
                f"no --model given and no exported model under ./{export_root}/; train one with "
                f"`{TRAIN_HINT}` (it exports there) or pass --model PATH."
            )
        return found
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelPathError(f"--model {path}: no such file or folder.")
    if os.path.isfile(path):
        if path.endswith(".keras"):
            return path
        raise ModelPathError(
            f"--model {path}: a file that is not .keras; expected a .keras "
            "file, a SavedModel folder, a base path with version folders or "
            "a run directory."
        )
    if _is_saved_model(path):
        return path
    newest = newest_version(path)
    if newest:
        return newest[1]
    if os.path.isfile(os.path.join(path, "config.json")):
        return _run_dir_model(path)
    raise ModelPathError(
        f"--model {path}: a folder with no saved_model.pb, no integer version "
        "folders and no config.json; expected a SavedModel version folder, a "
        "base path with version folders or a run directory."
    )


def run_config(keras_path: str) -> dict | None:
    """The resolved config (`config.json`) of the run a `.keras` generator was saved in, or None."""
    config = os.path.join(os.path.dirname(os.path.abspath(keras_path)), "config.json")
    if os.path.isfile(config):
        with open(config) as f:
            data = json.load(f)
        if "paper" in data and "preset" in data:
            return data
    return None


def run_identity(keras_path: str) -> tuple[int, str] | None:
    """(paper, preset) of the run a `.keras` generator was saved in, or None."""
    data = run_config(keras_path)
    return (data["paper"], data["preset"]) if data else None


def _keras_name(path: str) -> str:
    identity = run_identity(path)
    if identity:
        return f"paper{identity[0]}-{identity[1]}"
    return os.path.splitext(os.path.basename(path))[0]


def load_model_inpainter(
    path: str | os.PathLike | None = None,
    *,
    max_side: int = DEFAULT_MAX_SIDE,
    context: int = DEFAULT_CONTEXT,
    export_root: str = DEFAULT_EXPORT_ROOT,
) -> ModelInpainter:
    """A `KerasInpainter` or `SavedModelInpainter` for a `--model` value (`resolve_model_path`).

    `.keras` files load with `safe_mode=True`: a model file is code, load only trusted ones.
    """
    resolved = resolve_model_path(path, export_root=export_root)
    if resolved.endswith(".keras"):
        from tfinpaint.models import load_generator

        try:
            generator = load_generator(resolved)
        except (ValueError, TypeError, OSError) as e:
            raise ModelPathError(
                f"{resolved}: cannot be loaded as a tfinpaint generator ({type(e).__name__}: {e})."
            ) from e
        return KerasInpainter(generator, name=_keras_name(resolved), max_side=max_side, context=context)
    return SavedModelInpainter(resolved, max_side=max_side, context=context)


def _as_inpainter(model) -> ModelInpainter:
    if isinstance(model, Inpainter) and callable(getattr(model, "inpaint_image", None)):
        return model  # a ModelInpainter, or a classical baseline (tfinpaint.baselines)
    if isinstance(model, str):
        from tfinpaint.baselines import BASELINES

        if model.strip().lower() in BASELINES:
            return BASELINES[model.strip().lower()]()
    if model is None or isinstance(model, (str, os.PathLike)):
        return load_model_inpainter(model)
    if callable(model) and hasattr(model, "size_multiple"):
        return KerasInpainter(model)
    raise TypeError(
        f"model: expected a path, a ModelInpainter or a tfinpaint generator, got {type(model).__name__}."
    )


# ---------------------------------------------------------------------------------------------
# The one-call API.
# ---------------------------------------------------------------------------------------------


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
            f"mask: shape {list(mask.shape)} does not match the image's "
            f"{list(size)}; expected [H, W] or [H, W, 1]."
        )
    if mask.dtype == bool:
        return mask
    if np.issubdtype(mask.dtype, np.floating):
        return mask >= 0.5
    return hole_from_values(mask).astype(bool)


def inpaint(
    image,
    mask,
    model=None,
    blend: str = "poisson",
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
        image: uint8 [H, W, 3] RGB, or a path (read with `tfinpaint.io.read_image`).
        mask: a path (white >= 128 = hole, see `tfinpaint.io.read_mask`), or an array [H, W] /
            [H, W, 1]: bool, integers (the file rule: >= 128, or {0, 1}) or floats (>= 0.5).
        model: a `ModelInpainter`, a generator, a classical baseline (an instance or a name:
            telea, ns, biharmonic, patchmatch), or a path `resolve_model_path` accepts;
            None = the newest export under ./saved_models.
        blend: "poisson" (default; `tfinpaint.postprocess.poisson_blend`) or "none" (the raw
            composite: every pixel outside the hole is the input's).
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
        uint8 [H, W, 3], or a list of K of them when `samples > 1`. With blend="poisson" only
        pixels within 3 pixels of the hole can differ from the input.

    Raises:
        ValueError (ImageError, ModelPathError): bad image, mask, model or arguments.
    """
    if blend not in ("poisson", "none"):
        raise ValueError(f"blend {blend!r}: expected 'poisson' or 'none'.")
    if not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples {samples!r}: expected an integer >= 1.")
    image = _image_array(image)
    hole = _hole_array(mask, image.shape[:2], resize_mask)
    name = os.fspath(mask) if isinstance(mask, (str, os.PathLike)) else "the mask"
    hole = maskops.prepare_hole(hole, invert=invert_mask, dilate_by=dilate, name=name)
    fill = maskops.fill_region(hole, feather)
    inpainter = _as_inpainter(model)
    sampling = samples > 1 or sample
    if sampling:
        inpainter._check_seed(seed)
    if not hole.any():
        _warn("the mask is empty: the image is returned unchanged; the network was not run.")
        return image.copy() if samples == 1 else [image.copy() for _ in range(samples)]
    seeds = [seed + k for k in range(samples)] if sampling else [None]
    results = []
    for sample_seed in seeds:
        completed = inpainter.inpaint_image(image, fill, sample_seed)
        if blend == "poisson":
            completed = poisson_blend(image, completed, fill)
        if feather:
            completed = maskops.feather(image, completed, hole, feather)
        results.append(completed)
    return results[0] if samples == 1 else results
