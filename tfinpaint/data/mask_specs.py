"""Mask strings -> mask generators: `center`, `random_rect`, `free_form`, `objects`, `files:DIR`
(`@train` / `@test`), `files-paired:DIR`, `mixed` and `mixed:NAME=W,...` (see
`tfinpaint.data.masks` for what each draws).
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from tfinpaint.data.mask_files import MASK_SPLITS, FileMasks
from tfinpaint.data.masks import (
    CenterMasks,
    FreeFormMasks,
    MaskError,
    MaskGenerator,
    ObjectMasks,
    RandomRectMasks,
)

MASK_KINDS = ("center", "random_rect", "free_form", "objects", "files:DIR", "files-paired:DIR", "mixed")
DEFAULT_MIX = (("free_form", 0.5), ("random_rect", 0.3), ("center", 0.2))
# The kinds a `mixed:` string may weigh, besides `files:DIR`.
MIXABLE = ("center", "random_rect", "free_form", "objects")


class MixedMasks(MaskGenerator):
    """A weighted random choice among other generators, per example.

    Args:
        image_size: side S of the masks.
        choices: sequence of (generator, weight); weights > 0, normalised here.
    """

    def __init__(self, image_size: int, choices):
        super().__init__(image_size)
        choices = list(choices)
        if not choices or any(w <= 0 for _, w in choices):
            raise MaskError(f"mixed masks {choices}: expected one or more (generator, weight > 0)")
        self.generators = [g for g, _ in choices]
        total = float(sum(w for _, w in choices))
        self.weights = [w / total for _, w in choices]
        self.num_params = 1 + sum(g.num_params for g in self.generators)

    def render(self, params, index):
        bounds = np.cumsum(self.weights)[:-1].astype(np.float32)
        choice = tf.reduce_sum(tf.cast(params[0] >= bounds, tf.int32))
        branches, offset = [], 1
        for gen in self.generators:
            sub = params[offset : offset + max(gen.num_params, 1)]
            branches.append(lambda gen=gen, sub=sub: gen.render(sub, index))
            offset += gen.num_params
        return tf.switch_case(choice, branches)


def make_mask_generator(
    spec, image_size: int, hole_fraction: float = 0.5, root: str | None = None
) -> MaskGenerator:
    """Build a generator from a mask string (see the module docstring) or return a generator as is.

    `root` is the folder relative `files:` sources are read from (default: the working directory).
    """
    if isinstance(spec, MaskGenerator):
        if spec.image_size != image_size:
            raise MaskError(f"mask generator for {spec.image_size} px given for images of {image_size} px")
        return spec
    if not isinstance(spec, str) or not spec:
        raise MaskError(f"masks={spec!r}: expected one of {', '.join(MASK_KINDS)} or a MaskGenerator")
    name, _, arg = spec.partition(":")
    if name == "center":
        return CenterMasks(image_size, hole_fraction)
    if name == "random_rect":
        return RandomRectMasks(image_size)
    if name == "free_form":
        return FreeFormMasks(image_size)
    if name == "objects":
        return ObjectMasks(image_size)
    if name in ("files", "files-paired"):
        if not arg:
            raise MaskError(f"masks={spec!r}: expected {name}:DIR (a folder or list of mask images)")
        folder, split = arg, None
        if "@" in arg and arg.rsplit("@", 1)[1] in MASK_SPLITS:
            folder, split = arg.rsplit("@", 1)
        if root and not os.path.isabs(folder):
            folder = os.path.join(root, folder)
        return FileMasks(image_size, folder, paired=name == "files-paired", split=split)
    if name == "mixed":
        return MixedMasks(
            image_size,
            [(make_mask_generator(n, image_size, hole_fraction, root), w) for n, w in _parse_mix(spec, arg)],
        )
    raise MaskError(f"masks={spec!r}: unknown kind {name!r}; expected one of {', '.join(MASK_KINDS)}")


def _parse_mix(spec: str, arg: str):
    if not arg:
        return DEFAULT_MIX
    pairs = []
    for item in arg.split(","):
        name, _, weight = item.rpartition("=")
        try:
            w = float(weight)
        except ValueError:
            raise MaskError(
                f"masks={spec!r}: {item!r} is not NAME=WEIGHT (e.g. mixed:free_form=0.7,center=0.3)"
            ) from None
        if name not in MIXABLE and not name.startswith("files:"):
            raise MaskError(
                f"masks={spec!r}: {name!r} cannot be mixed; expected {', '.join(MIXABLE)} or files:DIR"
            )
        pairs.append((name, w))
    return pairs
