"""Versions under a TF Serving base path, written so a polling server never sees half of one.

Layout (TF Serving's): `<out_root>/<name>/<version>/saved_model.pb`, one integer folder per
version, plus `<out_root>/models.config` listing every model under `<out_root>`.
"""

from __future__ import annotations

import os
import shutil
import uuid

from tfinpaint.artifacts import newest_version
from tfinpaint.imagefiles import write_bytes_atomic

CONFIG_FILE = "models.config"


class ExportError(ValueError):
    """An export that cannot be written as asked (existing version, bad source, bad variant)."""


def next_version(base_dir: str) -> int:
    """One more than the largest integer folder under `base_dir` (1 for none)."""
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


def publish_version(base_dir: str, version: int | None, overwrite: bool, fill) -> str:
    """Fill a new version folder of `base_dir` out of sight, then rename it into place.

    Args:
        base_dir: the model's base path, `saved_models/<name>`.
        version: integer version; None = one more than the largest existing one (and the next
            free one if a concurrent export takes it while this one is written).
        overwrite: replace an existing version folder (otherwise `ExportError`).
        fill: `fill(folder)` writes the version's files into the (temporary) folder.

    Returns:
        The version folder's path.
    """
    automatic = version is None
    if automatic:
        version = next_version(base_dir)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ExportError(f"version {version!r}: expected a positive integer")
    target = os.path.join(base_dir, str(version))
    if os.path.exists(target) and not overwrite:
        raise ExportError(
            f"{target} already exists; pass overwrite=True (--overwrite) or choose another version"
        )
    temp = _temp_dir_beside(target)
    try:
        fill(temp)
        while True:
            try:
                _publish_dir(temp, target, overwrite)
                break
            except (ExportError, OSError):
                # Another export (a concurrent run of the same model) took this version while
                # ours was being written: an automatic version moves on to the next free one.
                if not automatic or not os.path.exists(target):
                    raise
                target = os.path.join(base_dir, str(next_version(base_dir)))
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
