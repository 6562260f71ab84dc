"""Trained models on disk: `--model` values, versions, run configs, names (no TensorFlow needed)."""

import json
import os

import pytest

from tfinpaint import artifacts
from tfinpaint.artifacts import ModelPathError, RunFileError, newest_version, resolve_model


def _fake_version(base, version):
    folder = os.path.join(base, str(version))
    os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, "saved_model.pb"), "wb").close()
    return folder


def _run_dir(root, config=None, models=("generator.keras",)):
    os.makedirs(root, exist_ok=True)
    for name in models:
        open(os.path.join(root, name), "wb").close()
    if config is not None:
        with open(os.path.join(root, "config.json"), "w") as f:
            f.write(config if isinstance(config, str) else json.dumps(config))
    return str(root)


def _checkpoint(run, step):
    """An (empty) checkpoint `ckpt-<step>` of a run directory: its prefix."""
    os.makedirs(os.path.join(run, "checkpoints"), exist_ok=True)
    prefix = os.path.join(run, "checkpoints", f"ckpt-{step}")
    for suffix in (".index", ".data-00000-of-00001"):
        open(prefix + suffix, "wb").close()
    return prefix


def test_versions_and_every_form_of_model_path(tmp_path):
    base = str(tmp_path / "saved_models" / "m")
    v2, v10 = _fake_version(base, 2), _fake_version(base, 10)
    os.makedirs(os.path.join(base, "11"))  # no saved_model.pb: half-written, ignored
    os.makedirs(os.path.join(base, ".tmp-12-abc"))
    assert newest_version(base) == (10, v10)
    assert newest_version(str(tmp_path / "nowhere")) is None
    assert resolve_model(base) == v10  # base path: newest version
    assert resolve_model(v2) == v2  # a version folder
    run = _run_dir(tmp_path / "runs" / "paper2-demo", {"paper": 2, "preset": "demo"})
    assert resolve_model(run) == os.path.join(run, "generator.keras")
    assert resolve_model(os.path.join(run, "generator.keras")) == os.path.join(run, "generator.keras")
    # A finished paper-2 run keeps each phase's end beside the final generator: the final one wins.
    phases = ("generator-critics.keras", "generator-reconstruction.keras", "generator.keras")
    finished = _run_dir(tmp_path / "finished", {}, models=phases)
    assert resolve_model(finished) == os.path.join(finished, "generator.keras")
    stopped = _run_dir(tmp_path / "stopped", {}, models=("generator-reconstruction.keras",))
    assert resolve_model(stopped) == os.path.join(stopped, "generator-reconstruction.keras")
    crowded = _run_dir(tmp_path / "crowded", {}, models=phases[:2])
    empty = _run_dir(tmp_path / "empty", {}, models=())
    for bad, message in (
        (tmp_path / "missing", "no such file"),
        (tmp_path / "saved_models", "no saved_model.pb"),
        (os.path.join(run, "config.json"), "not .keras"),
        (crowded, r"no generator.keras \(has the run finished\?\) and 2 .keras files \(generator-critics"),
        (empty, "no generator.keras .* and no .keras file"),
    ):
        with pytest.raises(ModelPathError, match=message) as error:
            resolve_model(str(bad))
        assert "\n" not in str(error.value)


def test_a_run_checkpoint_is_a_model_by_its_prefix_or_index_file(tmp_path):
    run = _run_dir(tmp_path / "run", {"paper": 2, "preset": "demo", "data": {"image_size": 32}})
    prefix = _checkpoint(run, 40)
    assert resolve_model(prefix) == resolve_model(prefix + ".index") == prefix
    assert artifacts.holds_keras_generator(prefix) and not artifacts.holds_keras_generator(run)
    assert artifacts.training_size(prefix) == 32  # the run's config, two folders up
    for bad, message in (
        (os.path.join(run, "checkpoints", "ckpt-41"), "no such file"),  # no such step
        (prefix + ".data-00000-of-00001", "not .keras"),
    ):
        with pytest.raises(ModelPathError, match=message):
            resolve_model(bad)
    loose = tmp_path / "elsewhere"
    loose.mkdir()
    (loose / "ckpt-3.index").write_bytes(b"")
    with pytest.raises(ModelPathError, match=r"checkpoint outside a run directory .*RUN/checkpoints/ckpt-N"):
        resolve_model(str(loose / "ckpt-3"))


def test_default_is_the_shipped_weights_and_a_clear_error_without_them(tmp_path, monkeypatch):
    assert artifacts.DEFAULT_MODEL_PATH.endswith(os.path.join("tfinpaint", "weights", "default.keras"))
    weights = tmp_path / "default.keras"
    weights.write_bytes(b"")
    monkeypatch.setattr(artifacts, "DEFAULT_MODEL_PATH", str(weights))
    assert resolve_model("default") == resolve_model(None) == str(weights)
    monkeypatch.chdir(tmp_path)
    os.makedirs("default")  # a folder of that name does not shadow the shipped model
    assert resolve_model("default") == str(weights)
    monkeypatch.setattr(artifacts, "DEFAULT_MODEL_PATH", str(tmp_path / "gone.keras"))
    with pytest.raises(ModelPathError, match="default model is missing") as error:
        resolve_model(None)
    assert "gone.keras" in str(error.value) and "--model" in str(error.value)


def test_run_config_and_training_size(tmp_path):
    run = _run_dir(tmp_path / "run", {"paper": 1, "preset": "paper", "data": {"image_size": 256}})
    keras_path = os.path.join(run, "generator.keras")
    assert artifacts.run_config(keras_path)["preset"] == "paper"
    assert artifacts.training_size(keras_path) == 256
    loose = tmp_path / "loose.keras"
    loose.write_bytes(b"")
    assert artifacts.run_config(str(loose)) is None
    assert artifacts.training_size(str(loose)) is None


def test_names_come_from_the_run_config(tmp_path):
    from tfinpaint.config import get_config
    from tfinpaint.inference.loading import model_names

    def names(config, file="generator.keras"):
        run = _run_dir(tmp_path / str(len(os.listdir(tmp_path))), config.to_json())
        return model_names(os.path.join(run, file))

    assert names(get_config(1, "paper")) == ("paper1-paper", "paper1_paper")
    # A phase-end checkpoint is named apart from the run's final generator.
    reconstruction = names(get_config(2, "default"), "generator-reconstruction.keras")
    assert reconstruction == ("paper2-default-reconstruction", "paper2_default_reconstruction")
    # A run on other data, or with its own name, never exports under the demo's name.
    faces = get_config(2, "demo", ["data.source=/data/faces"])
    assert names(faces) == (faces.name, faces.export_name) != ("paper2-demo", "paper2_demo")
    assert names(get_config(2, "demo", ["train.name=garden-v1"])) == ("garden-v1", "garden_v1")
    # A run checkpoint is named by its step.
    run = _run_dir(tmp_path / "ckpt-run", get_config(2, "default").to_json())
    assert model_names(_checkpoint(run, 4000)) == (
        "paper2-default-ckpt-4000",
        "paper2_default_ckpt_4000",
    )
    loose = tmp_path / "loose.keras"
    loose.write_bytes(b"")
    assert model_names(str(loose)) == ("loose", "loose")


@pytest.mark.parametrize("content", ['{"paper": 2, "preset": "de', "\x00\x01garbage", "[1, 2]"])
def test_a_damaged_run_config_names_the_file(tmp_path, content):
    run = _run_dir(tmp_path / "run", content)
    with pytest.raises(RunFileError) as error:
        artifacts.run_config(os.path.join(run, "generator.keras"))
    message = str(error.value)
    assert os.path.join(run, "config.json") in message and "\n" not in message
    assert "truncated" in message or "expected an object" in message
