"""The default model's shipped export: where it is, whether it can be trusted, how it is made.

`tfinpaint/weights/default_export/1/` is `weights/default.keras` exported with the signatures
of `tfinpaint export` (a TF Serving base path holding version 1). Loading it skips the Keras
load and the tracing of the size policy around the generator, the larger part of a cold start
after TensorFlow's own import (docs/BENCHMARKS.md), so `tfinpaint inpaint` with the default
model and `tfinpaint serve` start from it; it gives the Keras path's pixels
(tests/test_default_export.py).

A `manifest.json` in the version folder (published with it, in one rename) records what the
export was made from — the SHA-256 of the weights and of the code that builds the exported
graph — and the SHA-256 of every file it holds. An export whose manifest does not match (new
weights or changed code without a new export, a damaged or half-copied folder) is not used:
the Keras model runs instead, and `tfinpaint serve` exports into its cache, where the same
manifest tells a damaged cache from a good one. `python scripts/ship_default_model.py
--export-only` remakes the shipped export.
"""

from __future__ import annotations

import hashlib
import json
import os

from tfinpaint import artifacts

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
SHIPPED_BASE_PATH = os.path.join(PACKAGE_DIR, "weights", "default_export")
MANIFEST = "manifest.json"
VERSION = 1
# The sources whose code ends up in the exported graph: the generators, the size policy's ops,
# the signatures and the pixel convention. A change to any of them calls for a new export; the
# critics (models/paper2_critics.py, models/patch_critic.py) train the weights but are never in
# the graph, so a change to them does not (tests/test_default_export.py keeps the split whole).
GRAPH_SOURCES = (
    "convention.py",
    "inference/sizing.py",
    "inference/windows.py",
    "export/signatures.py",
    "models/__init__.py",
    "models/common.py",
    "models/generator.py",
    "models/paper1.py",
    "models/paper2.py",
    "layers",
)


def _sha256_file(path: str, text: bool = False) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        data = f.read()
    # Source files hash the same with CRLF line ends (a Windows checkout).
    digest.update(data.replace(b"\r\n", b"\n") if text else data)
    return digest.hexdigest()


def _graph_source_files() -> list[str]:
    files = []
    for entry in GRAPH_SOURCES:
        path = os.path.join(PACKAGE_DIR, entry)
        if os.path.isdir(path):
            files += [os.path.join(path, f) for f in os.listdir(path) if f.endswith(".py")]
        else:
            files.append(path)
    return sorted(files)


def source_digest(keras_path: str | None = None) -> dict:
    """What an export of the default model is made from: the weights' and the graph code's hashes."""
    code = hashlib.sha256()
    for path in _graph_source_files():
        code.update(os.path.relpath(path, PACKAGE_DIR).replace(os.sep, "/").encode() + b"\0")
        code.update(_sha256_file(path, text=True).encode())
    return {
        "weights_sha256": _sha256_file(keras_path or artifacts.DEFAULT_MODEL_PATH),
        "code_sha256": code.hexdigest(),
    }


def _files_digest(version_path: str) -> dict:
    """Every file under the version folder (but the manifest) -> its SHA-256."""
    files = {}
    for root, _, names in os.walk(version_path):
        for name in names:
            full = os.path.join(root, name)
            relative = os.path.relpath(full, version_path).replace(os.sep, "/")
            if relative != MANIFEST:
                files[relative] = _sha256_file(full)
    return files


def write_manifest(version_path: str, keras_path: str | None = None) -> None:
    """Record what the export in `version_path` was made from and what it holds (the last file
    written into it before it is published)."""
    manifest = {"source": source_digest(keras_path), "files": _files_digest(version_path)}
    with open(os.path.join(version_path, MANIFEST), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")


def check(version_path: str, keras_path: str | None = None) -> str | None:
    """None when the export in `version_path` is complete and made from the current weights
    and code, else what is wrong (for a message)."""
    try:
        with open(os.path.join(version_path, MANIFEST), encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        return f"no {MANIFEST} (an unfinished export)"
    except (OSError, ValueError) as error:
        return f"{MANIFEST} unreadable ({error})"
    if manifest.get("source") != source_digest(keras_path):
        return "made from other weights or another version of the code"
    found = _files_digest(version_path)
    expected = manifest.get("files", {})
    damaged = sorted(name for name in expected if found.get(name) != expected[name])
    if damaged:
        return f"damaged or missing: {', '.join(damaged[:3])}{' …' if len(damaged) > 3 else ''}"
    return None


def shipped_version_path() -> str | None:
    """The shipped export's version folder when it matches the shipped weights and this code."""
    path = os.path.join(SHIPPED_BASE_PATH, str(VERSION))
    if not os.path.isfile(artifacts.DEFAULT_MODEL_PATH) or check(path) is not None:
        return None
    return path
