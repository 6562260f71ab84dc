"""Input pipeline: image sources -> `tf.data` batches of images, hole masks and indices.

`build_dataset` is the entry point (batches `{"image", "mask", "index"}`); `check_source`
lists the files a source would skip; `tfinpaint.data.masks` makes the holes.
"""


class DataError(ValueError):
    """A data source, mask specification or mask file that is missing, empty or unreadable."""


# Submodules import DataError from here, so it is defined before them.
from tfinpaint.data.datasets import (  # noqa: E402
    ACCEPTED,
    IMAGE_EXTENSIONS,
    IMAGE_FEATURE,
    TFRECORD_EXTENSIONS,
    Source,
    SourceReport,
    build_dataset,
    check_source,
    decode_image,
    demo_data_dir,
    resolve_source,
    split_files,
)
from tfinpaint.data.masks import (  # noqa: E402
    HOLE_RATIO_BUCKETS,
    MaskError,
    hole_ratio,
    hole_ratio_bucket,
    make_mask_generator,
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
