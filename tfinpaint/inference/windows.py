"""The size policy's TensorFlow ops (`tfinpaint.inference.sizing` says what they do and why).

`complete` and `complete_whole` run a network by a `SizePolicy` on a photo of any size;
`plan_windows` chooses the windows, `run_window` runs one batch of them. These ops are the one
implementation behind the Keras path, every exported SavedModel signature and the TFLite
files; they live apart from `SizePolicy` so that code which only needs the policy's numbers
(the command line, the classical fills) does not load TensorFlow.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from tfinpaint.convention import to_uint8_tf
from tfinpaint.inference.sizing import SizePolicy

# Hole regions are found on a grid of at most this many cells a side (cheap on any photo).
GRID_CELLS = 256
# Above this many hole regions, grouping them costs more than it saves: one group.
MAX_GROUPS = 64
# Labels spread one cell per step; a region this long (a spiral) is left split in pieces.
_MAX_LABEL_STEPS = 4096


def _resize(images, size, method: str):
    """`tf.image.resize` to `size` (float32 out), skipped when the static shape already matches
    (the fixed-size TFLite graph then has no resize op; at scale 1 both are identities)."""
    if isinstance(size, (tuple, list)) and tuple(images.shape[1:3]) == tuple(size):
        return tf.cast(images, tf.float32)
    return tf.image.resize(images, size, method=method)


def _size(images):
    """(height, width) of [B, H, W, C]: Python ints when static (the TFLite graph), else a tensor."""
    static = tuple(images.shape[1:3])
    return static if None not in static else tf.shape(images)[1:3]


def _reflect_pad(images, multiple: int):
    """Reflect-pad height and width at the bottom / right up to the next multiple."""
    height, width = _size(images)[0], _size(images)[1]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    return tf.pad(images, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], mode="REFLECT")


def run_window(run, image, hole, target, multiple: int):
    """Run the network on a batch of windows at `target` size; the output at the windows' size.

    Args:
        run: `{"image": float32 [B,h,w,3] in [0,1], "mask": float32 [B,h,w,1]} -> [B,h,w,3]`,
            h and w multiples of `multiple` (a generator's call, or paper 1's seeded sampler).
        image: uint8 [B, H, W, 3].
        hole: bool [B, H, W, 1].
        target: (height, width) the network sees before padding, each >= `multiple`.
        multiple: the network's size multiple.

    Returns:
        float32 [B, H, W, 3] in [0, 1]; only its hole pixels are meant to be used.
    """
    size = _size(image)
    mask = tf.cast(_resize(tf.cast(hole, tf.float32), target, "area") > 0.0, tf.float32)
    # The shrunken hole covers every cell a hole pixel fell in, so zeroing it removes every
    # trace of the hole's content from the network's input.
    small = _resize(image, target, "area") / 255.0 * (1.0 - mask)
    # The mask is mirrored with the image: a zero-padded mask would show the mirrored hole
    # (zeros) to the network as known pixels.
    out = run({"image": _reflect_pad(small, multiple), "mask": _reflect_pad(mask, multiple)})
    out = tf.cast(out, tf.float32)[:, : target[0], : target[1], :]
    return tf.clip_by_value(_resize(out, size, "bilinear"), 0.0, 1.0)


# ---------------------------------------------------------------------------------------------
# Planning: which windows, at which size, complete which hole pixels.
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Plan:
    """The windows of one image (tensors).

    Attributes:
        windows: int32 [G, 4], each (y0, y1, x0, x1), end exclusive.
        targets: int32 [G, 2], the (height, width) each window is run at before padding.
        cell_groups: int32 [h, w], the group of each grid cell with a hole pixel (-1: none).
        cell: int32 scalar, the grid cell's side in pixels.
    """

    windows: tf.Tensor
    targets: tf.Tensor
    cell_groups: tf.Tensor
    cell: tf.Tensor


def _ceil_div(a, b):
    return -(-a // b)


def _cell_map(hole, cell):
    """bool [H, W] -> bool [ceil(H / cell), ceil(W / cell)]: cells holding any hole pixel."""
    height, width = tf.shape(hole)[0], tf.shape(hole)[1]
    rows, cols = _ceil_div(height, cell), _ceil_div(width, cell)
    padded = tf.pad(hole, [[0, rows * cell - height], [0, cols * cell - width]])
    return tf.reduce_any(tf.reshape(padded, [rows, cell, cols, cell]), axis=[1, 3])


def cells_to_pixels(cell_values, cell, y0, y1, x0, x1):
    """The per-pixel values of the window [y0:y1, x0:x1] of a map of grid cells."""
    cy0, cx0 = y0 // cell, x0 // cell
    block = cell_values[cy0 : _ceil_div(y1, cell), cx0 : _ceil_div(x1, cell)]
    block = tf.repeat(tf.repeat(block, cell, axis=0), cell, axis=1)
    return block[y0 - cy0 * cell : y1 - cy0 * cell, x0 - cx0 * cell : x1 - cx0 * cell]


def _is_thin(cells, cell, radius: int):
    """True when eroding the hole's cells by `radius` pixels leaves nothing: no part of the hole
    is wider than 2 * radius (measured on the grid, so a little generously)."""
    steps = _ceil_div(radius, cell)
    hole = tf.cast(cells, tf.float32)[None, :, :, None]

    def erode(hole, step):
        return -tf.nn.max_pool2d(-hole, 3, 1, "SAME"), step + 1

    eroded, _ = tf.while_loop(lambda hole, step: step < steps, erode, [hole, tf.constant(0)])
    return ~tf.reduce_any(eroded > 0.0)


def _label_regions(cells):
    """int32 labels of the 8-connected regions of a bool map (0 off the regions).

    Every cell starts with its own number and takes the largest in its 3x3 neighbourhood until
    nothing changes; each label then covers one connected region.
    """
    shape = tf.shape(cells)
    numbers = tf.cast(tf.reshape(tf.range(1, shape[0] * shape[1] + 1), shape), tf.float32)
    labels = tf.where(cells, numbers, 0.0)

    def spread(labels, changed, step):
        grown = tf.nn.max_pool2d(labels[None, :, :, None], 3, 1, "SAME")[0, :, :, 0]
        grown = tf.where(cells, grown, 0.0)
        return grown, tf.reduce_any(grown != labels), step + 1

    labels, _, _ = tf.while_loop(
        lambda labels, changed, step: changed & (step < _MAX_LABEL_STEPS),
        spread,
        [labels, tf.constant(True), tf.constant(0)],
    )
    return tf.cast(labels, tf.int32)


def _region_boxes(hole, cell, cell_regions, count):
    """Exact pixel bounding boxes int32 [count, 4] of the hole pixels of each region."""
    height, width = tf.shape(hole)[0], tf.shape(hole)[1]

    def box(region):
        where = tf.where(tf.equal(cell_regions, region))
        y0 = tf.cast(tf.reduce_min(where[:, 0]), tf.int32) * cell
        y1 = tf.minimum((tf.cast(tf.reduce_max(where[:, 0]), tf.int32) + 1) * cell, height)
        x0 = tf.cast(tf.reduce_min(where[:, 1]), tf.int32) * cell
        x1 = tf.minimum((tf.cast(tf.reduce_max(where[:, 1]), tf.int32) + 1) * cell, width)
        pixels = hole[y0:y1, x0:x1] & tf.equal(cells_to_pixels(cell_regions, cell, y0, y1, x0, x1), region)
        rows = tf.cast(tf.where(tf.reduce_any(pixels, axis=1))[:, 0], tf.int32)
        cols = tf.cast(tf.where(tf.reduce_any(pixels, axis=0))[:, 0], tf.int32)
        return tf.stack([y0 + rows[0], y0 + rows[-1] + 1, x0 + cols[0], x0 + cols[-1] + 1])

    return tf.map_fn(box, tf.range(count), fn_output_signature=tf.TensorSpec([4], tf.int32))


def _merge_groups(boxes, side, policy: SizePolicy):
    """Greedily merge regions whose joint box fits a full-resolution window.

    The first pair (i < j, in region order) that fits is merged into i, then the search starts
    again, until no pair fits.

    Returns:
        (boxes int32 [n, 4] with merged boxes at the surviving rows, alive bool [n],
        owner int32 [n]: the surviving row each region was merged into).
    """
    count = tf.shape(boxes)[0]
    margin = 2 * (policy.context // 4)
    later = tf.linalg.band_part(tf.ones([count, count], tf.bool), 0, -1) & ~tf.eye(count, dtype=tf.bool)

    def step(boxes, alive, owner, merged):
        a, b = boxes[:, None, :], boxes[None, :, :]
        union = tf.stack(
            [
                tf.minimum(a[..., 0], b[..., 0]),
                tf.maximum(a[..., 1], b[..., 1]),
                tf.minimum(a[..., 2], b[..., 2]),
                tf.maximum(a[..., 3], b[..., 3]),
            ],
            axis=-1,
        )
        fits = (union[..., 1] - union[..., 0] + margin <= side) & (
            union[..., 3] - union[..., 2] + margin <= side
        )
        pairs = fits & later & alive[:, None] & alive[None, :]
        found = tf.reduce_any(pairs)
        first = tf.cast(tf.argmax(tf.cast(tf.reshape(pairs, [-1]), tf.int32)), tf.int32)
        i, j = first // count, first % count
        merged_boxes = tf.tensor_scatter_nd_update(boxes, [[i]], [union[i, j]])
        merged_alive = tf.tensor_scatter_nd_update(alive, [[j]], [False])
        merged_owner = tf.where(tf.equal(owner, j), i, owner)
        return (
            tf.where(found, merged_boxes, boxes),
            tf.where(found, merged_alive, alive),
            tf.where(found, merged_owner, owner),
            found,
        )

    boxes, alive, owner, _ = tf.while_loop(
        lambda boxes, alive, owner, merged: merged,
        step,
        [boxes, tf.ones([count], tf.bool), tf.range(count), count > 1],
    )
    return boxes, alive, owner


def _span(start, end, length, side, policy: SizePolicy):
    """A span of at most `side` pixels covering [start, end), centred on it, in [0, length)."""
    want = tf.minimum(tf.minimum(length, side), _ceil_div(end - start, policy.multiple) * policy.multiple)
    lo = tf.minimum(tf.maximum((start + end) // 2 - want // 2, 0), length - want)
    return lo, lo + want


def _windows(boxes, height, width, whole, side, policy: SizePolicy):
    """(windows int32 [G, 4], targets int32 [G, 2]) for group boxes int32 [G, 4]."""
    context, multiple = policy.context, policy.multiple
    y0, y1, x0, x1 = tf.unstack(boxes, num=4, axis=1)
    margin = 2 * (context // 4)
    full = (y1 - y0 + margin <= side) & (x1 - x0 + margin <= side)
    fy0, fy1 = _span(y0 - context, y1 + context, height, side, policy)
    fx0, fx1 = _span(x0 - context, x1 + context, width, side, policy)
    sy0, sy1 = tf.maximum(y0 - context, 0), tf.minimum(y1 + context, height)
    sx0, sx1 = tf.maximum(x0 - context, 0), tf.minimum(x1 + context, width)
    zero = tf.zeros_like(y0)
    image_box = tf.stack([zero, zero + height, zero, zero + width], 1)
    windows = tf.where(
        whole,
        image_box,
        tf.where(full[:, None], tf.stack([fy0, fy1, fx0, fx1], 1), tf.stack([sy0, sy1, sx0, sx1], 1)),
    )
    h, w = windows[:, 1] - windows[:, 0], windows[:, 3] - windows[:, 2]
    longest = tf.maximum(h, w)
    shrink = ~whole & ~full
    targets = tf.stack(
        [
            tf.maximum(multiple, tf.where(shrink, h * side // longest, h)),
            tf.maximum(multiple, tf.where(shrink, w * side // longest, w)),
        ],
        axis=1,
    )
    return windows, targets


def plan_windows(hole, policy: SizePolicy) -> Plan:
    """The windows that complete the holes of one image (the module docstring's steps 2-4).

    Args:
        hole: bool [H, W], True = hole.
        policy: the size policy.

    Returns:
        A `Plan`; no windows when the hole is empty.
    """
    height, width = tf.shape(hole)[0], tf.shape(hole)[1]
    cell = tf.maximum(1, _ceil_div(tf.maximum(height, width), GRID_CELLS))
    cells = _cell_map(hole, cell)
    side = tf.constant(policy.window_side)
    if policy.thin_side > policy.window_side:
        side = tf.where(_is_thin(cells, cell, policy.thin_radius), policy.thin_side, side)
    whole = tf.maximum(height, width) <= side
    where = tf.where(cells)
    # An image run whole is one group: its regions are not needed.
    labels = tf.cond(whole, lambda: tf.cast(cells, tf.int32), lambda: _label_regions(cells))
    labels, regions = tf.unique(tf.gather_nd(labels, where))
    count = tf.size(labels)
    single = whole | (count > MAX_GROUPS)
    regions = tf.where(single, tf.zeros_like(regions), regions)
    count = tf.where(single, tf.minimum(count, 1), count)
    cell_regions = tf.tensor_scatter_nd_update(tf.fill(tf.shape(cells), -1), where, regions)
    boxes, alive, owner = _merge_groups(_region_boxes(hole, cell, cell_regions, count), side, policy)
    # Surviving rows, renumbered 0..G-1 in order.
    group_of_row = tf.cumsum(tf.cast(alive, tf.int32)) - 1
    # Row `count` stands for "no region" (-1), so the gather is valid without any region.
    group_of_region = tf.concat([tf.gather(group_of_row, owner), [-1]], axis=0)
    cell_groups = tf.gather(group_of_region, tf.where(cell_regions >= 0, cell_regions, count))
    windows, targets = _windows(tf.boolean_mask(boxes, alive), height, width, whole, side, policy)
    return Plan(windows, targets, cell_groups, cell)


def complete(image, hole, run, policy: SizePolicy):
    """Complete the hole of one image by the policy.

    Args:
        image: uint8 [H, W, 3].
        hole: bool [H, W], True = hole.
        run: the network, as `run_window` takes it.
        policy: the size policy.

    Returns:
        uint8 [H, W, 3]: the input outside the hole, byte for byte; an empty hole runs nothing.
    """
    image = tf.where(hole[..., None], tf.zeros_like(image), image)
    plan = plan_windows(hole, policy)

    def fill(group, completed):
        y0, y1, x0, x1 = tf.unstack(plan.windows[group])
        window_hole = hole[y0:y1, x0:x1]
        out = run_window(
            run,
            image[None, y0:y1, x0:x1],
            window_hole[None, :, :, None],
            plan.targets[group],
            policy.multiple,
        )[0]
        mine = window_hole & tf.equal(cells_to_pixels(plan.cell_groups, plan.cell, y0, y1, x0, x1), group)
        patch = tf.where(mine[..., None], to_uint8_tf(out), completed[y0:y1, x0:x1])
        completed = tf.raw_ops.TensorStridedSliceUpdate(
            input=completed, begin=[y0, x0, 0], end=[y1, x1, 3], strides=[1, 1, 1], value=patch
        )
        return group + 1, completed

    _, completed = tf.while_loop(
        lambda group, completed: group < tf.shape(plan.windows)[0], fill, [tf.constant(0), image]
    )
    return completed


def complete_whole(images, holes, run, policy: SizePolicy):
    """`complete` for a batch of images no larger than the window side, in one network run.

    Args:
        images: uint8 [B, H, W, 3] with max(H, W) <= `policy.window_side`.
        holes: bool [B, H, W].

    Returns:
        uint8 [B, H, W, 3], equal to `complete` of each image.
    """
    shape = tf.shape(images)
    target = tf.maximum(policy.multiple, shape[1:3])
    out = run_window(run, images, holes[..., None], target, policy.multiple)
    return tf.where(holes[..., None], to_uint8_tf(out), images)
