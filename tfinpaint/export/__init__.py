"""Export an inference generator as a TF Serving SavedModel and as TFLite files.

`export()` is the one command (`tfinpaint export`): it loads a run directory, a `.keras` file or
the shipped `default` model and writes `<out_root>/<name>/<version>/` (SavedModel and
`tflite/`), then refreshes `<out_root>/models.config`. The parts:
- `signatures`: the serving signatures, with the size policy in their graph;
- `tflite`: the fixed-size phone files;
- `publishing`: versions, atomic folders, TF Serving's model config.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import keras

from tfinpaint import artifacts
from tfinpaint.export.publishing import CONFIG_FILE, ExportError, publish_version, write_models_config
from tfinpaint.export.signatures import save_serving_model
from tfinpaint.export.tflite import TFLITE_VARIANTS, checked_size, export_tflite, parse_variants
from tfinpaint.inference.loading import keras_generator_path, load_generator, model_names
from tfinpaint.inference.sizing import DEFAULT_CONTEXT, DEFAULT_MAX_SIDE, SizePolicy

__all__ = [
    "CONFIG_FILE",
    "TFLITE_VARIANTS",
    "ExportError",
    "export",
    "export_saved_model",
    "export_tflite",
    "load_source",
    "parse_variants",
    "save_serving_model",
    "write_models_config",
]


def export_saved_model(
    generator,
    base_dir: str,
    version: int | None = None,
    overwrite: bool = False,
    *,
    tflite: str | Sequence[str] | None = (),
    tflite_size: int | None = None,
    max_side: int = DEFAULT_MAX_SIDE,
    context: int = DEFAULT_CONTEXT,
) -> str:
    """Export `generator` as version `version` of the TF Serving model at `base_dir`.

    The version folder (SavedModel, and `tflite/` when variants are asked for) is filled in a
    hidden temporary folder beside it and renamed into place, so a polling TF Serving never
    sees a half-written version.

    Args:
        generator: an inference generator.
        base_dir: the model's base path, `saved_models/<name>`.
        version: integer version; `None` = one more than the largest existing version.
        overwrite: replace an existing version folder (otherwise `ExportError`).
        tflite: TFLite variants to add (`fp32`, `fp16`, `int8`), as a tuple or "fp32,fp16".
        tflite_size: the TFLite files' fixed square side (None: `tflite.default_size`).
        max_side, context: the size policy baked into the graph (`SizePolicy.for_generator`).

    Returns:
        The version folder's path.
    """
    variants = parse_variants(tflite)
    try:
        policy = SizePolicy.for_generator(generator, max_side=max_side, context=context)
    except ValueError as error:
        raise ExportError(str(error)) from None
    if variants:
        tflite_size = checked_size(policy, tflite_size)

    def fill(folder):
        save_serving_model(generator, folder, policy)
        if variants:
            export_tflite(generator, os.path.join(folder, "tflite"), variants, tflite_size, policy=policy)

    return publish_version(base_dir, version, overwrite, fill)


def load_source(source: str):
    """The generator of a run directory, a `.keras` file or `default` (loaded in safe mode).

    Returns:
        (generator, default export name: `default`; the run's `ExperimentConfig.export_name`
        when a `config.json` sits in the run directory or beside the file — `train.name`, else
        `paper{N}_{preset}` followed by `_<data name>` for a run on other data, plus `_<phase>`
        for a phase-end checkpoint; else the file's stem).
    """
    try:
        path = keras_generator_path(source)
        generator = load_generator(path)
    except artifacts.ModelPathError as error:
        raise ExportError(str(error)) from None
    if os.fspath(source) == artifacts.DEFAULT_MODEL_NAME:
        return generator, artifacts.DEFAULT_MODEL_NAME
    return generator, model_names(path)[1]


def export(
    source,
    name: str | None = None,
    version: int | None = None,
    tflite: str | Sequence[str] | None = ("fp32",),
    out_root: str = artifacts.DEFAULT_EXPORT_ROOT,
    overwrite: bool = False,
    tflite_size: int | None = None,
    *,
    max_side: int = DEFAULT_MAX_SIDE,
    context: int = DEFAULT_CONTEXT,
) -> str:
    """Export a run directory, `.keras` file, `default` or generator object under `out_root`.

    Writes `<out_root>/<name>/<version>/` (SavedModel + `tflite/`) and refreshes
    `<out_root>/models.config`. `name` defaults to `default` for the shipped model, the run's
    export name for a run directory or a run's `.keras` file (see `load_source`: the data's name
    follows `paper{N}_{preset}` for a run on other data) and the file's stem for another `.keras`.

    Returns:
        The version folder's path.
    """
    if isinstance(source, keras.Model):
        generator = source
        if name is None:
            raise ExportError("export(generator): pass name= for an in-memory model")
    else:
        generator, default_name = load_source(os.fspath(source))
        name = name or default_name
    if not name or os.sep in name or name.startswith(".") or name.isdigit():
        raise ExportError(f"model name {name!r}: expected a plain folder name (not a number)")
    path = export_saved_model(
        generator,
        os.path.join(out_root, name),
        version,
        overwrite,
        tflite=tflite,
        tflite_size=tflite_size,
        max_side=max_side,
        context=context,
    )
    write_models_config(out_root)
    return path
