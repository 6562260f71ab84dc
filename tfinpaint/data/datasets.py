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

import concurrent.futures
import dataclasses
import glob as globlib
import io
import os

import numpy as np
import tensorflow as tf

from tfinpaint.convention import IMAGE_EXTENSIONS
from tfinpaint.data import masks as masklib
from tfinpaint.data.errors import DataError
from tfinpaint.data.splits import in_split

TFRECORD_EXTENSIONS = (".tfrecord", ".tfrecords", ".tfrec")
IMAGE_FEATURE = "image/encoded"
SPLITS = ("train", "val", "test", "all")
PARTITIONS = {"train": 0, "val": 1, "test": 2}
_TFRECORD_SHUFFLE_BUFFER = 1024
ACCEPTED = (
    f"a folder of images ({', '.join(IMAGE_EXTENSIONS)}), a text file listing images, "
    f"a glob, or TFRecord files ({', '.join(TFRECORD_EXTENSIONS)}) with an "
    f"'{IMAGE_FEATURE}' bytes feature"
)


def demo_data_dir() -> str:
    """Folder of the bundled demo images (256x256 JPEG crops; see `demo/CREDITS`)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo")


@dataclasses.dataclass(frozen=True)
class Source:
    """A resolved source: every file it names, in a fixed order.

    Attributes:
        kind: "directory", "list", "glob", "paths" or "tfrecord".
        description: what the user gave (for messages).
        paths: absolute file paths (images, or TFRecord files for kind "tfrecord"), sorted.
        keys: the path relative to the source root, "/"-separated (the split hash input).
        partitions: per-file official partition (CelebA lists) or None.
        skipped: (path, reason) for files found or listed that are not images by extension.
    """

    kind: str
    description: str
    paths: tuple
    keys: tuple
    partitions: tuple | None = None
    skipped: tuple = ()


@dataclasses.dataclass(frozen=True)
class SourceReport:
    """What `check_source` found. Also readable as `report["files"]` and `report["bad"]`.

    Attributes:
        source: the source as given.
        kind: see `Source.kind`.
        files: usable images (TFRecords: `file#record`).
        bad: (path, reason) for image files (by extension or list entry) the pipeline would
            skip: missing, empty, corrupt, truncated, too small. The share of these is what
            `data.bad_file_limit` bounds.
        ignored: (path, reason) for files that are not images by extension (`.DS_Store`,
            `Thumbs.db`, `CREDITS`, annotations): never decoded, listed but not counted as bad.
        upscaled: usable images smaller than the crop, which the pipeline upscales
            (`data.upscale_small`).
    """

    source: str
    kind: str
    files: list
    bad: list
    ignored: list = dataclasses.field(default_factory=list)
    upscaled: int = 0

    def __getitem__(self, key):
        return getattr(self, key)

    @property
    def bad_fraction(self) -> float:
        total = len(self.files) + len(self.bad)
        return len(self.bad) / total if total else 0.0

    def format(self, limit: int | None = None, only_bad: bool = False) -> str:
        """Human-readable summary: counts, then one `path: reason` line per bad (and ignored) file."""
        lines = [
            f"{self.source} ({self.kind}): {len(self.files)} usable image(s), {len(self.bad)} "
            f"unusable image file(s) ({100 * self.bad_fraction:.1f}%), {len(self.ignored)} other "
            "file(s) ignored"
            + (f", {self.upscaled} small image(s) upscaled to the crop" if self.upscaled else "")
        ]
        sections = (("unusable", self.bad),) + (() if only_bad else (("ignored", self.ignored),))
        for title, entries in sections:
            shown = entries if limit is None else entries[:limit]
            lines += [f"{title}:"] * bool(shown) + [f"  {path}: {reason}" for path, reason in shown]
            if len(shown) < len(entries):
                lines.append(f"  ... and {len(entries) - len(shown)} more")
        return "\n".join(lines)


def _is_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def _ext(path: str) -> str:
    return os.path.splitext(path)[1].lower()


def _relative_keys(paths, root):
    return tuple(os.path.relpath(p, root).replace(os.sep, "/") for p in paths)


def _files_source(kind, description, paths, root) -> Source:
    paths = sorted(os.path.abspath(p) for p in paths)
    if paths and all(_ext(p) in TFRECORD_EXTENSIONS for p in paths):
        return Source("tfrecord", description, tuple(paths), tuple(os.path.basename(p) for p in paths))
    images = [p for p in paths if _ext(p) in IMAGE_EXTENSIONS]
    skipped = tuple(
        (
            p,
            f"not an image file (extension {_ext(p) or 'none'!r}; expected one of "
            f"{', '.join(IMAGE_EXTENSIONS)})",
        )
        for p in paths
        if _ext(p) not in IMAGE_EXTENSIONS
    )
    return Source(kind, description, tuple(images), _relative_keys(images, root), skipped=skipped)


def resolve_source(source=None, root: str | None = None) -> Source:
    """List the files of `source` (see the module docstring); raise `DataError` if there are none."""
    if source is None:
        source = demo_data_dir()
    if isinstance(source, (list, tuple)):
        paths = [os.fspath(p) for p in source]
        if not paths:
            raise DataError(f"source is an empty list; expected {ACCEPTED}")
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            raise DataError(f"source lists {len(missing)} missing file(s), e.g. {missing[0]!r}")
        common = root or os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths])
        resolved = _files_source("paths", f"{len(paths)} paths", paths, common)
    else:
        source = os.fspath(source)
        if os.path.isdir(source):
            found = [os.path.join(d, f) for d, _, files in os.walk(source, followlinks=True) for f in files]
            resolved = _files_source("directory", source, found, source)
        elif os.path.isfile(source) and _ext(source) in TFRECORD_EXTENSIONS + IMAGE_EXTENSIONS:
            resolved = _files_source("paths", source, [source], os.path.dirname(os.path.abspath(source)))
        elif os.path.isfile(source):
            resolved = _list_source(source, root)
        elif _is_glob(source):
            prefix = source[: min(source.index(c) for c in "*?[" if c in source)]
            base = root or (os.path.dirname(prefix) if not prefix.endswith(os.sep) else prefix) or "."
            found = [p for p in globlib.glob(source, recursive=True) if os.path.isfile(p)]
            resolved = _files_source("glob", source, found, base)
        else:
            raise DataError(f"data source {source!r} does not exist; expected {ACCEPTED}")
    if not resolved.paths:
        raise DataError(
            f"data source {resolved.description!r} holds no images "
            f"({len(resolved.skipped)} other file(s)); expected {ACCEPTED}"
        )
    return resolved


def _list_source(list_path: str, root: str | None) -> Source:
    """Places2 / CelebA style list: `path [number]` per line."""
    entries, numbers = [], []
    try:
        with open(list_path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                parts = line.rsplit(None, 1)
                # A trailing integer is a label or partition; anything else is part of the path.
                if len(parts) == 2 and parts[1].lstrip("-").isdigit():
                    entries.append(parts[0])
                    numbers.append(int(parts[1]))
                else:
                    entries.append(line)
                    numbers.append(None)
    except UnicodeDecodeError as e:
        raise DataError(
            f"data source {list_path!r} is neither an image nor a UTF-8 text list ({e}); expected {ACCEPTED}"
        ) from None
    if not entries:
        raise DataError(f"file list {list_path!r} is empty; expected one image path a line")
    base = root or os.path.dirname(os.path.abspath(list_path))
    absolute = root is None and os.path.isabs(entries[0]) and os.path.exists(entries[0])
    keys = [e.lstrip("/") for e in entries]
    paths = entries if absolute else [os.path.join(base, k) for k in keys]
    partitions = None
    if os.path.basename(list_path).startswith("list_eval_partition"):
        bad = [(e, n) for e, n in zip(entries, numbers) if n not in (0, 1, 2)]
        if bad:
            raise DataError(
                f"partition list {list_path!r}: entry {bad[0][0]!r} has partition "
                f"{bad[0][1]!r}; expected 0 (train), 1 (val) or 2 (test)"
            )
        partitions = numbers
    order = sorted(range(len(paths)), key=lambda i: keys[i])
    images = [i for i in order if _ext(keys[i]) in IMAGE_EXTENSIONS]
    skipped = tuple(
        (paths[i], f"not an image file (extension {_ext(keys[i]) or 'none'!r})")
        for i in order
        if _ext(keys[i]) not in IMAGE_EXTENSIONS
    )
    return Source(
        "list",
        list_path,
        tuple(os.path.abspath(paths[i]) for i in images),
        tuple(keys[i] for i in images),
        None if partitions is None else tuple(partitions[i] for i in images),
        skipped,
    )


def _check_split_args(split, split_ratio):
    if split not in SPLITS:
        raise DataError(f"split={split!r}: expected one of {', '.join(SPLITS)}")
    if not 0.0 < split_ratio <= 1.0:
        raise DataError(f"split_ratio={split_ratio}: expected a value in (0, 1]")


def split_files(source: Source, split: str = "all", split_ratio: float = 0.8):
    """(paths, global indices) of the image files of `source` in `split`, sorted."""
    _check_split_args(split, split_ratio)
    indices = np.arange(len(source.paths), dtype=np.int64)
    if split != "all" and source.partitions is not None:
        keep = np.asarray(source.partitions) == PARTITIONS[split]
    elif split != "all":
        keep = in_split(tf.constant(source.keys), split, split_ratio).numpy()
    else:
        keep = np.ones(len(indices), bool)
    paths = [p for p, k in zip(source.paths, keep) if k]
    if not paths:
        raise DataError(
            f"data source {source.description!r}: split {split!r} is empty "
            f"({len(source.paths)} images, split_ratio={split_ratio})"
        )
    return paths, indices[keep]


def decode_image(data: tf.Tensor, fast: bool = False) -> tf.Tensor:
    """Encoded JPEG/PNG/BMP/GIF/WebP bytes -> uint8 RGB [H, W, 3].

    Grey, palette, grey+alpha and RGBA become RGB (alpha dropped); 16-bit PNGs are scaled to
    8 bits (the high byte, not clipped); a GIF gives its first frame. `fast` uses libjpeg's
    INTEGER_FAST DCT for JPEGs (training only: it differs from exact decoding by a few levels).
    """

    def jpeg():
        return tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_FAST" if fast else "")

    def other():
        return tf.io.decode_image(data, channels=3, dtype=tf.uint8, expand_animations=False)

    image = tf.cond(tf.io.is_jpeg(data), jpeg, other)
    image.set_shape([None, None, 3])
    return image


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

    Returns:
        Batches of "image" float32 [B, S, S, 3] in [0, 1], "mask" float32 [B, S, S, 1]
        (1 = hole) and "index" int64 [B].
    """
    if batch_size < 1:
        raise DataError(f"batch_size={batch_size}: expected a positive number")
    if not 0 <= shard_index < num_shards:
        raise DataError(f"shard_index={shard_index}, num_shards={num_shards}: expected 0 <= index < shards")
    _check_split_args(split, split_ratio)
    resolved = resolve_source(source, root)
    generator = masklib.make_mask_generator(masks, image_size, hole_fraction, root=root)
    if resolved.kind == "tfrecord":
        if isinstance(generator, masklib.FileMasks) and generator.paired:
            raise masklib.MaskError(
                f"masks={masks!r}: pairing masks by file name needs image files, "
                f"not TFRecords ({resolved.description})"
            )
        elements = _tfrecord_elements(resolved, split, split_ratio, seed, training, num_shards, shard_index)
    else:
        paths, indices = split_files(resolved, split, split_ratio)
        if isinstance(generator, masklib.FileMasks) and generator.paired:
            generator.pair_with(paths, indices)
        elements = _file_elements(paths, indices, seed, training, num_shards, shard_index)

    n_params = 3 + max(generator.num_params, 1)

    def load(position, index, name, data=None):
        key = position if training else index
        u = tf.random.stateless_uniform([n_params], seed=tf.stack([tf.constant(seed, tf.int64), key]))
        if data is None:  # file sources carry paths, TFRecords carry the encoded bytes
            data = tf.io.read_file(name)
        image = decode_image(data, fast=training)
        image = _fit(image, image_size, u[:2] if training else tf.constant([0.5, 0.5]), name, upscale_small)
        if training:
            image = tf.cond(u[2] < 0.5, lambda: tf.reverse(image, [1]), lambda: image)
        return {"image": image, "params": u[3:], "index": index}

    def finish(element):
        mask = generator.render(element["params"], element["index"])
        return {
            "image": tf.cast(element["image"], tf.float32) * (1.0 / 255.0),
            "mask": mask,
            "index": element["index"],
        }

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


def _check_image(data: bytes, image_size: int) -> str | None:
    """Why `data` cannot be used (None when it can), decoding exactly as the pipeline does."""
    if not data:
        return "empty file"
    try:
        shape = decode_image(tf.constant(data)).shape
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as e:
        first = str(e.message if hasattr(e, "message") else e).split("\n")[0]
        return f"cannot be decoded as an image ({first.split('}}')[-1].strip()[:120]})"
    if min(shape[0], shape[1]) < image_size:
        return f"too small: {shape[1]}x{shape[0]} px, the shorter side must be at least {image_size}"
    return None


def _check_header(data: bytes, image_size: int) -> str | None:
    """Like `_check_image` from the file's header alone (Pillow reads the size, decodes nothing).

    Corruption past the header goes unnoticed here; the pipeline drops such files as it meets them.
    """
    from PIL import Image, UnidentifiedImageError

    if not data:
        return "empty file"
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError) as e:
        return f"not an image Pillow can read ({str(e)[:120]})"
    if min(width, height) < image_size:
        return f"too small: {width}x{height} px, the shorter side must be at least {image_size}"
    return None


def check_source(
    source=None,
    image_size: int = 256,
    *,
    root: str | None = None,
    workers: int | None = None,
    quick: bool = False,
    upscale_small: bool = False,
) -> SourceReport:
    """Decode every image of `source` as the pipeline would and report the unusable ones.

    `quick=True` reads only each file's header (size and format; far faster,
    what a training run does at start-up on millions of files); truncated or corrupt image data
    is then found only by a full check (`tfinpaint data check`) or skipped by the pipeline.

    Returns:
        A `SourceReport`: usable files and `(path, reason)` for files that are not images,
        missing, empty, corrupt or truncated, or smaller than `image_size` on the shorter side
        (unless `upscale_small`; `report.upscaled` then counts those).

    Raises:
        DataError: the source is missing or holds no image files at all.
    """
    resolved = resolve_source(source, root)
    description = resolved.description
    check_one = _check_header if quick else _check_image
    min_side = 1 if upscale_small else image_size
    small = []

    def checker(data, image_size):
        reason = check_one(data, min_side)
        if reason is None and upscale_small and check_one(data, image_size):
            small.append(True)
        return reason

    good, bad = [], []
    if resolved.kind == "tfrecord":
        for path in resolved.paths:
            try:
                for r, serialized in enumerate(tf.data.TFRecordDataset(path).as_numpy_iterator()):
                    name = f"{path}#{r}"
                    example = tf.train.Example.FromString(serialized)
                    feature = example.features.feature.get(IMAGE_FEATURE)
                    if feature is None or not feature.bytes_list.value:
                        bad.append((name, f"no '{IMAGE_FEATURE}' bytes feature"))
                        continue
                    reason = checker(feature.bytes_list.value[0], image_size)
                    (bad.append((name, reason)) if reason else good.append(name))
            except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
                bad.append((path, f"corrupt TFRecord file ({str(e).splitlines()[0][:120]})"))
    else:

        def check(path):
            try:
                with open(path, "rb") as f:
                    return path, checker(f.read(), image_size)
            except OSError as e:
                return path, f"cannot be read ({e.strerror or e})"

        with concurrent.futures.ThreadPoolExecutor(workers or min(8, os.cpu_count() or 1)) as pool:
            for path, reason in pool.map(check, resolved.paths):
                (bad.append((path, reason)) if reason else good.append(path))
    return SourceReport(
        source=description,
        kind=resolved.kind,
        files=good,
        bad=sorted(bad),
        ignored=sorted(resolved.skipped),
        upscaled=len(small),
    )
