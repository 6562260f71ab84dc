"""Export an inference generator as a TF Serving SavedModel and as TFLite files.

Layout (TF Serving's): `<out_root>/<name>/<version>/saved_model.pb`, one integer folder per
version, plus `<out_root>/models.config` listing every model under `<out_root>`. TFLite
files go inside the version folder, in `<version>/tflite/model_{fp32,fp16,int8}.tflite`:
TF Serving reads only `saved_model.pb`, `variables/` and `assets*` there, and keeping them
in the version folder ties each phone model to the exact weights of its SavedModel and lets
one rename publish both.

Signatures (the serving contract):
- `serving_default`: `image` uint8 [N,H,W,3], `mask` uint8 [N,H,W,1] (non-zero = hole), any H
  and W -> `inpainted` uint8 [N,H,W,3].
- `bytes`: `image_bytes`, `mask_bytes` string [N] (encoded PNG/JPEG/BMP/GIF; the mask's
  white (>= 128) pixels are holes, or its non-zero ones when the file holds only 0 and 1)
  -> `inpainted_bytes` string [N] (RGB PNG). Each pair may have its own size.
- `sample` (generators with a `sample` method, paper 1): `image`, `mask` as above and `seed`
  int64 scalar -> `inpainted`, one random completion per seed.

TFLite files take `image` uint8 [1,S,S,3] and `mask` uint8 [1,S,S,1] (non-zero = hole) and
return `inpainted` uint8 [1,S,S,3] (S = `tflite_size`, default 256): the same bytes-in,
bytes-out contract as the server, so a phone app feeds its bitmap's RGB bytes directly.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Sequence

import keras
import tensorflow as tf

from tfinpaint.inference import ModelPathError, newest_version, resolve_model_path, run_identity
from tfinpaint.io import write_bytes_atomic
from tfinpaint.models import load_generator as load_keras_generator

TFLITE_VARIANTS = ("fp32", "fp16", "int8")
CONFIG_FILE = "models.config"
IMAGE_SPEC = tf.TensorSpec([None, None, None, 3], tf.uint8, name="image")
MASK_SPEC = tf.TensorSpec([None, None, None, 1], tf.uint8, name="mask")


class ExportError(ValueError):
    """An export that cannot be written as asked (existing version, bad source, bad variant)."""


# ---------------------------------------------------------------------------------------------
# The graph behind every signature.
# ---------------------------------------------------------------------------------------------


def _min_side(generator) -> int:
    # Reflect padding up to the next multiple needs at least `size_multiple` pixels a side.
    return int(getattr(generator, "size_multiple", 1) or 1)


def validate_inputs(image, mask, min_side: int):
    """In-graph checks of a uint8 request; failures are InvalidArgument with a readable message.

    TF Serving checks nothing itself, so these asserts are what stands between a malformed
    request and an obscure kernel error (or a crash) deep inside the generator.
    """
    image = tf.ensure_shape(image, [None, None, None, 3], name="image_must_be_NHW3_RGB")
    mask = tf.ensure_shape(mask, [None, None, None, 1], name="mask_must_be_NHW1")
    image_shape, mask_shape = tf.shape(image), tf.shape(mask)
    checks = [
        tf.debugging.Assert(
            tf.reduce_all(tf.equal(image_shape[:3], mask_shape[:3])),
            [
                "image and mask must have the same batch size, height and width; image shape:",
                image_shape,
                "mask shape:",
                mask_shape,
            ],
            summarize=4,
        ),
        tf.debugging.Assert(
            image_shape[0] > 0, ["empty batch: image shape", image_shape, "expected N >= 1"], summarize=4
        ),
        tf.debugging.Assert(
            tf.reduce_min(image_shape[1:3]) >= min_side,
            [
                "image too small: height x width",
                image_shape[1:3],
                f"expected at least {min_side} pixels a side",
            ],
            summarize=4,
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(image), tf.identity(mask)


def _pad_to_multiple(x, multiple: int):
    """Reflect-pad height and width at the bottom/right up to the next multiple."""
    shape = tf.shape(x)
    pad_h = (-shape[1]) % multiple
    pad_w = (-shape[2]) % multiple
    return tf.pad(x, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], mode="REFLECT")


def _to_byte_values(x):
    """Float [0,1] -> float32 holding the nearest byte value (0., 1., ..., 255.)."""
    return tf.round(tf.clip_by_value(tf.cast(x, tf.float32), 0.0, 1.0) * 255.0)


def _run_network(generator, image, hole, run):
    """`run({"image", "mask"})` on float inputs padded to the generator's stride; cropped back."""
    multiple = _min_side(generator)
    height, width = tf.shape(image)[1], tf.shape(image)[2]
    completed = run({"image": _pad_to_multiple(image, multiple), "mask": _pad_to_multiple(hole, multiple)})
    return completed[:, :height, :width, :]


def _run_within_max_side(generator, image, hole, run):
    """Run at most at `generator.max_side`: larger inputs are shrunk, run, and scaled back.

    Only the hole is taken from the scaled-back result (the caller composites), so the
    known pixels stay at full resolution; a shrunken hole is dilated (any hole pixel in a
    resized cell marks the cell) so the network fills every pixel it will be asked for.
    Inputs within the limit take the same path at scale 1, where both resizes are exact
    identities; one branch instead of a `tf.cond` halves the tracing of a large generator.
    """
    max_side = getattr(generator, "max_side", None)
    if not max_side:
        return _run_network(generator, image, hole, run)
    multiple = _min_side(generator)
    # Padding rounds sides up to the multiple, so the side the network may see is this.
    limit = max(multiple, max_side // multiple * multiple)
    height, width = tf.shape(image)[1], tf.shape(image)[2]
    scale = tf.minimum(1.0, limit / tf.cast(tf.maximum(height, width), tf.float32))
    size = [
        tf.maximum(multiple, tf.cast(tf.cast(height, tf.float32) * scale, tf.int32)),
        tf.maximum(multiple, tf.cast(tf.cast(width, tf.float32) * scale, tf.int32)),
    ]
    small_image = tf.image.resize(image, size, method="area")
    small_hole = tf.cast(tf.image.resize(hole, size, method="area") > 0.0, tf.float32)
    completed = _run_network(generator, small_image, small_hole, run)
    return tf.image.resize(completed, [height, width], method="bilinear")


def inpaint_uint8(generator, image, mask, run=None, fit_max_side=True):
    """The uint8 request -> uint8 answer graph (no validation; see `validate_inputs`).

    Args:
        generator: a contract-4 inference generator.
        image: uint8 [N,H,W,3]. mask: uint8 [N,H,W,1], non-zero = hole.
        run: callable `inputs -> completed float [N,H,W,3]`; defaults to the generator's
            deterministic call. The `sample` signature passes its seeded sampler.
        fit_max_side: shrink inputs larger than `generator.max_side`; False when the caller
            guarantees the size (the fixed-size TFLite graph, which has no area resize).

    Returns:
        uint8 [N,H,W,3]; outside the hole it is `image`, byte for byte.
    """
    if run is None:

        def run(inputs):
            return generator(inputs, training=False)

    # Compared and composited as float32 byte values, not uint8: TFLite has no uint8
    # NotEqual / Select kernels, and integers up to 255 are exact in float32, so the
    # pixels outside the hole still come back byte-identical.
    image_bytes = tf.cast(image, tf.float32)
    hole_bool = tf.cast(mask, tf.float32) > 0.0
    hole = tf.cast(hole_bool, tf.float32)
    network = _run_within_max_side if fit_max_side else _run_network
    completed = network(generator, image_bytes / 255.0, hole, run)
    return tf.cast(tf.where(hole_bool, _to_byte_values(completed), image_bytes), tf.uint8)


def _decode_mask(encoded):
    """A mask file -> uint8 [H,W,1] with 1 = hole: white (>= 128), or non-zero in a 0/1 file."""
    mask = tf.io.decode_image(encoded, channels=1, dtype=tf.uint8, expand_animations=False)
    binary = tf.reduce_max(mask) <= 1
    return tf.where(binary, tf.cast(mask > 0, tf.uint8), tf.cast(mask >= 128, tf.uint8))


def _track_captured_variables(module: tf.Module, functions) -> None:
    """Make the tf.Variables the traced functions read part of `module`'s saved state.

    Keras 3 wraps each tf.Variable in a `keras.Variable`; a module tracking the wrappers
    (or the Keras model) saves a SavedModel that TF loads correctly, but the TFLite
    converter then cannot freeze the weights and writes a model without them (outputs
    saturate). Tracking the captured tf.Variables themselves, as `keras.export` does,
    satisfies both. The generator stays out of the module's attributes for the same reason.
    """
    captured = {}
    for function in functions:
        for variable in function.variables:
            captured[id(variable)] = variable
    module.captured_variables = list(captured.values())


class ServingModule(tf.Module):
    """The exported object: the serving signatures of the module docstring over a generator.

    Args:
        generator: a contract-4 inference generator (`size_multiple`, `max_side`, optionally
            `sample(inputs, seed)`).

    Reference:
        TF Serving SignatureDefs, https://www.tensorflow.org/tfx/serving/signature_defs
    """

    def __init__(self, generator):
        super().__init__(name="tfinpaint_serving")
        min_side = _min_side(generator)
        # Saved so a loader can pad and window inputs exactly as for the Keras model
        # (`tfinpaint.inference.SavedModelInpainter`); 0 = no side limit.
        self.size_multiple = tf.Variable(
            int(generator.size_multiple), trainable=False, dtype=tf.int64, name="size_multiple"
        )
        self.max_side = tf.Variable(
            int(generator.max_side or 0), trainable=False, dtype=tf.int64, name="max_side"
        )
        # The image side the generator was trained at (0 = unknown): loaders window photos at
        # that scale (`tfinpaint.inference.ModelInpainter`).
        self.train_size = tf.Variable(
            int(getattr(generator, "train_size", None) or 0),
            trainable=False,
            dtype=tf.int64,
            name="train_size",
        )
        self.has_sample = callable(getattr(generator, "sample", None))

        def inpaint(image, mask, run=None):
            image, mask = validate_inputs(image, mask, min_side)
            return inpaint_uint8(generator, image, mask, run)

        def serve(image, mask):
            return {"inpainted": inpaint(image, mask)}

        def serve_bytes(image_bytes, mask_bytes):
            checks = [
                tf.debugging.assert_equal(
                    tf.size(image_bytes),
                    tf.size(mask_bytes),
                    message="image_bytes and mask_bytes must hold the same number of files",
                ),
                tf.debugging.assert_positive(tf.size(image_bytes), message="empty batch: no image_bytes"),
            ]

            def one(pair):
                image = tf.io.decode_image(pair[0], channels=3, dtype=tf.uint8, expand_animations=False)
                inpainted = inpaint(image[None], _decode_mask(pair[1])[None])
                return tf.io.encode_png(inpainted[0])

            with tf.control_dependencies(checks):
                encoded = tf.map_fn(
                    one, (image_bytes, mask_bytes), fn_output_signature=tf.TensorSpec([], tf.string)
                )
            return {"inpainted_bytes": encoded}

        def sample(image, mask, seed):
            return {"inpainted": inpaint(image, mask, lambda inputs: generator.sample(inputs, seed))}

        # Plain closures wrapped here rather than decorated methods: the save traces every
        # input-signature function it finds, and `sample` exists only for some generators.
        self.serve = tf.function(serve, input_signature=[IMAGE_SPEC, MASK_SPEC])
        self.serve_bytes = tf.function(
            serve_bytes,
            input_signature=[
                tf.TensorSpec([None], tf.string, name="image_bytes"),
                tf.TensorSpec([None], tf.string, name="mask_bytes"),
            ],
        )
        if self.has_sample:
            self.serve_sample = tf.function(
                sample, input_signature=[IMAGE_SPEC, MASK_SPEC, tf.TensorSpec([], tf.int64, name="seed")]
            )
        _track_captured_variables(self, self.signatures().values())

    def signatures(self) -> dict:
        """Signature name -> concrete function, as `tf.saved_model.save` takes them."""
        signatures = {
            "serving_default": self.serve.get_concrete_function(),
            "bytes": self.serve_bytes.get_concrete_function(),
        }
        if self.has_sample:
            signatures["sample"] = self.serve_sample.get_concrete_function()
        return signatures


class _FixedSizeModule(tf.Module):
    """A single fixed-size uint8 signature for the TFLite converter (no asserts: TFLite has none)."""

    def __init__(self, generator, size: int):
        super().__init__(name="tfinpaint_tflite")

        def serve(image, mask):
            return {"inpainted": inpaint_uint8(generator, image, mask, fit_max_side=False)}

        self.serve = tf.function(
            serve,
            input_signature=[
                tf.TensorSpec([1, size, size, 3], tf.uint8, name="image"),
                tf.TensorSpec([1, size, size, 1], tf.uint8, name="mask"),
            ],
        )
        _track_captured_variables(self, [self.serve.get_concrete_function()])


# ---------------------------------------------------------------------------------------------
# Versions and atomic writes.
# ---------------------------------------------------------------------------------------------


def _next_version(base_dir: str) -> int:
    # Any integer folder counts, even a broken one, so a new export never lands inside it.
    taken = [int(e) for e in os.listdir(base_dir) if e.isdigit()] if os.path.isdir(base_dir) else []
    return max(taken, default=0) + 1


def _temp_dir_beside(path: str) -> str:
    # A leading dot and a non-integer name: TF Serving's version scan skips it while it fills.
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    return os.path.join(parent, f".tmp-{os.path.basename(path)}-{uuid.uuid4().hex[:8]}")


def _publish_dir(temp: str, target: str, overwrite: bool) -> None:
    """Rename a finished folder into place; an existing one is moved aside first (overwrite)."""
    if os.path.exists(target):
        if not overwrite:
            raise ExportError(
                f"{target} already exists; pass overwrite=True (--overwrite) or choose another version"
            )
        old = _temp_dir_beside(target)
        os.replace(target, old)
        os.replace(temp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(temp, target)


# ---------------------------------------------------------------------------------------------
# Public API.
# ---------------------------------------------------------------------------------------------


def save_serving_model(generator, path: str) -> None:
    """Write the serving SavedModel of `generator` to `path` (not atomic; see export_saved_model)."""
    module = ServingModule(generator)
    tf.saved_model.save(module, path, signatures=module.signatures())


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
    generator, out_dir: str, variants: Sequence[str] = ("fp32",), size: int = 256, overwrite: bool = False
) -> dict:
    """Write `model_{variant}.tflite` files (uint8 [1,size,size,*] I/O) into `out_dir`.

    Returns:
        variant -> path of the written file.
    """
    variants = parse_variants(variants)
    multiple = _min_side(generator)
    if size < multiple or size % multiple:
        raise ExportError(f"TFLite size {size}: this generator needs a multiple of {multiple}")
    max_side = getattr(generator, "max_side", None)
    if max_side and size > max_side:
        raise ExportError(f"TFLite size {size}: larger than the generator's max_side {max_side}")
    os.makedirs(out_dir, exist_ok=True)
    targets = {v: os.path.join(out_dir, f"model_{v}.tflite") for v in variants}
    existing = [p for p in targets.values() if os.path.exists(p)]
    if existing and not overwrite:
        raise ExportError(f"{existing[0]} already exists; pass overwrite=True (--overwrite)")
    if not variants:
        return {}
    staging = tempfile.mkdtemp(prefix=".tflite-src-", dir=out_dir)
    try:
        module = _FixedSizeModule(generator, size)
        tf.saved_model.save(
            module, staging, signatures={"serving_default": module.serve.get_concrete_function()}
        )
        for variant, path in targets.items():
            write_bytes_atomic(path, convert_tflite(staging, variant))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return targets


def export_saved_model(
    generator,
    base_dir: str,
    version: int | None = None,
    overwrite: bool = False,
    *,
    tflite: str | Sequence[str] | None = (),
    tflite_size: int = 256,
) -> str:
    """Export `generator` as version `version` of the TF Serving model at `base_dir`.

    The version folder (SavedModel, and `tflite/` when variants are asked for) is filled in a
    hidden temporary folder beside it and renamed into place, so a polling TF Serving never
    sees a half-written version.

    Args:
        generator: a contract-4 inference generator.
        base_dir: the model's base path, `saved_models/<name>`.
        version: integer version; `None` = one more than the largest existing version.
        overwrite: replace an existing version folder (otherwise `ExportError`).
        tflite: TFLite variants to add (`fp32`, `fp16`, `int8`), as a tuple or "fp32,fp16".
        tflite_size: the TFLite files' fixed square side.

    Returns:
        The version folder's path.
    """
    variants = parse_variants(tflite)
    automatic = version is None
    if automatic:
        version = _next_version(base_dir)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ExportError(f"version {version!r}: expected a positive integer")
    target = os.path.join(base_dir, str(version))
    if os.path.exists(target) and not overwrite:
        raise ExportError(
            f"{target} already exists; pass overwrite=True (--overwrite) or choose another version"
        )
    temp = _temp_dir_beside(target)
    try:
        save_serving_model(generator, temp)
        if variants:
            export_tflite(generator, os.path.join(temp, "tflite"), variants, tflite_size)
        while True:
            try:
                _publish_dir(temp, target, overwrite)
                break
            except (ExportError, OSError):
                # Another export (a concurrent run of the same model) took this version while
                # ours was being written: an automatic version moves on to the next free one.
                if not automatic or not os.path.exists(target):
                    raise
                target = os.path.join(base_dir, str(_next_version(base_dir)))
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return target


def write_models_config(out_root: str, container_root: str = "/models") -> str:
    """Write `<out_root>/models.config` (TF Serving's --model_config_file) for every model.

    A model is a sub-folder holding at least one integer version. Base paths name the folder
    as the TF Serving container sees it (`container_root/<name>`, the `docker run` mount).
    """
    names = sorted(
        e for e in os.listdir(out_root) if not e.startswith(".") and newest_version(os.path.join(out_root, e))
    )
    lines = ["model_config_list {"]
    for name in names:
        lines += [
            "  config {",
            f'    name: "{name}"',
            f'    base_path: "{container_root.rstrip("/")}/{name}"',
            '    model_platform: "tensorflow"',
            "  }",
        ]
    lines.append("}")
    path = os.path.join(out_root, CONFIG_FILE)
    write_bytes_atomic(path, ("\n".join(lines) + "\n").encode())
    return path


def load_generator(source: str):
    """The inference generator of a `.keras` file or a run directory (loaded in safe mode).

    Returns:
        (generator, default export name: `paper{N}_{preset}` when a `config.json` sits in the
        run directory or beside the file, else the file's stem).
    """
    if not os.path.exists(source):
        raise ExportError(f"{source}: no such file or folder; expected a run directory or a .keras file")
    try:
        path = resolve_model_path(source)
    except ModelPathError as error:
        raise ExportError(str(error)) from None
    if not path.endswith(".keras"):
        raise ExportError(
            f"{source}: a SavedModel; this needs the Keras generator (a .keras file or a run directory)"
        )
    try:
        generator = load_keras_generator(path)
    except (ValueError, TypeError, OSError) as error:
        raise ExportError(
            f"{path}: cannot be loaded as a tfinpaint generator ({type(error).__name__}: {error})"
        ) from error
    return generator, _default_name(path)


def _default_name(keras_path: str) -> str:
    identity = run_identity(keras_path)
    if identity:
        return f"paper{identity[0]}_{identity[1]}"
    return os.path.splitext(os.path.basename(keras_path))[0]


def export(
    source,
    name: str | None = None,
    version: int | None = None,
    tflite: str | Sequence[str] | None = ("fp32",),
    out_root: str = "saved_models",
    overwrite: bool = False,
    tflite_size: int = 256,
) -> str:
    """Export a run directory, `.keras` file or generator object under `out_root`.

    Writes `<out_root>/<name>/<version>/` (SavedModel + `tflite/`) and refreshes
    `<out_root>/models.config`. `name` defaults to `paper{N}_{preset}` for a run directory
    and to the file's stem for a `.keras` file.

    Returns:
        The version folder's path.
    """
    if isinstance(source, keras.Model):
        generator = source
        if name is None:
            raise ExportError("export(generator): pass name= for an in-memory model")
    else:
        generator, default_name = load_generator(os.fspath(source))
        name = name or default_name
    if not name or os.sep in name or name.startswith(".") or name.isdigit():
        raise ExportError(f"model name {name!r}: expected a plain folder name (not a number)")
    path = export_saved_model(
        generator, os.path.join(out_root, name), version, overwrite, tflite=tflite, tflite_size=tflite_size
    )
    write_models_config(out_root)
    return path
