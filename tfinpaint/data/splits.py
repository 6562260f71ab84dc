"""Hash splits: which relative paths are in `train`, `val` or `test`, the same on every machine.

A leaf module: the image pipeline (`datasets`) and the mask files (`masks`) both split by it.
"""

from __future__ import annotations

import tensorflow as tf

# Share of the files outside `train` in `val`; the rest is `test`.
VAL_FRACTION = 0.5
_HASH_BUCKETS = 1_000_000


def in_split(keys, split: str, split_ratio: float, val_fraction: float = VAL_FRACTION):
    """Boolean tensor: which `keys` (relative paths, string tensor) belong to `split`.

    A key's FarmHash fingerprint bucket, as a share u in [0, 1): `train` when u < split_ratio,
    `val` when u is in the next `val_fraction` of the rest, `test` above. A TF op, so file
    lists (eagerly) and TFRecord records (in the graph) split the same way. Mask folders split
    in two with `val_fraction=0` (`test` = everything outside `train`).
    """
    if split == "all":
        return tf.ones_like(keys, dtype=tf.bool)
    bucket = tf.strings.to_hash_bucket_fast(keys, _HASH_BUCKETS)
    train_end = int(round(split_ratio * _HASH_BUCKETS))
    val_end = train_end + int(round(val_fraction * (_HASH_BUCKETS - train_end)))
    if split == "train":
        return bucket < train_end
    if split == "val":
        return (bucket >= train_end) & (bucket < val_end)
    return bucket >= val_end
