"""Hole masks for inpainting (1 = hole), seeded and reproducible, cheap enough for `tf.data`.

A mask generator works in two stages so the pipeline stays fast and stateless:

1. `num_params` uniform numbers per example. The pipeline (`tfinpaint.data.datasets`) draws
   them in the same `tf.random.stateless_uniform` call as the crop and flip numbers, keyed by
   `(pipeline seed, key)` (the key is the example's index in evaluation, its position in the
   stream in training): the same key gives the same mask on every machine.
2. `render(params, index)` - params [P] (and the example's global index, for paired mask
   files) -> one float32 mask [S, S, 1], per element inside the pipeline's parallel map.
   Per-element `tf.cond`s only run the branch taken; batched `tf.where`s over whole masks
   were slower.

`params(seed)` and `sample(keys, seed)` draw masks outside a pipeline (tests, previews): as
seeded and reproducible, but from a draw of their own, so they do not reproduce the masks a
pipeline gives the same keys.

Free-form strokes are drawn once, with OpenCV, into a seeded bank (rasterising strokes in
TF ops per example was far too slow); the pipeline only gathers from the bank and applies
one of the 8 flips/rotations of the square, so each bank entry gives 8 distinct masks.

Mask files are `tfinpaint.data.mask_files`; mask strings are read by
`tfinpaint.data.mask_specs.make_mask_generator`:
`center`, `random_rect`, `free_form`, `objects`, `files:DIR_OR_LIST` (random pick),
`files-paired:DIR_OR_LIST` (mask named like the image), `mixed`
(= `mixed:free_form=0.5,random_rect=0.3,center=0.2`), or `mixed:NAME=W,...` where a NAME may
also be `files:DIR`. `files:DIR@train` / `files:DIR@test` take the hash-chosen 4/5 / 1/5 of
the folder's masks (by relative path, the rule that splits images), so a model can be trained
on one part of a mask set and scored on masks it never saw. A relative DIR is read from the
data root when one is given (`data.root`), else from the working directory.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import tensorflow as tf

from tfinpaint.data.errors import DataError

HOLE_RATIO_BUCKETS = ("0-10%", "10-20%", "20-30%", "30-40%", "40-50%", "50-60%", ">60%")


class MaskError(DataError):
    """A mask specification or mask file that cannot be used."""


def hole_ratio_bucket(ratio: float) -> str:
    """The hole-ratio bucket label (one of `HOLE_RATIO_BUCKETS`) of a hole share in [0, 1].

    Buckets are 10 % wide and closed below: 0.1 -> "10-20%", 0.25 -> "20-30%"; 0.6 and above
    -> ">60%" (NVIDIA's irregular-mask test set groups its masks the same way).
    """
    ratio = float(ratio)
    if not 0.0 <= ratio <= 1.0 or math.isnan(ratio):
        raise ValueError(f"hole ratio {ratio}: expected a share of the image in [0, 1]")
    # The epsilon keeps 0.3 computed as 0.29999999 in the 30-40% bucket.
    return HOLE_RATIO_BUCKETS[min(int(ratio * 10 + 1e-6), len(HOLE_RATIO_BUCKETS) - 1)]


def hole_ratio(masks) -> np.ndarray:
    """Per-example hole share of masks [B, H, W, 1] (or [H, W, 1]) with 1 = hole -> [B] floats."""
    masks = np.asarray(masks, dtype=np.float32)
    if masks.ndim == 3:
        masks = masks[None]
    return masks.reshape(masks.shape[0], -1).mean(axis=1)


class MaskGenerator:
    """Base class: `params(seed)` then `render(params, index)`, both per example.

    Args:
        image_size: side S of the square masks.

    Subclasses set `num_params` and implement `render`.
    """

    num_params = 0

    def __init__(self, image_size: int):
        if int(image_size) < 4:
            raise MaskError(f"image_size={image_size}: expected at least 4 pixels")
        self.image_size = int(image_size)

    def params(self, seed: tf.Tensor) -> tf.Tensor:
        """[max(num_params, 1)] uniform numbers in [0, 1); `seed` is an int64 [2] tensor (`sample`'s
        draw; the pipeline draws its own)."""
        return tf.random.stateless_uniform([max(self.num_params, 1)], seed=seed)

    def render(self, params: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError

    def sample(self, keys, seed: int = 0) -> tf.Tensor:
        """Masks [B, S, S, 1] float32 for example keys [B], each seeded by (seed, key).

        Reproducible, but not the pipeline's masks for the same keys: the pipeline draws the
        params together with its crop and flip numbers (see the module docstring)."""
        keys = tf.cast(tf.convert_to_tensor(keys), tf.int64)

        def one(key):
            return self.render(self.params(tf.stack([tf.constant(seed, tf.int64), key])), key)

        return tf.map_fn(one, keys, fn_output_signature=tf.float32)


class CenterMasks(MaskGenerator):
    """The central square hole of paper 2: side `hole_fraction` x S (1/2 -> 1/4 of the area).

    Args:
        image_size: side S of the masks.
        hole_fraction: hole side as a fraction of S, in (0, 1).
    """

    def __init__(self, image_size: int, hole_fraction: float = 0.5):
        super().__init__(image_size)
        if not 0.0 < hole_fraction < 1.0:
            raise MaskError(f"hole_fraction={hole_fraction}: expected a value in (0, 1)")
        self.hole_fraction = float(hole_fraction)
        side = max(1, round(self.image_size * self.hole_fraction))
        start = (self.image_size - side) // 2
        mask = np.zeros((self.image_size, self.image_size, 1), np.float32)
        mask[start : start + side, start : start + side] = 1.0
        self._mask = mask

    def render(self, params, index):
        return tf.constant(self._mask)


class RandomRectMasks(MaskGenerator):
    """GLCIC-like rectangular holes: `count_range` rectangles, each side a random share of S.

    Args:
        image_size: side S of the masks.
        count_range: (min, max) number of rectangles, inclusive.
        side_range: (min, max) rectangle side as a fraction of S (height and width drawn
            independently); GLCIC trains with one hole of 96-128 px on 256 px, (0.375, 0.5).
    """

    def __init__(self, image_size: int, count_range=(1, 3), side_range=(0.2, 0.5)):
        super().__init__(image_size)
        lo, hi = (int(v) for v in count_range)
        if not 1 <= lo <= hi:
            raise MaskError(f"random_rect count_range={count_range}: expected 1 <= min <= max")
        smin, smax = (float(v) for v in side_range)
        if not 0.0 < smin <= smax <= 1.0:
            raise MaskError(f"random_rect side_range={side_range}: expected 0 < min <= max <= 1")
        self.count_range, self.side_range = (lo, hi), (smin, smax)
        # Per rectangle: height, width, top, left; plus one number for the count.
        self.num_params = 1 + 4 * hi

    def render(self, params, index):
        s = float(self.image_size)
        lo, hi = self.count_range
        smin, smax = self.side_range
        count = lo + tf.cast(tf.floor(params[0] * (hi - lo + 1)), tf.int32)
        rect = tf.reshape(params[1:], [hi, 4])
        height = tf.round((smin + rect[:, 0] * (smax - smin)) * s)
        width = tf.round((smin + rect[:, 1] * (smax - smin)) * s)
        top = tf.floor(rect[:, 2] * (s - height + 1))
        left = tf.floor(rect[:, 3] * (s - width + 1))
        grid = tf.range(s)[None, :]
        active = (tf.range(hi) < count)[:, None]
        rows = (grid >= top[:, None]) & (grid < (top + height)[:, None]) & active  # [hi, S]
        cols = (grid >= left[:, None]) & (grid < (left + width)[:, None])
        # A pixel is a hole when any rectangle covers both its row and its column.
        hole = tf.reduce_any(rows[:, :, None] & cols[:, None, :], axis=0)
        return tf.cast(hole, tf.float32)[..., None]


class _BankMasks(MaskGenerator):
    """Masks gathered from a fixed bank [K, s, s] (1 = hole), resized nearest to S.

    The bank lives in the pipeline's graph as a constant, bit-packed (8 pixels a byte): a
    uint8 bank of 1024 masks at 256 px took ten times longer to build and start the pipeline.
    """

    def __init__(self, image_size: int, bank: np.ndarray, dihedral: bool):
        super().__init__(image_size)
        if bank.ndim != 3 or bank.shape[0] == 0:
            raise MaskError(f"mask bank of shape {bank.shape}: expected [K, H, W] with K >= 1")
        self._count, self._side = bank.shape[0], bank.shape[1:]
        self._packed = np.packbits(bank.astype(bool), axis=2)
        self.dihedral = dihedral and bank.shape[1] == bank.shape[2]
        self.num_params = 4 if dihedral else 1

    def bank(self) -> np.ndarray:
        """The bank as uint8 [K, s, s] with 1 = hole."""
        return np.unpackbits(self._packed, axis=2, count=self._side[1])

    def _pick(self, params, index):
        return tf.minimum(tf.cast(params[0] * self._count, tf.int32), self._count - 1)

    def render(self, params, index):
        packed = tf.gather(tf.constant(self._packed), self._pick(params, index))  # [s, ceil(s/8)]
        bits = tf.bitwise.bitwise_and(packed[..., None], tf.constant([128, 64, 32, 16, 8, 4, 2, 1], tf.uint8))
        mask = tf.reshape(tf.cast(bits > 0, tf.float32), [self._side[0], -1])[:, : self._side[1]]
        if self.dihedral:
            mask = tf.cond(params[1] < 0.5, lambda: tf.reverse(mask, [1]), lambda: mask)
            mask = tf.cond(params[2] < 0.5, lambda: tf.reverse(mask, [0]), lambda: mask)
            mask = tf.cond(params[3] < 0.5, lambda: tf.transpose(mask), lambda: mask)
        mask = mask[..., None]
        if self._side != (self.image_size, self.image_size):
            mask = tf.image.resize(mask, [self.image_size, self.image_size], method="nearest")
        return mask


class FreeFormMasks(_BankMasks):
    """DeepFill v2-style free-form brush strokes, sampled from a seeded bank drawn once.

    Each mask has 1..`max_strokes` strokes; a stroke is a polyline of `vertex_range` vertices
    whose segments have random lengths (normal around 1/8 of the diagonal) and angles near
    `mean_angle`, drawn with round joints of width `width_range` (given for a 512 px image and
    scaled to S). Masks whose hole share falls outside `ratio_range` are redrawn.

    Args:
        image_size: side S of the masks.
        bank_size: masks drawn into the bank (x8 with the flips/rotations applied on sampling).
        bank_seed: seed of the bank; the pipeline's seed picks from it.
        max_strokes, vertex_range, width_range, mean_angle, angle_range: stroke shape.
        ratio_range: (min, max) hole share kept in the bank.

    Reference:
        Yu et al., "Free-Form Image Inpainting with Gated Convolution", ICCV 2019 (DeepFill v2).
    """

    def __init__(
        self,
        image_size: int,
        bank_size: int = 1024,
        bank_seed: int = 0,
        max_strokes: int = 4,
        vertex_range=(4, 12),
        width_range=(12, 40),
        mean_angle: float = 2 * math.pi / 5,
        angle_range: float = 2 * math.pi / 15,
        ratio_range=(0.05, 0.6),
    ):
        self.bank_size, self.bank_seed, self.max_strokes = int(bank_size), int(bank_seed), int(max_strokes)
        self.vertex_range, self.width_range = tuple(vertex_range), tuple(width_range)
        self.mean_angle, self.angle_range, self.ratio_range = mean_angle, angle_range, tuple(ratio_range)
        if self.bank_size < 1 or self.max_strokes < 1:
            raise MaskError(f"free_form bank_size={bank_size}, max_strokes={max_strokes}: expected >= 1")
        # Banks are stored at <= 256 px (1024 masks = 64 MB there) and upsampled nearest.
        side = min(int(image_size), 256)
        bank = _free_form_bank(
            side,
            self.bank_size,
            self.bank_seed,
            self.max_strokes,
            self.vertex_range,
            self.width_range,
            self.mean_angle,
            self.angle_range,
            self.ratio_range,
        )
        super().__init__(image_size, bank, dihedral=True)


class ObjectMasks(_BankMasks):
    """Object-removal holes: 1-2 object silhouettes a mask, each a body and a few limbs
    (ellipses), grown by a margin as a user's selection of an object is, sampled from a seeded
    bank drawn once.

    Each object spans `size_range` of S at a random place and angle; masks whose hole share falls
    outside `ratio_range` are redrawn. The bank is drawn at up to 512 px (a silhouette's outline
    stays smooth on photos of 1,000 px and more) and upsampled nearest.

    Args:
        image_size: side S of the masks.
        bank_size: masks drawn into the bank (x8 with the flips/rotations applied on sampling).
        bank_seed: seed of the bank; the pipeline's seed picks from it.
        count_range: (min, max) objects a mask, inclusive.
        size_range: (min, max) object size as a fraction of S.
        ratio_range: (min, max) hole share kept in the bank.
    """

    def __init__(
        self,
        image_size: int,
        bank_size: int = 256,
        bank_seed: int = 0,
        count_range=(1, 2),
        size_range=(0.12, 0.35),
        ratio_range=(0.03, 0.3),
    ):
        self.bank_size, self.bank_seed = int(bank_size), int(bank_seed)
        self.count_range, self.size_range = tuple(count_range), tuple(size_range)
        self.ratio_range = tuple(ratio_range)
        if self.bank_size < 1 or not 1 <= self.count_range[0] <= self.count_range[1]:
            raise MaskError(
                f"objects bank_size={bank_size}, count_range={count_range}: expected bank_size >= 1 "
                "and 1 <= min <= max"
            )
        for name, (lo, hi) in (("size_range", self.size_range), ("ratio_range", self.ratio_range)):
            if not 0.0 < lo <= hi <= 1.0:
                raise MaskError(f"objects {name}=({lo}, {hi}): expected 0 < min <= max <= 1")
        side = min(int(image_size), 512)
        bank = _object_bank(
            side, self.bank_size, self.bank_seed, self.count_range, self.size_range, self.ratio_range
        )
        super().__init__(image_size, bank, dihedral=True)


@functools.lru_cache(maxsize=4)
def _object_bank(side, count, seed, count_range, size_range, ratio_range) -> np.ndarray:
    import cv2

    rng = np.random.RandomState(seed)
    margin = max(1, round(side / 128))
    grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    bank = np.zeros((count, side, side), np.uint8)
    i = 0
    while i < count:
        mask = np.zeros((side, side), np.uint8)
        for _ in range(rng.randint(count_range[0], count_range[1] + 1)):
            size = rng.uniform(*size_range) * side
            cx, cy = rng.uniform(0.2, 0.8, size=2) * side
            angle = rng.uniform(0, 180)
            # The body, then 1-4 limbs around it.
            parts = [(cx, cy, size * rng.uniform(0.35, 0.6), size * rng.uniform(0.2, 0.4))]
            for _ in range(rng.randint(1, 5)):
                t, r = rng.uniform(0, 2 * math.pi), size * rng.uniform(0.2, 0.5)
                parts.append(
                    (
                        cx + r * math.cos(t),
                        cy + r * math.sin(t),
                        size * rng.uniform(0.08, 0.3),
                        size * rng.uniform(0.05, 0.15),
                    )
                )
            for x, y, a, b in parts:
                axes = (max(1, int(a)), max(1, int(b)))
                cv2.ellipse(mask, (int(x), int(y)), axes, angle + rng.uniform(-60, 60), 0, 360, 1, -1)
        mask = cv2.dilate(mask, grow)
        if ratio_range[0] <= mask.mean() <= ratio_range[1]:
            bank[i] = mask
            i += 1
    return bank


@functools.lru_cache(maxsize=4)
def _free_form_bank(
    side, count, seed, max_strokes, vertex_range, width_range, mean_angle, angle_range, ratio_range
) -> np.ndarray:
    import cv2

    rng = np.random.RandomState(seed)
    scale = side / 512.0
    radius = math.hypot(side, side) / 8
    bank = np.zeros((count, side, side), np.uint8)
    i = 0
    while i < count:
        mask = np.zeros((side, side), np.uint8)
        for _ in range(rng.randint(1, max_strokes + 1)):
            vertices = rng.randint(vertex_range[0], vertex_range[1] + 1)
            width = max(1, int(round(rng.uniform(*width_range) * scale)))
            lo = mean_angle - rng.uniform(0, angle_range)
            hi = mean_angle + rng.uniform(0, angle_range)
            x, y = rng.randint(0, side), rng.randint(0, side)
            for v in range(vertices):
                angle = rng.uniform(lo, hi)
                angle = 2 * math.pi - angle if v % 2 == 0 else angle
                length = np.clip(rng.normal(radius, radius / 2), 0, 2 * radius)
                nx = int(np.clip(x + length * math.cos(angle), 0, side - 1))
                ny = int(np.clip(y + length * math.sin(angle), 0, side - 1))
                cv2.line(mask, (x, y), (nx, ny), 1, width)
                cv2.circle(mask, (nx, ny), width // 2, 1, -1)
                x, y = nx, ny
        if ratio_range[0] <= mask.mean() <= ratio_range[1]:
            bank[i] = mask
            i += 1
    return bank
