"""The size policy: how a network completes the holes of a photo of any size.

Its numbers are `SizePolicy` (here, no TensorFlow); its ops, `tfinpaint.inference.windows`, are
the one implementation behind every path — the Keras generator in Python (`tfinpaint.inference`),
every exported SavedModel signature and the TFLite files (`tfinpaint.export`) — so `tfinpaint
inpaint`, `tfinpaint evaluate`, TF Serving and `tfinpaint serve` give the same pixels:

1. The network runs on windows of at most `window_side` pixels: the smallest of `max_side`,
   the network's own limit (paper 1's attention memory) and the side it was trained at (a
   network trained on 64-pixel crops turns a 512-pixel photo's hole into noise; at its
   training scale it sees what it learned from), rounded down to its size multiple.
2. An image no larger than that is run whole.
3. Otherwise the holes are grouped: connected hole regions (found on a grid of at most 256
   cells a side, so holes less than a cell apart count as one) whose joint bounding box still
   fits a window are merged, so two nearby scratches cost one network run while holes at
   opposite corners get windows of their own; above 64 regions, all holes form one group.
4. A hole with no part wider than half the training side (thin strokes, scratches, text) is
   completed at full resolution in windows of up to `native_side` pixels instead: what the
   network fills there is local, and shrinking the photo to the training scale would only blur
   the fill (measured on irregular masks at 256 px with a 128-px model: +0.5 dB). Wider holes
   keep the training scale, where the network saw holes that wide.
5. A group is completed at full resolution in a window of up to the side chosen above, centred
   on it, with up to `context` pixels of surroundings, as long as a quarter of the context
   fits; a larger group in its bounding box plus `context`, shrunk to `window_side` (area
   averaging; a shrunken cell holding any hole pixel is a hole, so no speck is lost).
6. Windows are reflect-padded to the size multiple, run, cropped, scaled back (bilinear), and
   only the group's own hole pixels are pasted, rounded to bytes: every pixel outside the hole
   is the input's. The hole's pixels are zeroed first: nothing the hole held reaches the output.
"""

from __future__ import annotations

import dataclasses

DEFAULT_MAX_SIDE = 1024
DEFAULT_CONTEXT = 128


@dataclasses.dataclass(frozen=True)
class SizePolicy:
    """The numbers behind the policy of the module docstring.

    Attributes:
        multiple: the network needs H and W divisible by this (inputs are reflect-padded).
        window_side: the largest side the network runs at, a multiple of `multiple`.
        context: pixels of surroundings wanted on each side of a hole in a window.
        native_side: the largest side thin holes are completed at, unscaled (None = window_side).
    """

    multiple: int
    window_side: int
    context: int = DEFAULT_CONTEXT
    native_side: int | None = None

    @property
    def thin_radius(self) -> int:
        """Holes whose every part is at most twice this wide count as thin (half the training
        side in all: the widest holes the training masks put in a crop)."""
        return self.window_side // 4

    @property
    def thin_side(self) -> int:
        return max(self.window_side, self.native_side or self.window_side)

    def __post_init__(self):
        if self.multiple < 1 or self.window_side < self.multiple or self.window_side % self.multiple:
            raise ValueError(
                f"window side {self.window_side}: expected a positive multiple of the network's size "
                f"multiple {self.multiple}."
            )
        if self.context < 0:
            raise ValueError(f"context {self.context}: expected pixels >= 0.")

    @classmethod
    def for_generator(
        cls,
        generator,
        max_side: int = DEFAULT_MAX_SIDE,
        context: int = DEFAULT_CONTEXT,
        train_size: int | None = None,
    ) -> SizePolicy:
        """The policy of an inference generator (`tfinpaint.models.generator.InpaintingGenerator`):
        its size multiple, own side limit and training size.

        Args:
            generator: the generator.
            max_side, context: see `for_network`.
            train_size: the side it was trained at, when not its own `train_size`.
        """
        return cls.for_network(
            generator.size_multiple,
            generator.max_side,
            train_size or generator.train_size,
            max_side=max_side,
            context=context,
        )

    @classmethod
    def for_network(
        cls,
        multiple: int = 1,
        network_max_side: int | None = None,
        train_size: int | None = None,
        max_side: int = DEFAULT_MAX_SIDE,
        context: int = DEFAULT_CONTEXT,
    ) -> SizePolicy:
        """The policy of a network with this size multiple, own side limit and training size.

        Args:
            multiple: the network's size multiple.
            network_max_side: the largest side the network may ever see (paper 1), or None.
            train_size: the image side it was trained at, or None when unknown.
            max_side: the largest window side wanted (memory, speed).
            context: see the class.
        """
        multiple = int(multiple or 1)
        if max_side < multiple:
            raise ValueError(f"max_side {max_side}: expected at least the model's size multiple {multiple}.")
        cap = min(int(side) for side in (max_side, network_max_side, train_size) if side)
        native = min(int(side) for side in (max_side, network_max_side) if side)
        return cls(
            multiple,
            max(multiple, cap // multiple * multiple),
            int(context),
            max(multiple, native // multiple * multiple),
        )
