"""Input pipeline: image sources -> `tf.data` batches of images, hole masks and indices.

`build_dataset` is the entry point (batches `{"image", "mask", "index"}`); `check_source`
lists the files a source would skip; `tfinpaint.data.masks` makes the holes.
"""

from tfinpaint.convention import IMAGE_EXTENSIONS
from tfinpaint.data.datasets import build_dataset
from tfinpaint.data.errors import DataError
from tfinpaint.data.mask_specs import make_mask_generator
from tfinpaint.data.masks import HOLE_RATIO_BUCKETS, MaskError, hole_ratio, hole_ratio_bucket
from tfinpaint.data.sources import (
    ACCEPTED,
    IMAGE_FEATURE,
    TFRECORD_EXTENSIONS,
    Source,
    SourceReport,
    check_source,
    decode_image,
    demo_data_dir,
    resolve_source,
    split_files,
)

__all__ = [
    "ACCEPTED",
    "IMAGE_EXTENSIONS",
    "IMAGE_FEATURE",
    "TFRECORD_EXTENSIONS",
    "DataError",
    "Source",
    "SourceReport",
    "build_dataset",
    "check_source",
    "decode_image",
    "demo_data_dir",
    "resolve_source",
    "split_files",
    "HOLE_RATIO_BUCKETS",
    "MaskError",
    "hole_ratio",
    "hole_ratio_bucket",
    "make_mask_generator",
]
