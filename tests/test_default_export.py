"""The default model's shipped export: made from the shipped weights and this code, used by
`--model default`, and a damaged cache export rebuilt or named."""

import os

import numpy as np
import pytest

from tfinpaint import artifacts, default_export
from tfinpaint.commands import serve as serve_command
from tfinpaint.serving import default_model


def test_the_shipped_export_matches_the_shipped_weights_and_this_code():
    version = os.path.join(default_export.SHIPPED_BASE_PATH, str(default_export.VERSION))
    problem = default_export.check(version)
    assert problem is None, (
        f"{version}: {problem}; remake it with `python scripts/ship_default_model.py --export-only`"
    )
    assert default_export.shipped_version_path() == version


def test_every_model_module_is_a_graph_source_or_a_critic():
    # A new generator module left out of GRAPH_SOURCES would let a stale export pass the check.
    critics = {"models/paper2_critics.py", "models/patch_critic.py"}
    models = {
        f"models/{name}"
        for name in os.listdir(os.path.join(default_export.PACKAGE_DIR, "models"))
        if name.endswith(".py")
    }
    graph = {
        os.path.relpath(path, default_export.PACKAGE_DIR) for path in default_export._graph_source_files()
    }
    assert models - critics <= graph and not critics & graph


def test_other_weights_or_a_damaged_file_are_not_used(tmp_path, monkeypatch):
    version = tmp_path / "1"
    (version / "variables").mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"graph")
    (version / "variables" / "variables.data-00000-of-00001").write_bytes(b"weights" * 100)
    weights = tmp_path / "default.keras"
    weights.write_bytes(b"keras file")
    assert default_export.check(str(version), str(weights)) == "no manifest.json (an unfinished export)"
    default_export.write_manifest(str(version), str(weights))
    assert default_export.check(str(version), str(weights)) is None
    weights.write_bytes(b"new keras file")
    assert "other weights" in default_export.check(str(version), str(weights))
    weights.write_bytes(b"keras file")
    with open(version / "variables" / "variables.data-00000-of-00001", "r+b") as f:
        f.truncate(10)
    assert default_export.check(str(version), str(weights)) == (
        "damaged or missing: variables/variables.data-00000-of-00001"
    )
    # The shipped export is checked against the shipped weights: other weights, no export.
    monkeypatch.setattr(artifacts, "DEFAULT_MODEL_PATH", str(weights))
    assert default_export.shipped_version_path() is None


def test_a_damaged_cache_export_is_made_again(tmp_path, monkeypatch):
    weights = tmp_path / "default.keras"
    weights.write_bytes(b"keras file")
    monkeypatch.setattr(artifacts, "DEFAULT_MODEL_PATH", str(weights))
    exports = []

    def export(base):  # stands in for the real export (tests/test_serving_hooks.py runs one)
        version = os.path.join(base, "1")
        os.makedirs(os.path.join(version, "variables"))
        for name in ("saved_model.pb", "variables/variables.data-00000-of-00001"):
            with open(os.path.join(version, name), "wb") as f:
                f.write(b"export" * 100)
        default_export.write_manifest(version)
        exports.append(base)

    monkeypatch.setattr(default_model, "export_default", export)
    said = []
    base = default_model.default_base_path(str(tmp_path / "cache"), say=said.append)
    version = os.path.join(base, "1")
    assert len(exports) == 1 and default_export.check(version) is None
    assert default_model.default_base_path(str(tmp_path / "cache"), say=said.append) == base
    assert len(exports) == 1  # a good export is reused
    with open(os.path.join(version, "saved_model.pb"), "r+b") as f:
        f.truncate(100)
    assert default_model.default_base_path(str(tmp_path / "cache"), say=said.append) == base
    assert len(exports) == 2 and default_export.check(version) is None
    assert said[1] == (
        f"the default model's export in {version} is unusable (damaged or missing: saved_model.pb); "
        "exporting it again"
    )


def test_a_default_export_that_does_not_load_names_the_folder_to_delete(tmp_path):
    base = str(tmp_path / "cache" / "serving" / "default-0123")
    error = RuntimeError(f"--model-base-path {base}: version 1 cannot be loaded: bad graph")
    message = serve_command._default_model_message(base, error)
    folder = os.path.join(base, "1")
    assert message == (
        f"the default model's export in {folder} cannot be served (version 1 cannot be loaded: bad "
        f"graph); delete {folder} and start again"
    )
    # A base path the user passed is theirs to name.
    assert serve_command._default_model_message(None, error) == str(error)


@pytest.mark.large
def test_the_shipped_export_fills_as_the_keras_model_does(photo_paths):
    from PIL import Image

    from tfinpaint.inference import (
        KerasInpainter,
        SavedModelInpainter,
        inpaint,
        load_generator,
        load_inpainter,
    )

    shipped = load_inpainter("default")
    assert isinstance(shipped, SavedModelInpainter) and shipped.name == "default"
    keras_model = KerasInpainter(load_generator("default"), name="default")
    image = np.asarray(Image.open(photo_paths[0]).convert("RGB").resize((384, 288)))
    stroke, wide = np.zeros((288, 384), bool), np.zeros((288, 384), bool)
    stroke[100:106, 20:360] = True  # thin: completed at full resolution
    wide[80:200, 100:260] = True  # wide: at the training scale
    for hole in (stroke, wide):
        a, b = inpaint(image, hole, model=keras_model), inpaint(image, hole, model=shipped)
        assert np.array_equal(a, b)  # measured: not one byte differs
