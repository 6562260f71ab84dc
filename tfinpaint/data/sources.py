"""Image sources: what `--data` names (a folder, a file list, a glob, TFRecords), how its files
are split, how an image is decoded, and which files a run would skip (`check_source`).

The pipeline (`tfinpaint.data.datasets`) reads through these; `tfinpaint data check` reports them.
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
from tfinpaint.data.errors import DataError
from tfinpaint.data.splits import in_split

TFRECORD_EXTENSIONS = (".tfrecord", ".tfrecords", ".tfrec")
IMAGE_FEATURE = "image/encoded"
SPLITS = ("train", "val", "test", "all")
PARTITIONS = {"train": 0, "val": 1, "test": 2}
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


def check_split_args(split, split_ratio):
    if split not in SPLITS:
        raise DataError(f"split={split!r}: expected one of {', '.join(SPLITS)}")
    if not 0.0 < split_ratio <= 1.0:
        raise DataError(f"split_ratio={split_ratio}: expected a value in (0, 1]")


def split_files(source: Source, split: str = "all", split_ratio: float = 0.8):
    """(paths, global indices) of the image files of `source` in `split`, sorted."""
    check_split_args(split, split_ratio)
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

    `quick=True` still reads each file whole but parses only its header (size and format) and
    decodes no pixels: far faster, what a training run does at start-up. Truncated or corrupt
    image data is then found only by a full check (`tfinpaint data check`) or skipped by the
    pipeline.

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
