"""What every paper's inference generator is: an image + mask -> completed image model that names
its paper, carries its size rules, the side it was trained at and the blend applied to its
completions, and checks its inputs one way (keras-hub's `Backbone` pattern: one base, each paper
a subclass)."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfinpaint.convention import BLENDS
from tfinpaint.models.common import base_config


class InpaintingGenerator(keras.Model):
    """Base class of the papers' inference generators.

    A paper's subclass sets the class attributes `paper` (its number), `size_multiple` (the
    image sides it accepts are multiples of it) and `default_blend` (the post-processing its
    paper applies to a completion, `tfinpaint.postprocess.BLENDS`), and calls `checked_inputs`
    first thing in `call`.

    Inputs are not autocast, whatever the dtype policy: the known pixels must be pasted back
    from the float32 input, not from a bfloat16 / float16 copy; the inner layers cast for
    themselves, and outputs are float32.

    Args:
        max_side: the largest input side the network may run at (None: any); larger inputs
            raise an error (`tfinpaint.inference` crops or resizes before that).
        train_size: the image side the network was trained at (None = unknown). Inference
            runs the network at that scale (`tfinpaint.inference.sizing`); kept in the saved
            config.
        blend: the post-processing inference applies to this network's completions when none
            is asked (None: its paper's, `default_blend`); kept in the saved config, so a
            shipped model carries the blend it was measured with
            (`scripts/ship_default_model.py --blend`).

    Call: `{"image": float [B, H, W, 3] in [0, 1], "mask": float [B, H, W, 1], 1 = hole}` with
    H, W multiples of `size_multiple` and at most `max_side` -> float32 [B, H, W, 3] in [0, 1].
    """

    paper: int
    size_multiple: int
    default_blend = "none"

    def __init__(
        self,
        *,
        max_side: int | None = None,
        train_size: int | None = None,
        blend: str | None = None,
        **kwargs,
    ):
        kwargs.pop("autocast", None)
        super().__init__(autocast=False, **kwargs)
        self.max_side = None if max_side is None else int(max_side)
        self.train_size = None if train_size is None else int(train_size)
        if blend not in (None, *BLENDS):
            raise ValueError(
                f"{type(self).__name__} blend {blend!r}: expected one of {', '.join(BLENDS)} or None."
            )
        self.blend = blend

    def checked_inputs(self, inputs):
        """`(image, mask)` as float32 from the call's dict, their sides checked: in Python when
        the shapes are known, by graph assertions when they are not (an exported signature
        sees [None, None, None, 3]).

        Raises:
            ValueError: not such a dict, a wrong rank or channel count, or (known) sides that
                are not multiples of `size_multiple` or exceed `max_side`.
            tf.errors.InvalidArgumentError: the same size errors, found when the graph runs.
        """
        who = type(self).__name__
        if not isinstance(inputs, dict) or "image" not in inputs or "mask" not in inputs:
            raise ValueError(
                f"{who}: expected a dict with 'image' [B,H,W,3] and 'mask' [B,H,W,1], got "
                + type(inputs).__name__
                + (f" with keys {sorted(inputs)}" if isinstance(inputs, dict) else "")
            )
        image = tf.cast(inputs["image"], "float32")
        mask = tf.cast(inputs["mask"], "float32")
        for name, tensor, channels in (("image", image, 3), ("mask", mask, 1)):
            if tensor.shape.rank != 4 or tensor.shape[-1] not in (channels, None):
                raise ValueError(
                    f"{who}: '{name}' has shape {tuple(tensor.shape)}; expected [B,H,W,{channels}]"
                )
        height, width = image.shape[1], image.shape[2]
        if height is not None and width is not None:
            if height % self.size_multiple or width % self.size_multiple:
                raise ValueError(self._not_a_multiple(f"{height}x{width}"))
            if self.max_side is not None and max(height, width) > self.max_side:
                raise ValueError(self._too_large(f"a {height}x{width} image"))
            return image, mask
        side = tf.shape(image)[1:3]
        multiple = self._not_a_multiple("this input")
        checks = [tf.debugging.assert_equal(side % self.size_multiple, 0, message=multiple)]
        if self.max_side is not None:
            checks.append(
                tf.debugging.assert_less_equal(side, self.max_side, message=self._too_large("this input"))
            )
        with tf.control_dependencies(checks):
            return tf.identity(image), tf.identity(mask)

    def _not_a_multiple(self, size: str) -> str:
        return (
            f"{type(self).__name__}: image is {size}; its height and width must be multiples of "
            f"{self.size_multiple} (tfinpaint.inference reflect-pads to them)"
        )

    def _too_large(self, size: str) -> str:
        return (
            f"{type(self).__name__}: {size} is larger than max_side={self.max_side} "
            "(model.max_side), the largest side this network may run at: crop around the hole "
            "or resize first, as tfinpaint.inference's model inpainter does for large images"
        )

    def get_config(self):
        return {**base_config(self), "train_size": self.train_size, "blend": self.blend}
