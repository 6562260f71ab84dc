"""TFLite files of a generator: a fixed square input, for phones.

The files take `image` uint8 [1,S,S,3] and `mask` uint8 [1,S,S,1] (non-zero = hole) and return
`inpainted` uint8 [1,S,S,3]: the same bytes-in, bytes-out contract as the server, so a phone app
feeds its bitmap's RGB bytes directly. S is at most the model's window side (the side it runs
at, its training size), so the fixed graph is the size policy's whole-image case
(`tfinpaint.inference.sizing`) and gives the pixels `tfinpaint inpaint --blend none` gives on
an S x S image; a phone app scales larger photos to S. The files sit in the version folder,
`<version>/tflite/model_{fp32,fp16,int8}.tflite`: TF Serving reads only `saved_model.pb`,
`variables/` and `assets*` there, and one rename publishes both with the same weights.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence

import tensorflow as tf

from tfinpaint.export.publishing import ExportError
from tfinpaint.export.signatures import track_captured_variables
from tfinpaint.imagefiles import write_bytes_atomic
from tfinpaint.inference.sizing import SizePolicy
from tfinpaint.inference.windows import run_window

TFLITE_VARIANTS = ("fp32", "fp16", "int8")
# The largest default side: a phone model's input, when the window side allows it.
_DEFAULT_SIDE = 256


def default_size(policy: SizePolicy) -> int:
    """The TFLite side used when none is asked for: the window side, at most 256."""
    return min(policy.window_side, max(policy.multiple, _DEFAULT_SIDE // policy.multiple * policy.multiple))


def checked_size(policy: SizePolicy, size: int | None) -> int:
    """The TFLite side for a requested one (None = `default_size`); `ExportError` if unusable."""
    size = default_size(policy) if size is None else int(size)
    if size < policy.multiple or size % policy.multiple:
        raise ExportError(f"TFLite size {size}: this generator needs a multiple of {policy.multiple}")
    if size > policy.window_side:
        raise ExportError(
            f"TFLite size {size}: larger than the side this model runs at ({policy.window_side}: its "
            "training size, max_side or attention limit); the fixed-size file runs whole images, so "
            f"choose at most {policy.window_side} and scale photos to it"
        )
    return size


def parse_variants(tflite: str | Iterable[str] | None) -> tuple:
    """`"fp32,fp16"` or `("fp32", "fp16")` -> a checked tuple; "" / None / () -> no TFLite."""
    if tflite is None:
        return ()
    if isinstance(tflite, str):
        tflite = tflite.split(",")
    variants = tuple(v.strip().lower() for v in tflite if v.strip() and v.strip().lower() != "none")
    unknown = [v for v in variants if v not in TFLITE_VARIANTS]
    if unknown:
        raise ExportError(f"TFLite variant(s) {unknown}: expected some of {list(TFLITE_VARIANTS)}")
    return tuple(dict.fromkeys(variants))


class FixedSizeModule(tf.Module):
    """A single fixed-size uint8 signature for the TFLite converter (no asserts: TFLite has none)."""

    def __init__(self, generator, policy: SizePolicy, size: int):
        super().__init__(name="tfinpaint_tflite")

        def serve(image, mask):
            hole = tf.cast(mask, tf.float32) > 0.0
            completed = run_window(
                lambda inputs: generator(inputs, training=False), image, hole, (size, size), policy.multiple
            )
            # Composited as float32 byte values, not uint8: TFLite has no uint8 Select kernel,
            # and integers up to 255 are exact in float32, so the pixels outside the hole still
            # come back byte-identical.
            image_bytes = tf.cast(image, tf.float32)
            return {"inpainted": tf.cast(tf.where(hole, tf.round(completed * 255.0), image_bytes), tf.uint8)}

        self.serve = tf.function(
            serve,
            input_signature=[
                tf.TensorSpec([1, size, size, 3], tf.uint8, name="image"),
                tf.TensorSpec([1, size, size, 1], tf.uint8, name="mask"),
            ],
        )
        track_captured_variables(self, [self.serve.get_concrete_function()])


def convert_tflite(saved_model_dir: str, variant: str) -> bytes:
    """Convert a fixed-size SavedModel's `serving_default` into a TFLite flatbuffer.

    `fp16` stores weights as float16 (computed in float32 on CPUs); `int8` is dynamic-range
    quantisation (int8 weights, float activations) which needs no calibration images.
    """
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=["serving_default"])
    if variant in ("fp16", "int8"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def export_tflite(
    generator,
    out_dir: str,
    variants: Sequence[str] = ("fp32",),
    size: int | None = None,
    overwrite: bool = False,
    *,
    policy: SizePolicy | None = None,
) -> dict:
    """Write `model_{variant}.tflite` files (uint8 [1,size,size,*] I/O) into `out_dir`.

    Args:
        generator: an inference generator.
        out_dir: the folder for the files (created).
        variants: some of `TFLITE_VARIANTS`.
        size: the square input side, a multiple of the network's size multiple and at most the
            policy's window side; None = `default_size(policy)`.
        overwrite: replace existing files.
        policy: the size policy (default: `SizePolicy.for_generator`).

    Returns:
        variant -> path of the written file.
    """
    variants = parse_variants(variants)
    if policy is None:
        policy = SizePolicy.for_generator(generator)
    size = checked_size(policy, size)
    os.makedirs(out_dir, exist_ok=True)
    targets = {v: os.path.join(out_dir, f"model_{v}.tflite") for v in variants}
    existing = [p for p in targets.values() if os.path.exists(p)]
    if existing and not overwrite:
        raise ExportError(f"{existing[0]} already exists; pass overwrite=True (--overwrite)")
    if not variants:
        return {}
    staging = tempfile.mkdtemp(prefix=".tflite-src-", dir=out_dir)
    try:
        module = FixedSizeModule(generator, policy, size)
        tf.saved_model.save(
            module, staging, signatures={"serving_default": module.serve.get_concrete_function()}
        )
        for variant, path in targets.items():
            write_bytes_atomic(path, convert_tflite(staging, variant))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return targets
