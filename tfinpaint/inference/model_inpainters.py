"""Trained and exported networks as `Inpainter`s, for photos of any size.

Both kinds complete holes by the one size policy of `tfinpaint.inference.sizing`:
`KerasInpainter` runs it in Python around an in-memory generator, `SavedModelInpainter` calls
an export's signatures, which hold the same policy in their graph. An empty mask returns the
input without running the network; a full mask is allowed (with a warning).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import tensorflow as tf

from tfinpaint.artifacts import ModelPathError, is_saved_model
from tfinpaint.convention import BLENDS, InputWarning, composite, to_uint8
from tfinpaint.inference.inpainters import Inpainter, check_batch
from tfinpaint.inference.sizing import DEFAULT_CONTEXT, DEFAULT_MAX_SIDE, SizePolicy
from tfinpaint.inference.windows import complete, complete_whole


def _warn(message: str) -> None:
    warnings.warn(message, InputWarning, stacklevel=4)


class ModelInpainter(Inpainter):
    """A network behind the size policy; subclasses implement `_complete_batch`.

    Args:
        name: label in reports and grids.
        policy: the `SizePolicy` the network runs by (None: an export made before the policy
            was part of the exported graph, which runs whole images).
        can_sample: the model draws random (pluralistic) completions from a seed.
        paper: the model's paper number when known; its generator class names the default
            blend (paper 2's models are Poisson-blended, as in the paper; paper 1's are not).
        blend: the model's own blend (`InpaintingGenerator.blend`, saved with it), which wins
            over its paper's; None = its paper's.
    """

    def __init__(
        self,
        name: str,
        policy: SizePolicy | None,
        *,
        can_sample: bool,
        paper: int | None,
        blend: str | None = None,
    ):
        self.name = name
        self.policy = policy
        self.can_sample = can_sample
        self.paper = paper
        self.blend = blend

    @property
    def default_blend(self) -> str:
        """The model's own blend, else its paper's generator's (`InpaintingGenerator.default_blend`);
        none when neither is known."""
        if self.blend is not None:
            return self.blend
        if self.paper is None:
            return "none"
        from tfinpaint.models import generator_class

        return generator_class(self.paper).default_blend

    def _complete_batch(self, images: np.ndarray, holes: np.ndarray, seed: int | None) -> np.ndarray:
        """uint8 images [B, H, W, 3] with a non-empty bool hole [B, H, W] each -> uint8
        [B, H, W, 3], the input outside the hole; `seed` None = deterministic."""
        raise NotImplementedError

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
        """The `Inpainter` contract, plus `seed` (None = deterministic; an int = a random sample).

        The network sees the images rounded to 8 bits, as a saved photo is.
        """
        images, hole = check_batch(images, masks)
        self.check_seed(seed)
        completed = images.copy()
        todo = np.flatnonzero(self._warn_about(hole))
        if todo.size:
            out = self._complete_batch(to_uint8(images[todo]), hole[todo], seed)
            mask = hole[todo][..., None].astype(np.float32)
            completed[todo] = composite(images[todo], mask, out.astype(np.float32) / np.float32(255.0))
        return completed

    def inpaint_image(self, image: np.ndarray, hole: np.ndarray, seed: int | None = None) -> np.ndarray:
        """One uint8 image [H, W, 3] and bool hole [H, W] -> uint8 [H, W, 3]; never float in full,
        so a 50-megapixel photo stays bytes."""
        self.check_seed(seed)
        if not self._warn_about(hole[None])[0]:
            return image.copy()
        return self._complete_batch(image[None], hole[None], seed)[0]


class KerasInpainter(ModelInpainter):
    """An in-memory inference generator behind the size policy.

    Args:
        generator: an `InpaintingGenerator` (with `sample(inputs, seed)` for paper 1).
        name: label in reports (default: the generator's name).
        max_side, context, train_size: see `SizePolicy.for_generator`.
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
        policy = SizePolicy.for_generator(
            generator, max_side=max_side, context=context, train_size=train_size
        )
        super().__init__(
            name or generator.name,
            policy,
            can_sample=callable(getattr(generator, "sample", None)),
            paper=generator.paper,
            blend=generator.blend,
        )
        self._traced = {}

    def _function(self, whole: bool, sample: bool):
        """The policy around the generator as a `tf.function`, traced once per kind of call."""
        if (whole, sample) not in self._traced:

            def fill(images, holes, seed):
                if sample:
                    run = lambda inputs: self.generator.sample(inputs, seed)
                else:
                    run = lambda inputs: self.generator(inputs, training=False)
                if whole:
                    return complete_whole(images, holes, run, self.policy)
                return complete(images, holes, run, self.policy)

            axes = [None] * (3 if whole else 2)
            self._traced[whole, sample] = tf.function(
                fill,
                input_signature=[
                    tf.TensorSpec([*axes, 3], tf.uint8),
                    tf.TensorSpec(axes, tf.bool),
                    tf.TensorSpec([], tf.int64),
                ],
            )
        return self._traced[whole, sample]

    def _complete_batch(self, images, holes, seed):
        seed_value = np.int64(0 if seed is None else seed)
        if max(images.shape[1:3]) <= self.policy.window_side:
            # Small images: the whole batch in one network run.
            return self._function(True, seed is not None)(images, holes, seed_value).numpy()
        fill = self._function(False, seed is not None)
        return np.stack([fill(image, hole, seed_value).numpy() for image, hole in zip(images, holes)])


def _saved_int(loaded, attribute: str) -> int | None:
    """An integer an export saved as a variable (e.g. `window_side`), or None when absent."""
    value = getattr(loaded, attribute, None)
    return int(value.numpy()) if hasattr(value, "numpy") else None


def _saved_blend(loaded) -> str | None:
    """The model's own blend an export saved (`tfinpaint.export.signatures`), or None: absent
    (an older export), saved empty (the paper's), or a name this version does not know."""
    value = getattr(loaded, "blend", None)
    name = value.numpy().decode() if hasattr(value, "numpy") else ""
    return name if name in BLENDS else None


class SavedModelInpainter(ModelInpainter):
    """An exported SavedModel behind its own signatures: uint8 in, uint8 out.

    The export holds the size policy in its graph (`tfinpaint.export`), with the window side
    and context it was exported with.

    Args:
        path: a SavedModel folder (a TF Serving version folder).
        name: label in reports (default: `<model name>/<version>` from the path).
        max_side, context: None, or the values the export was made with (anything else is an
            error: they are part of its graph; re-export to change them).

    Reference:
        TF Serving SignatureDefs, https://www.tensorflow.org/tfx/serving/signature_defs
    """

    def __init__(self, path: str, *, name: str | None = None, max_side=None, context=None):
        self.path = os.fspath(path)
        if not is_saved_model(self.path):
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
        policy = None
        window_side = _saved_int(self.loaded, "window_side")
        if window_side:
            policy = SizePolicy(
                _saved_int(self.loaded, "size_multiple"),
                window_side,
                _saved_int(self.loaded, "context"),
                _saved_int(self.loaded, "native_side") or None,
            )
            self._check_fixed(policy, max_side, context)
        else:
            _warn(
                f"{self.path}: exported by an older tfinpaint, whose graph runs the network on the "
                "whole image (poor on photos larger than it was trained at); export it again with "
                "`tfinpaint export`."
            )
        super().__init__(
            name or f"{os.path.basename(os.path.dirname(folder))}/{os.path.basename(folder)}",
            policy,
            can_sample=self._sample is not None,
            paper=_saved_int(self.loaded, "paper") or None,
            blend=_saved_blend(self.loaded),
        )

    def _check_fixed(self, policy: SizePolicy, max_side, context) -> None:
        asked = policy.window_side if max_side is None else min(max_side, policy.window_side)
        asked = asked // policy.multiple * policy.multiple
        if asked != policy.window_side or context not in (None, policy.context):
            raise ValueError(
                f"{self.path}: this export completes holes in windows of up to {policy.window_side} "
                f"pixels with {policy.context} pixels of context, fixed in its graph; got max_side "
                f"{max_side}, context {context}. Export the model again with those values."
            )

    def _complete_batch(self, images, holes, seed):
        image = tf.constant(images)
        mask = tf.constant(holes[..., None].astype(np.uint8))
        if seed is None:
            out = self._serve(image=image, mask=mask)
        else:
            out = self._sample(image=image, mask=mask, seed=tf.constant(seed, tf.int64))
        return out["inpainted"].numpy()
