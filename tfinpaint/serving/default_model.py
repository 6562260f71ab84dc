"""The shipped default model as a TF Serving base path, for `tfinpaint serve` with no model.

The package ships the default model's export (`tfinpaint.default_export`): a server serves it
straight from the package. When it cannot be used (a damaged install, or weights or code changed
since it was made), the first start exports `weights/default.keras` with the same signatures
into a cache folder keyed by the weights' hash and the tfinpaint and TensorFlow versions, and
later starts reuse it. A cache export whose manifest does not match its files (a truncated
`variables.data`, a disk that filled up) is removed and made again. Nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil

from tfinpaint import artifacts, default_export


def cache_dir() -> str:
    """`$TFINPAINT_CACHE`, else `$XDG_CACHE_HOME/tfinpaint`, else `~/.cache/tfinpaint`."""
    if os.environ.get("TFINPAINT_CACHE"):
        return os.environ["TFINPAINT_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tfinpaint")


def _export_key(keras_path: str) -> str:
    """A new key for new weights, and for a tfinpaint or TensorFlow that exports differently."""
    import tensorflow as tf

    import tfinpaint

    digest = hashlib.sha256(f"{tfinpaint.__version__} {tf.__version__}\n".encode())
    with open(keras_path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def _print(message: str) -> None:
    print(message, flush=True)


@contextlib.contextmanager
def _quiet_tensorflow_logger():
    """Hide TensorFlow's Python log lines while saving: two ~5 KB "Function `serve` contains
    input name(s) …" warnings about the Keras layers' internal names and "Assets written to"."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def export_default(base_path: str, keras_path: str | None = None) -> str:
    """Export the default generator as version 1 of `base_path`, with its manifest; returns
    the version folder. Used for the cache and, by `scripts/ship_default_model.py`, the package.

    Raises:
        ExportError: the version exists (another server published it first) or cannot be written.
    """
    from tfinpaint.export.publishing import publish_version
    from tfinpaint.export.signatures import save_serving_model
    from tfinpaint.inference import SizePolicy, load_generator

    keras_path = keras_path or artifacts.DEFAULT_MODEL_PATH
    generator = load_generator(keras_path)
    policy = SizePolicy.for_generator(generator)

    def fill(folder):
        save_serving_model(generator, folder, policy)
        default_export.write_manifest(folder, keras_path)

    with _quiet_tensorflow_logger():
        return publish_version(base_path, default_export.VERSION, False, fill)


def default_base_path(cache: str | None = None, say=_print) -> str:
    """The base path serving the default model: the shipped export, else one in the cache,
    exported there first (again, when the one there is damaged).

    Args:
        cache: the cache folder (default: `cache_dir()`).
        say: where the one-time export announces itself.

    Returns:
        The package's `weights/default_export`, or `<cache>/serving/default-<key>`; either
        holds version 1.

    Raises:
        FileNotFoundError: this install has no default model.
        ExportError: the export cannot be written (the message names the folder).
    """
    keras_path = artifacts.DEFAULT_MODEL_PATH
    if not os.path.isfile(keras_path):
        raise FileNotFoundError(
            f"the default model is missing from this install (expected {keras_path}); "
            "serve an export instead: tfinpaint serve --model-base-path saved_models/NAME"
        )
    if default_export.shipped_version_path() is not None:
        return default_export.SHIPPED_BASE_PATH
    import tensorflow as tf

    from tfinpaint.export import ExportError

    name = f"{artifacts.DEFAULT_MODEL_NAME}-{_export_key(keras_path)}"
    base = os.path.join(cache or cache_dir(), "serving", name)
    version = os.path.join(base, str(default_export.VERSION))
    if os.path.isdir(version):
        problem = default_export.check(version)
        if problem is None:
            return base
        say(f"the default model's export in {version} is unusable ({problem}); exporting it again")
        shutil.rmtree(version)
    say(f"exporting the default model to {base} (first start only)")
    try:
        export_default(base)
    except ExportError:
        if default_export.check(version) is not None:
            raise
        # Another server starting at the same time published it first: theirs serves.
    except (OSError, tf.errors.OpError) as error:
        reason = getattr(error, "strerror", None) or getattr(error, "message", None) or error
        raise ExportError(
            f"cannot export the default model into {base} ({reason}); free space there, or "
            "choose another folder with --cache-dir"
        ) from None
    return base
