"""Trained models on disk: what a `--model` value stands for, where runs and exports live, their names.

The layouts:
- a `.keras` file: a generator saved by Keras (`tfinpaint.inference.load_generator` loads it);
- a run directory: `config.json` (the run's resolved config) beside the generator's `.keras` file;
- a run's checkpoint: `<run>/checkpoints/ckpt-N` (its `.index` and `.data-*` files), the generator
  at step N of a run, finished or not (`tfinpaint.inference.load_generator` builds it from the
  run's config);
- a TF Serving base path: integer version folders, each a SavedModel (`saved_model.pb`);
- `default`: the generator shipped inside the package, `DEFAULT_MODEL_PATH`.

Only the standard library is imported here, so every other module can point down to this one.
"""

from __future__ import annotations

import json
import os
import re

DEFAULT_MODEL_NAME = "default"
DEFAULT_MODEL_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights", "default.keras")
DEFAULT_EXPORT_ROOT = "saved_models"
RUN_CONFIG = "config.json"
# A finished run's generator; the end of each earlier phase sits beside it as
# `generator-<phase>.keras` (paper 2: `-reconstruction`, `-critics`).
RUN_GENERATOR = "generator.keras"
RUN_CHECKPOINTS = "checkpoints"
CHECKPOINT_NAME = re.compile(r"ckpt-\d+")
# A checkpoint's keys for the generator and, when the run keeps one (`train.ema_decay`), its
# averaged weights, which a checkpoint read as a model gives, as the run's `.keras` files do.
CHECKPOINT_GENERATOR = "generator"
CHECKPOINT_AVERAGE = "generator_average"
SAVED_MODEL_FILE = "saved_model.pb"
MODEL_FORMS = (
    "a .keras file, a SavedModel version folder, a base path with version folders, a run directory, "
    f"a run's checkpoint (RUN/{RUN_CHECKPOINTS}/ckpt-N), "
    f"or '{DEFAULT_MODEL_NAME}' (the model shipped with tfinpaint)"
)


class ModelPathError(ValueError):
    """A `--model` value that is not a model tfinpaint can load; the message says what it found."""


class RunFileError(ValueError):
    """A run's JSON file (config.json, run.json) that cannot be read; the message names it."""


def is_saved_model(path: str) -> bool:
    return os.path.isfile(os.path.join(path, SAVED_MODEL_FILE))


def newest_version(base_path: str) -> tuple[int, str] | None:
    """(version, folder) of the highest integer version under a TF Serving base path, or None.

    Only folders named by an integer and holding a `saved_model.pb` count, as for TF Serving;
    a half-written export (a hidden temporary folder) never does.
    """
    if not os.path.isdir(base_path):
        return None
    versions = [
        int(e) for e in os.listdir(base_path) if e.isdigit() and is_saved_model(os.path.join(base_path, e))
    ]
    if not versions:
        return None
    best = max(versions)
    return best, os.path.join(base_path, str(best))


def checkpoint_prefix(path: str) -> str | None:
    """The prefix (`.../ckpt-N`) of a run checkpoint `path` names, as the prefix or as its `.index`
    file (what a shell completes), or None when `path` is no checkpoint."""
    prefix = path.removesuffix(".index")
    if CHECKPOINT_NAME.fullmatch(os.path.basename(prefix)) and os.path.isfile(prefix + ".index"):
        return prefix
    return None


def holds_keras_generator(resolved: str) -> bool:
    """Whether a `resolve_model` result is a Keras generator (a `.keras` file or a run checkpoint),
    not a SavedModel export."""
    return resolved.endswith(".keras") or checkpoint_prefix(resolved) is not None


def checkpoint_run_dir(prefix: str) -> str:
    """The run directory a checkpoint prefix belongs to (`<run>/checkpoints/ckpt-N` -> `<run>`)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(prefix)))


def _checkpoint_model(path: str, prefix: str) -> str:
    """`prefix`, when it sits in a run's `checkpoints` folder beside the run's config."""
    config = os.path.join(checkpoint_run_dir(prefix), RUN_CONFIG)
    in_run = os.path.basename(os.path.dirname(os.path.abspath(prefix))) == RUN_CHECKPOINTS
    if not (in_run and os.path.isfile(config)):
        raise ModelPathError(
            f"--model {path}: a checkpoint outside a run directory (no {config}); expected "
            f"RUN/{RUN_CHECKPOINTS}/ckpt-N of a run tfinpaint trained, whose config builds the generator."
        )
    return prefix


def default_model_path() -> str:
    """The shipped generator's `.keras` file; `ModelPathError` when the install lacks it."""
    if not os.path.isfile(DEFAULT_MODEL_PATH):
        raise ModelPathError(
            f"the default model is missing from this install (expected {DEFAULT_MODEL_PATH}); "
            "reinstall tfinpaint, or pass --model with a .keras file, an export or a run directory."
        )
    return DEFAULT_MODEL_PATH


def _run_dir_model(path: str) -> str:
    """The run's final generator; else its only `.keras` file (e.g. a run stopped after phase 1)."""
    final = os.path.join(path, RUN_GENERATOR)
    if os.path.isfile(final):
        return final
    models = sorted(f for f in os.listdir(path) if f.endswith(".keras"))
    if len(models) == 1:
        return os.path.join(path, models[0])
    holding = "no .keras file"
    if models:
        holding = f"{len(models)} .keras files ({', '.join(models)}): pass one as --model"
    raise ModelPathError(
        f"{path}: a run directory ({RUN_CONFIG}) with no {RUN_GENERATOR} (has the run finished?) "
        f"and {holding}."
    )


def resolve_model(value: str | os.PathLike | None = None) -> str:
    """The `.keras` file or SavedModel version folder a `--model` value stands for.

    Accepts `default` (or None: the shipped model), a `.keras` file, a SavedModel version folder,
    a TF Serving base path (integer version folders; the highest wins), a run directory
    (`config.json` + the generator's `.keras`) or a run's checkpoint (returned as its prefix).

    Raises:
        ModelPathError: nothing usable at `value`, or the shipped model is missing.
    """
    if value is None or os.fspath(value) == DEFAULT_MODEL_NAME:
        return default_model_path()
    path = os.fspath(value)
    prefix = checkpoint_prefix(path)
    if prefix:
        return _checkpoint_model(path, prefix)
    if not os.path.exists(path):
        raise ModelPathError(f"--model {path}: no such file or folder; expected {MODEL_FORMS}.")
    if os.path.isfile(path):
        if path.endswith(".keras"):
            return path
        raise ModelPathError(f"--model {path}: a file that is not .keras; expected {MODEL_FORMS}.")
    if is_saved_model(path):
        return path
    newest = newest_version(path)
    if newest:
        return newest[1]
    if os.path.isfile(os.path.join(path, RUN_CONFIG)):
        return _run_dir_model(path)
    raise ModelPathError(
        f"--model {path}: a folder with no {SAVED_MODEL_FILE}, no integer version folders and no "
        f"{RUN_CONFIG}; expected {MODEL_FORMS}."
    )


def read_run_json(
    path: str,
    what: str = "the run's file",
    todo: str = "restore it, or remove the run directory and train again",
) -> dict:
    """A run's JSON file as a dict; `RunFileError` naming the file, what is wrong and `todo`."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RunFileError(
            f"{path} is damaged ({what} cannot be read: {error}), truncated or half written (a full "
            f"disk or a power cut while it was written); {todo}"
        ) from None
    if not isinstance(data, dict):
        raise RunFileError(
            f"{path} is damaged ({what} should be a JSON object, found {type(data).__name__}: a "
            f"truncated or overwritten file); {todo}"
        )
    return data


def run_config(keras_path: str) -> dict | None:
    """The config (`config.json`) of the run a `.keras` generator (or a checkpoint) was saved in, or None."""
    prefix = checkpoint_prefix(keras_path)
    run = checkpoint_run_dir(prefix) if prefix else os.path.dirname(os.path.abspath(keras_path))
    path = os.path.join(run, RUN_CONFIG)
    if not os.path.isfile(path):
        return None
    data = read_run_json(path)
    return data if "paper" in data and "preset" in data else None


def training_size(keras_path: str) -> int | None:
    """The image side a `.keras` generator's run trained at (`data.image_size`), or None."""
    config = run_config(keras_path)
    size = (config or {}).get("data", {}).get("image_size")
    return int(size) if size else None
