"""From a `--model` value to something that inpaints: generators, model inpainters, baselines.

`load_inpainter` is the factory every command uses (`tfinpaint evaluate`, `tfinpaint inpaint`,
the web page): a classical baseline by name, or a model as `tfinpaint.artifacts.resolve_model`
finds it (`default`, a `.keras` file, an export, a run directory).
"""

from __future__ import annotations

import os
import typing

from tfinpaint import artifacts, default_export
from tfinpaint.artifacts import ModelPathError
from tfinpaint.inference.baselines import BASELINES
from tfinpaint.inference.inpainters import Inpainter
from tfinpaint.inference.sizing import DEFAULT_CONTEXT, DEFAULT_MAX_SIDE

if typing.TYPE_CHECKING:
    from tfinpaint.inference.model_inpainters import ModelInpainter


def load_generator(path: str | os.PathLike):
    """The inference generator saved in a `.keras` file or a run checkpoint, or `default`: the shipped one.

    `safe_mode=True` refuses arbitrary code (lambdas) in the file, but a model file is still
    code: load only files you trust. The generator's `train_size` is in its saved config; a
    file saved before it was is rebuilt with the size of the run directory it sits in.

    Raises:
        ModelPathError: the file cannot be loaded, or holds no tfinpaint generator.
    """
    import keras

    # The papers' modules register the generator classes the file names.
    from tfinpaint.models import paper1, paper2  # noqa: F401
    from tfinpaint.models.generator import InpaintingGenerator

    if os.fspath(path) == artifacts.DEFAULT_MODEL_NAME:
        path = artifacts.default_model_path()
    prefix = artifacts.checkpoint_prefix(os.fspath(path))
    if prefix:
        return _checkpoint_generator(prefix)
    try:
        generator = keras.saving.load_model(path, safe_mode=True, compile=False)
    except (ValueError, TypeError, OSError) as error:
        raise ModelPathError(
            f"{path}: cannot be loaded as a tfinpaint generator ({type(error).__name__}: {error})."
        ) from error
    if not isinstance(generator, InpaintingGenerator):
        raise ModelPathError(
            f"{path}: holds a {type(generator).__name__}; expected a tfinpaint generator "
            "(an InpaintingGenerator: a training run's generator.keras or `tfinpaint export`'s input)."
        )
    train_size = artifacts.training_size(path) if generator.train_size is None else None
    return _with_train_size(generator, train_size) if train_size else generator


def _checkpoint_generator(prefix: str):
    """The generator of a run checkpoint: built from the run's `config.json`, its weights read
    (the averaged generator's when the run kept one, as the run's own `.keras` files do).

    It is built under the current dtype policy (float32 unless set), whatever precision the run
    trained in: the checkpoint's variables are float32 either way.
    """
    import importlib

    import tensorflow as tf

    from tfinpaint.config import ConfigError, ExperimentConfig
    from tfinpaint.config.papers import registered_paper

    config_path = os.path.join(artifacts.checkpoint_run_dir(prefix), artifacts.RUN_CONFIG)
    try:
        experiment = ExperimentConfig.from_dict(artifacts.run_config(prefix) or {})
        networks = importlib.import_module(registered_paper(experiment.paper).networks)
    except (ConfigError, KeyError, TypeError, ValueError) as error:
        raise ModelPathError(
            f"{prefix}: {config_path} does not describe a tfinpaint run this version can build "
            f"({type(error).__name__}: {error})"
        ) from None
    generator = networks.build_generator(experiment)
    try:
        names = {name.split("/", 1)[0] for name, _ in tf.train.list_variables(prefix)}
        key = (
            artifacts.CHECKPOINT_AVERAGE
            if artifacts.CHECKPOINT_AVERAGE in names
            else artifacts.CHECKPOINT_GENERATOR
        )
        # expect_partial: the critics and optimizers the checkpoint also holds are not wanted here.
        status = tf.train.Checkpoint(**{key: generator}).read(prefix)
        status.expect_partial().assert_existing_objects_matched()
    except (tf.errors.OpError, ValueError, AssertionError) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise ModelPathError(
            f"{prefix}: cannot be read as the generator {config_path} describes ({first}); expected an "
            "intact checkpoint of that run"
        ) from None
    return generator


def _with_train_size(generator, train_size: int):
    """`generator` built again with `train_size`, its constructor argument, and its weights."""
    rebuilt = type(generator).from_config({**generator.get_config(), "train_size": train_size})
    rebuilt.build_from_config(generator.get_build_config())
    rebuilt.set_weights(generator.get_weights())
    return rebuilt


def keras_generator_path(model: str | os.PathLike) -> str:
    """The `.keras` file (or run checkpoint) of a value naming a Keras generator: `default`, a file,
    a run directory or a checkpoint.

    Raises:
        ModelPathError: nothing loadable there, or an export (a SavedModel holds no Keras
            generator to export again or to train on).
    """
    path = artifacts.resolve_model(model)
    if not artifacts.holds_keras_generator(path):
        raise ModelPathError(
            f"{model}: {path} is a SavedModel export; this needs the Keras generator (a .keras file, "
            f"a run directory, a run's checkpoint or {artifacts.DEFAULT_MODEL_NAME})"
        )
    return path


def model_names(keras_path: str) -> tuple[str, str]:
    """(report name, export name) of a `.keras` generator: its run's (`ExperimentConfig.name`
    and `export_name`, which follow a run on other data or a `train.name`), else the file's
    stem for both. A phase-end checkpoint of a run, `generator-<phase>.keras`, adds its phase
    (`paper2-default-reconstruction`), and a run checkpoint its step (`paper2-default-ckpt-4000`),
    so neither is scored or exported as the final one."""
    from tfinpaint.config import ConfigError, ExperimentConfig

    stem = os.path.splitext(os.path.basename(keras_path))[0]
    config = artifacts.run_config(keras_path)
    if config:
        try:
            experiment = ExperimentConfig.from_dict(config)
        except (ConfigError, KeyError, TypeError, ValueError):
            pass  # a config this tfinpaint cannot read names nothing: the file's stem does
        else:
            phase = stem.removeprefix("generator").lstrip("-")
            suffix = f"-{phase}" if phase else ""
            return experiment.name + suffix, experiment.export_name + suffix.replace("-", "_")
    return stem, stem


def load_model_inpainter(
    model: str | os.PathLike | None = None, *, max_side: int | None = None, context: int | None = None
) -> ModelInpainter:
    """A `KerasInpainter` or `SavedModelInpainter` for a `--model` value.

    The default model with the default policy runs from its shipped export
    (`tfinpaint.default_export`, same pixels, no tracing at start-up) when that matches the
    shipped weights and this code, else from its `.keras` file.

    Args:
        model: what `tfinpaint.artifacts.resolve_model` accepts; None or "default" = the model
            shipped with tfinpaint.
        max_side, context: the size policy's window limit and context (`SizePolicy.for_generator`;
            None = 1024 and 128 for a `.keras` generator, what an export was made with).

    Raises:
        ModelPathError: nothing loadable at `model`, or the shipped model is missing.
    """
    from tfinpaint.inference.model_inpainters import KerasInpainter, SavedModelInpainter

    is_default = model is None or os.fspath(model) == artifacts.DEFAULT_MODEL_NAME
    shipped = default_export.shipped_version_path() if is_default else None
    if shipped is not None and max_side is None and context is None:
        return SavedModelInpainter(shipped, name=artifacts.DEFAULT_MODEL_NAME)
    resolved = artifacts.resolve_model(model)
    if not artifacts.holds_keras_generator(resolved):
        return SavedModelInpainter(resolved, max_side=max_side, context=context)
    generator = load_generator(resolved)
    name = artifacts.DEFAULT_MODEL_NAME if is_default else model_names(resolved)[0]
    return KerasInpainter(
        generator,
        name=name,
        max_side=DEFAULT_MAX_SIDE if max_side is None else max_side,
        context=DEFAULT_CONTEXT if context is None else context,
    )


def load_inpainter(
    model: str | os.PathLike | None = None, *, max_side: int | None = None, context: int | None = None
) -> Inpainter:
    """A classical baseline by name ("telea", "ns", "biharmonic"; any case) or a model.

    Models go to `load_model_inpainter`: None or "default" (the shipped model), a `.keras`
    file, a SavedModel version folder, a base path holding integer version folders (newest
    wins), a run directory, or a run's checkpoint.
    """
    key = "" if model is None else str(model).strip().lower()
    if key in BASELINES:
        return BASELINES[key]()
    if key == artifacts.DEFAULT_MODEL_NAME:
        model = artifacts.DEFAULT_MODEL_NAME  # any case, as the baselines' names
    elif model is not None and not (os.path.exists(model) or artifacts.checkpoint_prefix(os.fspath(model))):
        raise ModelPathError(
            f"--model {str(model)!r}: not a baseline name and no such file or folder. Expected one of "
            f"{', '.join(BASELINES)} (any case), or {artifacts.MODEL_FORMS}."
        )
    try:
        return load_model_inpainter(model, max_side=max_side, context=context)
    except ModelPathError as error:
        if model not in (None, artifacts.DEFAULT_MODEL_NAME):
            raise
        # Without the shipped weights (or with a damaged file) a classical fill still works.
        raise ModelPathError(
            f"{error} A classical fill needs no model: --model {' | '.join(BASELINES)}."
        ) from None
