"""Image sources -> `tf.data` batches `{"image", "mask", "index"}` for training and evaluation.

Sources (`source=`):
- a folder, searched recursively for jpg/jpeg/png/bmp/gif/webp (any letter case); other files
  (`.DS_Store`, `Thumbs.db`, notes) are reported as skipped;
- a text file list, one image a line, optionally followed by a number: Places2's
  `places365_train_standard.txt` (`/a/abbey/00000000.jpg 0`, the number is a class label and
  is ignored) or CelebA's `list_eval_partition.txt` (`000001.jpg 0`, the number is the
  official partition 0/1/2 = train/val/test, used as the split). Paths are relative to `root`
  (default: the list's folder; a leading `/` is ignored), unless they are absolute and exist;
- a glob (`photos/**/*.jpg`), or a Python list of paths;
- TFRecord files (`*.tfrecord`, `*.tfrecords`, `*.tfrec`; a file, a glob or a list): one
  `tf.train.Example` per image, the encoded image in the bytes feature `image/encoded`
  (the TF Object Detection API / TFDS name);
- `None`: the bundled demo images (`demo_data_dir()`).

Splits: `train` / `val` / `test` by a FarmHash fingerprint of the path relative to the source
root (`tf.strings.to_hash_bucket_fast`, stable across machines and runs; TFRecords:
`<file name>:<record number>`): `split_ratio` of the files in `train`, the rest in halves
(`VAL_FRACTION`) in `val` (scored while a run trains) and `test` (scored at its end);
CelebA-style partition lists give their own (train = 0, val = 1, test = 2); `all` keeps all.

Every example has a global `index`: its position in the sorted list of the whole source
(TFRecords: the record's position over the sorted files), whatever the split or shard.
Randomness is stateless: crop, flip and mask are drawn by `tf.random.stateless_uniform`
keyed by `(seed, position in the stream)` in training and `(seed, index)` in evaluation, and
training order is a per-epoch `tf.random.experimental.index_shuffle` of the file list, so
`tf.train.Checkpoint(iterator=iter(ds))` resumes mid-epoch exactly.

Unreadable files never stop a run: decoding errors and images whose shorter side is below
`image_size` are dropped in the pipeline (`Dataset.ignore_errors`); `check_source` lists them
with a reason (a run checks the headers of every file at its start and names the bad ones).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfinpaint.data.errors import DataError
from tfinpaint.data.mask_files import FileMasks
from tfinpaint.data.mask_specs import make_mask_generator
from tfinpaint.data.masks import MaskError
from tfinpaint.data.sources import (
    IMAGE_FEATURE,
    Source,
    check_split_args,
    decode_image,
    resolve_source,
    split_files,
)
from tfinpaint.data.splits import in_split

_TFRECORD_SHUFFLE_BUFFER = 1024


def _fit(image, image_size: int, offsets, name, upscale_small: bool = False):
    """Resize the shorter side to `image_size` and crop a square.

    `offsets` in [0, 1]^2 places the crop (0.5, 0.5 = centre). Images whose shorter side is
    below `image_size` are upscaled when `upscale_small`; otherwise they raise, and the
    pipeline's `ignore_errors` drops them.
    """
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    short = tf.minimum(h, w)
    if not upscale_small:
        tf.debugging.Assert(
            short >= image_size, ["image too small to crop:", name, h, w, "needs", image_size]
        )

    def resized():
        scale = image_size / tf.cast(short, tf.float32)
        size = tf.maximum(
            tf.cast(tf.round(tf.cast(tf.stack([h, w]), tf.float32) * scale), tf.int32), image_size
        )
        out = tf.image.resize(image, size, antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(out), 0, 255), tf.uint8)

    image = tf.cond(short != image_size, resized, lambda: image)
    shape = tf.shape(image)
    top = tf.cast(tf.floor(offsets[0] * tf.cast(shape[0] - image_size, tf.float32) + 0.5), tf.int32)
    left = tf.cast(tf.floor(offsets[1] * tf.cast(shape[1] - image_size, tf.float32) + 0.5), tf.int32)
    return tf.slice(image, [top, left, 0], [image_size, image_size, 3])


def _turn_hue(image, hue):
    """A float [0, 1] image with its hue turned by `hue` (in turns, -1..1); the image itself,
    bit for bit, when `hue` is 0 (HSV and back would round)."""

    def turned():
        return tf.clip_by_value(tf.image.adjust_hue(image, hue), 0.0, 1.0)

    return tf.cond(tf.not_equal(hue, 0.0), turned, lambda: image)


def build_dataset(
    source=None,
    *,
    image_size: int = 256,
    batch_size: int = 8,
    split: str = "train",
    split_ratio: float = 0.8,
    masks="center",
    hole_fraction: float = 0.5,
    seed: int = 0,
    training: bool = True,
    num_shards: int = 1,
    shard_index: int = 0,
    root: str | None = None,
    upscale_small: bool = False,
    hue_jitter: float = 0.0,
) -> tf.data.Dataset:
    """A `tf.data.Dataset` of batches `{"image", "mask", "index"}` (see the module docstring).

    Args:
        source: folder, file list, glob, list of paths, TFRecord file(s) or None (demo images).
        image_size: side S of the square crops.
        batch_size: this worker's batch (the global batch divided by the workers).
        split: "train", "val", "test" or "all".
        split_ratio: share of files in "train" (hash split).
        masks: mask string (`tfinpaint.data.masks`) or a `MaskGenerator`.
        hole_fraction: side of the `center` hole as a fraction of S.
        seed: seeds order, crops, flips and masks (all stateless).
        training: True = infinite, shuffled per epoch, random crop + flip, whole batches only;
            False = one pass in index order, centre crop, masks keyed by (seed, index).
        num_shards, shard_index: this worker's share of the stream (multi-worker training);
            the file stream is sharded before any decoding.
        root: folder that a file list's paths (and relative `files:` mask folders) are
            relative to.
        upscale_small: upscale images whose shorter side is below `image_size` (e.g. aligned
            CelebA, 178x218, at 256) instead of dropping them.
        hue_jitter: in training, the share of crops whose hue is turned by a uniform random
            angle (`tf.image.adjust_hue`, any angle), drawn from a stream of its own so crops,
            flips and masks stay those of the same run without it; 0 = off.

    Returns:
        Batches of "image" float32 [B, S, S, 3] in [0, 1], "mask" float32 [B, S, S, 1]
        (1 = hole) and "index" int64 [B].
    """
    if batch_size < 1:
        raise DataError(f"batch_size={batch_size}: expected a positive number")
    if not 0 <= shard_index < num_shards:
        raise DataError(f"shard_index={shard_index}, num_shards={num_shards}: expected 0 <= index < shards")
    check_split_args(split, split_ratio)
    resolved = resolve_source(source, root)
    generator = make_mask_generator(masks, image_size, hole_fraction, root=root)
    if resolved.kind == "tfrecord":
        if isinstance(generator, FileMasks) and generator.paired:
            raise MaskError(
                f"masks={masks!r}: pairing masks by file name needs image files, "
                f"not TFRecords ({resolved.description})"
            )
        elements = _tfrecord_elements(resolved, split, split_ratio, seed, training, num_shards, shard_index)
    else:
        paths, indices = split_files(resolved, split, split_ratio)
        if isinstance(generator, FileMasks) and generator.paired:
            generator.pair_with(paths, indices)
        elements = _file_elements(paths, indices, seed, training, num_shards, shard_index)

    n_params = 3 + max(generator.num_params, 1)
    if not 0.0 <= hue_jitter <= 1.0:
        raise DataError(f"hue_jitter={hue_jitter}: expected a share in [0, 1]")
    jitter_hue = training and hue_jitter > 0

    def load(position, index, name, data=None):
        key = position if training else index
        u = tf.random.stateless_uniform([n_params], seed=tf.stack([tf.constant(seed, tf.int64), key]))
        if data is None:  # file sources carry paths, TFRecords carry the encoded bytes
            data = tf.io.read_file(name)
        image = decode_image(data, fast=training)
        image = _fit(image, image_size, u[:2] if training else tf.constant([0.5, 0.5]), name, upscale_small)
        if training:
            image = tf.cond(u[2] < 0.5, lambda: tf.reverse(image, [1]), lambda: image)
        element = {"image": image, "params": u[3:], "index": index}
        if jitter_hue:
            seed_pair = tf.stack([tf.constant(seed, tf.int64), key])
            turn, angle = tf.unstack(
                tf.random.stateless_uniform([2], seed=tf.random.experimental.stateless_fold_in(seed_pair, 1))
            )
            element["hue"] = tf.where(turn < hue_jitter, angle * 2.0 - 1.0, 0.0)
        return element

    def finish(element):
        mask = generator.render(element["params"], element["index"])
        image = tf.cast(element["image"], tf.float32) * (1.0 / 255.0)
        if jitter_hue:
            image = _turn_hue(image, element["hue"])
        return {"image": image, "mask": mask, "index": element["index"]}

    ds = elements.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    # A file that fails to decode (or is too small) is dropped, never fatal mid-training. TF's
    # warning names a graph node, not the file, so it is not logged; the start-up check names
    # the files it finds, `tfinpaint data check` every one.
    ds = ds.ignore_errors(log_warning=False)
    # Float conversion and masks per element in a map right before `batch`: tf.data fuses the
    # two (a plain `batch`, not a parallel one) and writes into the batch buffer (measured faster
    # than converting whole batches, and than one map with ignore_errors between it and the batch).
    ds = ds.map(finish, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(batch_size, drop_remainder=training)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    # Sharding is explicit (num_shards / shard_index); a strategy must not shard again.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return ds.with_options(options)


def _file_elements(paths, indices, seed, training, num_shards, shard_index) -> tf.data.Dataset:
    """(position, index, path) per element; training: infinite per-epoch permutations."""
    paths_t = tf.constant(list(paths))
    indices_t = tf.constant(np.asarray(indices, np.int64))
    n = len(paths)
    if training:
        # The stream position alone determines the file (a stateless permutation per epoch),
        # so the iterator's state is one counter and restores exactly.
        positions = tf.data.Dataset.range(shard_index, np.iinfo(np.int64).max, num_shards)

        def pick(position):
            epoch, offset = position // n, position % n
            slot = tf.random.experimental.index_shuffle(
                offset,
                seed=tf.stack([tf.constant(seed, tf.int64), epoch]),
                max_index=tf.constant(n - 1, tf.int64),
            )
            return position, tf.gather(indices_t, slot), tf.gather(paths_t, slot)
    else:
        positions = tf.data.Dataset.range(n).shard(num_shards, shard_index)

        def pick(position):
            return position, tf.gather(indices_t, position), tf.gather(paths_t, position)

    # (position, index, path); the file is read in the parallel decoding map.
    return positions.map(pick)


def _tfrecord_elements(source: Source, split, split_ratio, seed, training, num_shards, shard_index):
    """(position, index, name, bytes) per record of TFRecord files with an `image/encoded` feature."""
    files = tf.data.Dataset.from_tensor_slices((list(source.paths), list(source.keys)))

    def records(path, key):
        return (
            tf.data.TFRecordDataset(path)
            .enumerate()
            .map(lambda r, x: (tf.strings.join([key, ":", tf.strings.as_string(r)]), x))
        )

    ds = files.flat_map(records).enumerate()  # (global index, (name, serialized))
    if split != "all":
        ds = ds.filter(lambda i, rec: in_split(rec[0], split, split_ratio))
    ds = ds.shard(num_shards, shard_index)
    if training:
        ds = ds.shuffle(_TFRECORD_SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.enumerate()

    def parse(position, element):
        index, (name, serialized) = element
        features = tf.io.parse_single_example(
            serialized, {IMAGE_FEATURE: tf.io.FixedLenFeature([], tf.string)}
        )
        return position, index, name, features[IMAGE_FEATURE]

    return ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
