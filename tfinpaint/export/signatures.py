"""The exported object: TF Serving signatures over a generator, with the size policy in their graph.

Signatures (the serving contract):
- `serving_default`: `image` uint8 [N,H,W,3], `mask` uint8 [N,H,W,1] (non-zero = hole), any H
  and W -> `inpainted` uint8 [N,H,W,3].
- `bytes`: `image_bytes`, `mask_bytes` string [N] (encoded PNG/JPEG/BMP/GIF; the mask's white
  (>= 128) pixels are holes, or its non-zero ones when the file holds only 0 and 1)
  -> `inpainted_bytes` string [N] (RGB PNG). Each pair may have its own size.
- `sample` (generators with a `sample` method, paper 1): `image`, `mask` as above and `seed`
  int64 scalar -> `inpainted`, one random completion per seed.

Every signature completes each image by `tfinpaint.inference.sizing` (windows around the holes,
at the model's training scale), so a photo of any size gets the pixels `tfinpaint inpaint
--blend none` gives; outside the hole the output is the input, byte for byte. The policy's
numbers are saved as variables (`size_multiple`, `window_side`, `context`, `train_size`,
`max_side`, `paper`, and `blend`: the model's own post-processing, "" = its paper's) for loaders
(`tfinpaint.inference.SavedModelInpainter`), which apply the blend outside the graph.

Reference:
    TF Serving SignatureDefs, https://www.tensorflow.org/tfx/serving/signature_defs
"""

from __future__ import annotations

import tensorflow as tf

from tfinpaint.inference.sizing import SizePolicy
from tfinpaint.inference.windows import complete

IMAGE_SPEC = tf.TensorSpec([None, None, None, 3], tf.uint8, name="image")
MASK_SPEC = tf.TensorSpec([None, None, None, 1], tf.uint8, name="mask")


def validate_inputs(image, mask, min_side: int):
    """In-graph checks of a uint8 request; failures are InvalidArgument with a readable message.

    TF Serving checks nothing itself, so these asserts are what stands between a malformed
    request and an obscure kernel error (or a crash) deep inside the generator. Sides below the
    network's size multiple are refused (the Python API scales such slivers up instead).
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


def decode_mask(encoded):
    """A mask file -> uint8 [H,W,1] with 1 = hole: white (>= 128), or non-zero in a 0/1 file
    (`tfinpaint.convention`'s rule)."""
    mask = tf.io.decode_image(encoded, channels=1, dtype=tf.uint8, expand_animations=False)
    binary = tf.reduce_max(mask) <= 1
    return tf.where(binary, tf.cast(mask > 0, tf.uint8), tf.cast(mask >= 128, tf.uint8))


def track_captured_variables(module: tf.Module, functions) -> None:
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


def _saved_int(value: int | None, name: str) -> tf.Variable:
    return tf.Variable(int(value or 0), trainable=False, dtype=tf.int64, name=name)


class ServingModule(tf.Module):
    """The serving signatures of the module docstring over a generator.

    Args:
        generator: an `InpaintingGenerator` (optionally with `sample(inputs, seed)`).
        policy: the size policy baked into the graph.
    """

    def __init__(self, generator, policy: SizePolicy):
        super().__init__(name="tfinpaint_serving")
        # Saved for loaders and readers of the export (0 = unknown / no limit).
        self.size_multiple = _saved_int(policy.multiple, "size_multiple")
        self.window_side = _saved_int(policy.window_side, "window_side")
        self.native_side = _saved_int(policy.native_side, "native_side")
        self.context = _saved_int(policy.context, "context")
        self.max_side = _saved_int(generator.max_side, "max_side")
        self.train_size = _saved_int(generator.train_size, "train_size")
        self.paper = _saved_int(generator.paper, "paper")
        self.blend = tf.Variable(getattr(generator, "blend", None) or "", trainable=False, name="blend")
        self.has_sample = callable(getattr(generator, "sample", None))

        def inpaint(image, mask, run):
            image, mask = validate_inputs(image, mask, policy.multiple)
            return tf.map_fn(
                lambda pair: complete(pair[0], pair[1], run, policy),
                (image, mask[..., 0] > 0),
                fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8),
            )

        def serve(image, mask):
            return {"inpainted": inpaint(image, mask, lambda inputs: generator(inputs, training=False))}

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
                inpainted = serve(image[None], decode_mask(pair[1])[None])["inpainted"]
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
        track_captured_variables(self, self.signatures().values())

    def signatures(self) -> dict:
        """Signature name -> concrete function, as `tf.saved_model.save` takes them."""
        signatures = {
            "serving_default": self.serve.get_concrete_function(),
            "bytes": self.serve_bytes.get_concrete_function(),
        }
        if self.has_sample:
            signatures["sample"] = self.serve_sample.get_concrete_function()
        return signatures


def save_serving_model(generator, path: str, policy: SizePolicy) -> None:
    """Write the serving SavedModel of `generator` to `path` (not atomic; see export_saved_model)."""
    module = ServingModule(generator, policy)
    tf.saved_model.save(module, path, signatures=module.signatures())
