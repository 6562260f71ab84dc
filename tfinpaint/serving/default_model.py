"""The shipped default model as a TF Serving base path, for `tfinpaint serve` with no model.

The package ships a Keras generator (`tfinpaint/weights/default.keras`); the server serves
SavedModels. The first start exports it, with the same signatures as `tfinpaint export`,
into a cache folder keyed by the weights' hash and the tfinpaint and TensorFlow versions;
later starts reuse that export. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import os

from tfinpaint import artifacts


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


def default_base_path(cache: str | None = None, say=_print) -> str:
    """The base path serving the default model, exported there first if it is not yet.

    Args:
        cache: the cache folder (default: `cache_dir()`).
        say: where the one-time export announces itself.

    Returns:
        `<cache>/serving/default-<key>`, holding version 1.

    Raises:
        FileNotFoundError: this install has no default model.
    """
    keras_path = artifacts.DEFAULT_MODEL_PATH
    if not os.path.isfile(keras_path):
        raise FileNotFoundError(
            f"the default model is missing from this install (expected {keras_path}); "
            "serve an export instead: tfinpaint serve --model-base-path saved_models/NAME"
        )
    name = f"{artifacts.DEFAULT_MODEL_NAME}-{_export_key(keras_path)}"
    base = os.path.join(cache or cache_dir(), "serving", name)
    if artifacts.newest_version(base) is None:
        from tfinpaint.export import ExportError, export_saved_model
        from tfinpaint.inference import load_generator

        say(f"exporting the default model to {base} (first start only)")
        try:
            export_saved_model(load_generator(keras_path), base, version=1)
        except ExportError:
            if artifacts.newest_version(base) is None:
                raise
            # Another server starting at the same time published it first: theirs serves.
    return base
