"""A run directory's files: `config.json` (the resolved config), `run.json` (state and summary)."""

from __future__ import annotations

import json
import os
import shutil

from tfinpaint.artifacts import RunFileError, read_run_json
from tfinpaint.config import ConfigError, ExperimentConfig


class RunError(RuntimeError):
    """A run that cannot start or go on (finished already, config mismatch, damaged run files,
    non-finite loss)."""


def read_json(path: str, what: str) -> dict:
    """A run file's JSON object; a `RunError` naming the file and what to do when it is damaged."""
    try:
        return read_run_json(
            path, what, "pass --overwrite to train this run again from scratch, or --run-dir for a new run"
        )
    except RunFileError as error:
        raise RunError(str(error)) from None


def write_json(path: str, value) -> None:
    from tfinpaint.imagefiles import write_bytes_atomic

    write_bytes_atomic(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode())


def prepare_run_dir(run_dir: str, config: ExperimentConfig, overwrite: bool) -> None:
    """Create `run_dir` for `config`, or check it holds an unfinished run of the same config.

    Raises:
        RunError: a finished run (without `overwrite`), another config, a folder that is not a
            run, or damaged run files.
    """
    config_path = os.path.join(run_dir, "config.json")
    state_path = os.path.join(run_dir, "run.json")
    if os.path.exists(run_dir) and overwrite:
        shutil.rmtree(run_dir)
    finished = (
        os.path.exists(state_path) and read_json(state_path, "the run's state").get("state") == "finished"
    )
    wanted = json.loads(config.to_json())
    saved = _saved_config(config_path) if os.path.exists(config_path) else None
    if finished:
        if saved is not None and saved != wanted:
            # Two data folders with one base name give one run name: say so before --overwrite.
            raise RunError(
                f"{run_dir} holds a finished run of another config ({_diff(saved, wanted)}); "
                "--overwrite would delete it: pass --run-dir (or --set train.name=NAME) for a new run"
            )
        raise RunError(
            f"{run_dir} holds a finished run; pass --overwrite to train it again "
            "from scratch, or --run-dir for a new run"
        )
    if saved is not None:
        if saved != wanted:
            raise RunError(
                f"{run_dir} holds an unfinished run with another config ({_diff(saved, wanted)}); rerun "
                "with the same settings to resume, or pass --overwrite or --run-dir"
            )
    elif os.path.isdir(run_dir) and os.listdir(run_dir):
        raise RunError(f"{run_dir} exists and is not a tfinpaint run; pass --overwrite or --run-dir")
    os.makedirs(run_dir, exist_ok=True)
    write_json(config_path, wanted)
    write_json(state_path, {"state": "running"})


def _saved_config(config_path: str) -> dict:
    """A run's config.json read through the config classes, so older key names compare equal."""
    saved = read_json(config_path, "the run's config")
    try:
        return json.loads(ExperimentConfig.from_dict(saved).to_json())
    except (ConfigError, KeyError, TypeError) as error:
        raise RunError(
            f"{config_path} is not a config this version reads ({error}); pass --overwrite to "
            "train this run again from scratch, or --run-dir for a new run"
        ) from None


def _diff(a: dict, b: dict, prefix="") -> str:
    out = []
    for k in sorted(set(a) | set(b)):
        if isinstance(a.get(k), dict) and isinstance(b.get(k), dict):
            inner = _diff(a[k], b[k], f"{prefix}{k}.")
            if inner:
                out.append(inner)
        elif a.get(k) != b.get(k):
            out.append(f"{prefix}{k}: {a.get(k)!r} -> {b.get(k)!r}")
    return ", ".join(out)


def save_keras(model, path: str) -> None:
    """Save `model` as `.keras` at `path` atomically (a temporary file, then a rename)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path[: -len(".keras")] + ".tmp.keras"
    model.save(tmp)
    os.replace(tmp, path)
