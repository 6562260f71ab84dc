"""Guided patch synthesis: the hole re-made from real patches of the photo, chosen to follow a
model's fill (`blend="patches"`).

A network trained on pixel losses gets a hole's layout right (which colour goes where, where an
edge continues) and its texture wrong (a smooth, hazy average). PatchMatch gets texture right
(every pixel is copied from the photo) and the layout wrong. This keeps the network's layout and
copies the photo's texture: every hole pixel is the centre pixel of a known 7x7 patch of the
photo, the patch found by a PatchMatch search (Barnes et al. 2009) whose distance has two terms:

- **guide**: the blurred network fill around the target against the blurred photo around the
  source, so the copied patch has the fill's colours and structure at the scale the network
  gets right, while its fine detail is free;
- **coherence**: the current estimate's 7x7 patch against the source's (only the known pixels
  in the first iteration), so neighbouring copies agree and meet the known border (the
  expectation-maximisation of Wexler et al. 2007).

A copy is only as good as its match: where the photo holds no patch like the fill (a face's
eye, an edge seen nowhere else), the best match still differs from the guide at the blur's
scale, and copying it puts the wrong thing in. There the guide stays (`guide_tolerance`).

Numpy and OpenCV only (no TensorFlow): it runs after any inpainter. Seeded: the same inputs and
seed give the same pixels.

References:
    Barnes, Shechtman, Finkelstein, Goldman, "PatchMatch", SIGGRAPH 2009.
    Wexler, Shechtman, Irani, "Space-time completion of video", TPAMI 2007.
    Yang et al., "High-resolution image inpainting using multi-scale neural patch synthesis",
    CVPR 2017 (a network's content, a patch search's texture).
"""

from __future__ import annotations

import cv2
import numpy as np

PATCH = 7  # patch side; the texture metric's patches are 7x7 too
_RADIUS = PATCH // 2
_PAD = _RADIUS + 1
# Propagation jumps (pixels): a match travels 8 px in one step, so large holes fill quickly.
_JUMPS = (8, 4, 2, 1)
# Targets searched at once: bounds the search's arrays to ~30 MB whatever the hole's size.
_CHUNK = 16384
# The guide term's distance (mean over the blurred patch of the squared difference summed over
# RGB, in [0, 1] units) up to which a match is copied; the guide is kept from twice it. 0.003 is
# about 8 levels of 255 per channel. Measured on the default model's fills
# (docs/PAPER_COMPARISONS.md): the PSNR lost to copying falls by half to four fifths, 44-73 %
# of the texture gained stays.
GUIDE_TOLERANCE = 0.003


def _check(image, hole, guide) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    image = np.asarray(image)
    guide = np.asarray(guide)
    hole = np.asarray(hole)
    for name, arr in (("image", image), ("guide", guide)):
        if arr.ndim != 3 or arr.shape[-1] != 3 or not np.issubdtype(arr.dtype, np.floating):
            raise ValueError(
                f"patch synthesis {name}: expected float [H, W, 3] in [0, 1], got "
                f"{arr.dtype} {list(arr.shape)}."
            )
    if guide.shape != image.shape:
        raise ValueError(
            f"patch synthesis guide: shape {list(guide.shape)} does not match image {list(image.shape)}."
        )
    if hole.shape != image.shape[:2] or hole.dtype != bool:
        raise ValueError(
            f"patch synthesis hole: expected bool [H, W] = {list(image.shape[:2])}, got "
            f"{hole.dtype} {list(hole.shape)}."
        )
    return image.astype(np.float32), hole, guide.astype(np.float32)


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    # A square, not `maskops.dilate`'s round growth: a patch is a square footprint.
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


def _planes(image: np.ndarray) -> tuple[np.ndarray, ...]:
    """[H, W, 3] -> three flat channel planes: 1-D takes gather twice as fast as row indexing."""
    return tuple(np.ascontiguousarray(image[..., c]).ravel() for c in range(3))


class _Search:
    """The padded photo as flat channel planes, its sources and targets as flat indices."""

    def __init__(self, composite, hole, sigma):
        """`composite`: the photo outside `hole`, the guide inside it."""
        pad = ((_PAD, _PAD), (_PAD, _PAD), (0, 0))
        composite = np.pad(composite, pad, mode="reflect")
        self.hole = np.pad(hole, _PAD, constant_values=True)
        self.height, self.width = self.hole.shape
        inner = np.zeros_like(self.hole)
        inner[_PAD:-_PAD, _PAD:-_PAD] = True
        # Sources: patches wholly inside the known photo. Targets: the hole's pixels, each of
        # which takes its match's centre pixel.
        self.source_ok = (~_dilate(self.hole, _RADIUS) & inner).ravel()
        self.targets = np.flatnonzero(np.pad(hole, _PAD))
        self.sources = np.flatnonzero(self.source_ok)
        dy, dx = np.mgrid[-_RADIUS : _RADIUS + 1, -_RADIUS : _RADIUS + 1]
        self.offsets = (dy * self.width + dx).ravel()
        # The guide term samples every other pixel of the blurred patch: it is smooth there.
        self.coarse_offsets = (dy[::2, ::2] * self.width + dx[::2, ::2]).ravel()
        # Sources only ever read known pixels of the photo, so the composite serves as the photo.
        self.photo = _planes(composite)
        # Blurred once, from the composite: the hole's own pixels never reach a source's blur.
        self.blurred = _planes(cv2.GaussianBlur(composite, (0, 0), sigma))
        self.target_of = np.full(self.height * self.width, -1, np.int32)
        self.target_of[self.targets] = np.arange(self.targets.size, dtype=np.int32)

    @staticmethod
    def patches(planes, centres, offsets) -> tuple[np.ndarray, ...]:
        index = centres[:, None] + offsets[None, :]
        return tuple(np.take(plane, index) for plane in planes)

    def guide_patches(self, centres) -> tuple[np.ndarray, ...]:
        """The blurred patches the guide term compares."""
        return self.patches(self.blurred, centres, self.coarse_offsets)

    def guide_distance(self, sources, target_guide) -> np.ndarray:
        """The guide term: the `sources`' blurred patches against `target_guide`, the targets'
        `guide_patches`."""
        return _squared(self.guide_patches(sources), target_guide).mean(-1)

    def valid(self, candidates):
        inside = (candidates >= 0) & (candidates < self.source_ok.size)
        ok = inside.copy()
        ok[inside] = self.source_ok[candidates[inside]]
        return ok


def _squared(a, b) -> np.ndarray:
    total = 0.0
    for a_c, b_c in zip(a, b):
        diff = a_c - b_c
        total = total + diff * diff
    return total


class _Chunk:
    """A block of targets and their patch distance: the arrays of one block are [rows, 49], so
    memory follows the block size, not the hole's."""

    def __init__(self, search: _Search, rows: slice, estimate, known_only: bool):
        self.search = search
        self.rows = rows
        self.targets = search.targets[rows]
        self.guide = search.guide_patches(self.targets)
        self.current = search.patches(estimate, self.targets, search.offsets)
        # The first round's coherence weighs only the known pixels of each target patch.
        self.weight = None
        if known_only:
            known = ~search.hole.ravel()[self.targets[:, None] + search.offsets[None, :]]
            self.weight = (known / np.maximum(known.sum(-1, keepdims=True), 1)).astype(np.float32)

    def distance(self, sources, guide_weight) -> np.ndarray:
        """Per target: the guide term + the coherence term, for the candidate `sources`."""
        search = self.search
        per_pixel = _squared(search.patches(search.photo, sources, search.offsets), self.current)
        d_coherence = per_pixel.mean(-1) if self.weight is None else (per_pixel * self.weight).sum(-1)
        return guide_weight * search.guide_distance(sources, self.guide) + d_coherence


def _search_round(chunk: _Chunk, match, rng, guide_weight) -> None:
    """One PatchMatch round over `chunk`'s targets: propagation, then random search; improves
    `match` (all targets' source indices) in place."""
    search, rows, targets = chunk.search, chunk.rows, chunk.targets
    mine = match[rows]

    def improve(candidates, mine, best):
        candidates = np.where(search.valid(candidates), candidates, mine)
        cost = chunk.distance(candidates, guide_weight)
        better = cost < best
        return np.where(better, candidates, mine), np.where(better, cost, best)

    best = chunk.distance(mine, guide_weight)
    # Propagation: take a neighbour's match, shifted by the step to the neighbour.
    for jump in _JUMPS:
        for step in (jump * search.width, -jump * search.width, jump, -jump):
            neighbour = search.target_of[np.clip(targets - step, 0, search.target_of.size - 1)]
            candidates = np.where(neighbour >= 0, match[np.maximum(neighbour, 0)] + step, -1)
            mine, best = improve(candidates, mine, best)
            match[rows] = mine
    # Random search around the current match, in windows halving from the whole photo.
    radius = max(search.height, search.width)
    while radius >= 1:
        y = mine // search.width + rng.integers(-radius, radius + 1, mine.size)
        x = mine % search.width + rng.integers(-radius, radius + 1, mine.size)
        inside = (x >= 0) & (x < search.width)
        mine, best = improve(np.where(inside, y * search.width + x, -1), mine, best)
        radius //= 2
    match[rows] = mine


def guided_patch_fill(
    image,
    hole,
    guide,
    *,
    iterations: int = 3,
    sigma: float = 2.0,
    guide_weight: float = 1.0,
    guide_tolerance: float | None = GUIDE_TOLERANCE,
    seed: int = 0,
) -> np.ndarray:
    """Re-make `hole` from the photo's own 7x7 patches, following `guide`.

    Args:
        image: float [H, W, 3] in [0, 1], the photo (its hole pixels are never read).
        hole: bool [H, W], True = hole.
        guide: float [H, W, 3], a fill of the hole (e.g. a network's composite); read inside
            the hole only.
        iterations: search-and-copy rounds; the first matches the guide and the known border
            only, later ones also the previous round's copies.
        sigma: the blur (pixels) at which the guide must agree with the copied patches; detail
            finer than that comes from the photo.
        guide_weight: weight of the guide term against the coherence term.
        guide_tolerance: a hole pixel takes its copy where its match's guide distance (see
            `GUIDE_TOLERANCE`) is at most this, the guide from twice this, a mix between; None
            copies everywhere.
        seed: seed of the randomised search.

    Returns:
        float32 [H, W, 3]: the photo outside the hole; inside it, pixels copied from the
        photo's known region where a match fits the guide, the guide elsewhere. With no patch
        wholly outside the hole (a hole covering almost the whole photo) the guide is returned
        in the hole.
    """
    image, hole, guide = _check(image, hole, guide)
    if iterations < 1:
        raise ValueError(f"patch synthesis iterations: expected >= 1, got {iterations}.")
    if guide_tolerance is not None and not guide_tolerance > 0:
        raise ValueError(f"patch synthesis guide_tolerance: expected > 0 or None, got {guide_tolerance}.")
    out = np.where(hole[..., None], guide, image)
    if not hole.any():
        return out
    search = _Search(out, hole, sigma)
    if search.sources.size == 0:
        return out
    rng = np.random.default_rng(seed)
    match = search.sources[rng.integers(0, search.sources.size, search.targets.size)]
    estimate = [plane.copy() for plane in search.photo]
    blocks = [slice(start, start + _CHUNK) for start in range(0, search.targets.size, _CHUNK)]
    for iteration in range(iterations):
        for rows in blocks:
            _search_round(_Chunk(search, rows, estimate, known_only=iteration == 0), match, rng, guide_weight)
        # Copy: each hole pixel takes its match's centre pixel (no averaging, so no blur).
        for plane, photo in zip(estimate, search.photo):
            plane[search.targets] = photo[match]
    if guide_tolerance is not None:
        distance = np.concatenate(
            [
                search.guide_distance(match[rows], search.guide_patches(search.targets[rows]))
                for rows in blocks
            ]
        )
        copied = np.clip(2.0 - distance / guide_tolerance, 0.0, 1.0)
        # The padded composite holds the guide at the targets.
        for plane, photo in zip(estimate, search.photo):
            plane[search.targets] = copied * photo[match] + (1.0 - copied) * photo[search.targets]
    synthesised = np.stack(estimate, -1).reshape(search.height, search.width, 3)[_PAD:-_PAD, _PAD:-_PAD]
    return np.where(hole[..., None], synthesised, image).astype(np.float32)
