import json

import pytest

from tfinpaint.config import ConfigError, ExperimentConfig, get_config


def test_presets_resolve_and_round_trip_through_json():
    for paper, presets in ((1, ("demo", "paper")), (2, ("demo", "paper", "default"))):
        for preset in presets:
            config = get_config(paper, preset)
            assert ExperimentConfig.from_dict(json.loads(config.to_json())) == config


def test_paper2_paper_preset_is_the_papers_recipe():
    config = get_config(2, "paper")
    assert (config.data.image_size, config.train.batch_size) == (256, 32)
    assert (config.model.t1, config.model.t2, config.model.t3) == (20_000, 10_000, 70_000)
    assert config.total_steps() == 100_000
    assert config.data.masks == "center" and config.data.hole_fraction == 0.5


def test_overrides_by_section_and_bare_key():
    config = get_config(
        2,
        "demo",
        [
            "model.clip_value=0.02",
            "batch_size=4",
            "train.steps=none",
            "data.source=/tmp/x",
            "deterministic=yes",
        ],
    )
    assert config.model.clip_value == 0.02
    assert config.train.batch_size == 4
    assert config.train.steps is None
    assert config.data.source == "/tmp/x"
    assert config.train.deterministic is True


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.no_such_key=1", "unknown key"),
        ("nonsense=1", "unknown"),
        ("train.batch_size=four", "expected an integer"),
        ("train.batch_size=0", "positive integer"),
        ("data.image_size=30", "multiple of 4"),
        ("model.clip_value=0", "positive number"),
        ("model.t2=-1", "0 or more steps"),
        ("model.optimizer=sgd", "'adam' or 'rmsprop'"),
        ("train.ema_decay=1", r"train.ema_decay=1.0: expected a value in \[0, 1\)"),
        ("data.hue_jitter=2", r"data.hue_jitter=2.0: expected a share in \[0, 1\] \(0 = off\)"),
        ("batch_size", "expected key=value"),
        ("foo.bar=1", "unknown section"),
    ],
)
def test_bad_overrides_name_the_key_and_what_is_accepted(override, message):
    with pytest.raises(ConfigError, match=message):
        get_config(2, "demo", [override])


def test_unknown_preset_and_paper():
    with pytest.raises(ConfigError, match="expected one of \\['default', 'demo', 'paper'\\]"):
        get_config(2, "huge")
    with pytest.raises(ConfigError, match="paper 3"):
        get_config(3, "demo")


def test_paper1_needs_a_multiple_of_32():
    with pytest.raises(ConfigError, match="multiple of 32"):
        get_config(1, "demo", ["data.image_size=48"])


def test_paper1_needs_a_number_of_steps():
    with pytest.raises(ConfigError, match="train.steps=None: paper 1 has no schedule"):
        get_config(1, "demo", ["train.steps=none"])
    assert get_config(1, "demo").total_steps() == 1200


def test_each_paper_owns_its_size_rule():
    assert get_config(2, "demo", ["data.image_size=36"]).data.image_size == 36
    with pytest.raises(ConfigError, match="paper 2 needs a multiple of 4 \\(at least 32\\)"):
        get_config(2, "demo", ["data.image_size=28"])
    with pytest.raises(ConfigError, match="paper 1 needs a multiple of 32"):
        get_config(1, "demo", ["data.image_size=36"])


def test_steps_below_the_schedule_scale_the_three_phases():
    config = get_config(2, "demo", ["train.steps=800"])  # schedule 2000 + 300 + 1700
    assert config.model.phase_lengths(800) == (400, 60, 340)
    assert config.model.plan(800) == [("reconstruction", 400), ("critics", 60), ("joint", 340)]
    # Above the schedule, the joint phase runs longer.
    assert config.model.phase_lengths(5000) == (2000, 300, 2700)
    assert get_config(2, "paper").model.phase_lengths(100_000) == (20_000, 10_000, 70_000)
    for total in (1, 2, 3, 7, 999):
        assert sum(config.model.phase_lengths(total)) == total


def test_critics_subset_and_lambdas():
    model = get_config(2, "demo", ["model.critics=local,global", "model.adv_weight_local=0.002"]).model
    assert model.critic_roles == ("local", "global")
    assert model.adv_weights == {"local": 0.002, "global": 0.001}
    for bad in ("local,middle", "", "local,local"):
        with pytest.raises(ConfigError, match="model.critics"):
            get_config(2, "demo", [f"model.critics={bad}"])
    with pytest.raises(ConfigError, match="model.critic_depths='deep'"):
        get_config(2, "demo", ["model.critic_depths=deep"])


def test_defaults_of_the_resolved_readings():
    assert get_config(1, "paper").model.kl_reduction == "mean"
    assert get_config(1, "paper").model.decoder_upsample == "transpose"
    assert get_config(1, "demo", ["model.decoder_upsample=resize"]).model.decoder_upsample == "resize"
    with pytest.raises(
        ConfigError, match="model.decoder_upsample='bilinear': expected one of transpose, resize"
    ):
        get_config(1, "demo", ["model.decoder_upsample=bilinear"])
    paper = get_config(2, "paper").model
    assert (paper.critic_depths, paper.critic_roles) == ("tables", ("local", "global", "x2", "x4"))
    assert paper.decoder_upsample == "transpose"
    assert get_config(2, "demo", ["model.decoder_upsample=resize"]).model.decoder_upsample == "resize"
    with pytest.raises(
        ConfigError, match="model.decoder_upsample='bilinear': expected one of transpose, resize"
    ):
        get_config(2, "demo", ["model.decoder_upsample=bilinear"])


def test_old_config_files_load_and_renamed_keys_say_so():
    old = json.loads(get_config(1, "demo").to_json())
    old["model"]["max_attention_side"] = old["model"].pop("max_side")
    assert ExperimentConfig.from_dict(old) == get_config(1, "demo")
    old2 = json.loads(get_config(2, "demo").to_json())
    old2["model"]["critic_pooling"] = "avg"
    for key in ("critics", "critic_depths", "adv_weight_local"):
        del old2["model"][key]
    assert ExperimentConfig.from_dict(old2) == get_config(2, "demo")
    with pytest.raises(ConfigError, match="renamed model.max_side"):
        get_config(1, "demo", ["model.max_attention_side=64"])


def test_a_run_on_other_data_gets_its_own_names():
    assert (get_config(2, "demo").name, get_config(2, "demo").export_name) == ("paper2-demo", "paper2_demo")
    faces = get_config(2, "demo", ["data.source=/data/faces_celeba_89x109/"])
    assert (faces.name, faces.export_name) == (
        "paper2-demo-faces_celeba_89x109",
        "paper2_demo_faces_celeba_89x109",
    )
    assert get_config(2, "demo", ["data.source=photos/**/*.jpg"]).name == "paper2-demo-photos"
    assert get_config(2, "demo", ["data.source=/x/list.txt"]).name == "paper2-demo-list"
    assert get_config(2, "default").name == "paper2-default"  # the preset's own data
    named = get_config(2, "demo", ["data.source=/x/y", "train.name=garden-v1"])
    assert (named.name, named.export_name) == ("garden-v1", "garden_v1")
    with pytest.raises(ConfigError, match="train.name='a/b'"):
        get_config(2, "demo", ["train.name=a/b"])


def test_the_default_preset_keeps_its_recipe():
    config = get_config(2, "default")
    m, d, t = config.model, config.data, config.train
    assert (m.generator_width, m.critic_width, m.t1, m.t2, m.t3) == (32, 32, 4000, 400, 1200)
    assert (d.image_size, d.split_ratio, d.upscale_small, d.hole_fraction) == (128, 0.95, True, 0.5)
    assert (t.batch_size, t.precision, t.val_batches, t.eval_images) == (16, "auto", 4, 200)


def test_the_default_presets_datasets_folder_is_named_by_the_user(tmp_path, monkeypatch):
    import argparse

    from tfinpaint.commands.train import add_arguments, config_from_args
    from tfinpaint.config import DATASETS_ENV, resolve_data_root

    preset = get_config(2, "default")
    assert preset.data.root == "$" + DATASETS_ENV  # nothing read from the environment yet
    monkeypatch.delenv(DATASETS_ENV, raising=False)
    with pytest.raises(ConfigError, match=f"{DATASETS_ENV}=DIR.*--data-root DIR.*--set data.root=DIR"):
        resolve_data_root(preset)
    with pytest.raises(ConfigError, match="no such folder"):
        resolve_data_root(preset, {DATASETS_ENV: str(tmp_path / "missing")})
    assert resolve_data_root(preset, {DATASETS_ENV: str(tmp_path)}).data.root == str(tmp_path)

    # The command reads the variable as the run starts; --data-root and --set win over it.
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    monkeypatch.setenv(DATASETS_ENV, str(tmp_path))
    assert config_from_args(parser.parse_args(["--paper", "2", "--preset", "default"])).data.root == str(
        tmp_path
    )
    for flags in (["--data-root", "/elsewhere"], ["--set", "data.root=/elsewhere"]):
        args = parser.parse_args(["--paper", "2", "--preset", "default", *flags])
        assert config_from_args(args).data.root == "/elsewhere"
    # Presets that do not need the folder never look for it, nor a run that no longer reads it.
    monkeypatch.delenv(DATASETS_ENV)
    assert config_from_args(parser.parse_args(["--paper", "2"])).data.root is None
    own = ["--paper", "2", "--preset", "default", "--data", str(tmp_path)]
    assert config_from_args(parser.parse_args([*own, "--masks", "free_form"])).data.root is None
    with pytest.raises(ConfigError, match=DATASETS_ENV):
        config_from_args(parser.parse_args(own))  # the preset's NVIDIA masks are in the folder


@pytest.mark.parametrize("number", [1, 2])
def test_each_registered_paper_names_its_code_and_agrees_with_its_generator(number):
    """The config imports no TensorFlow, so it repeats the generator's size multiple; the
    registry's module names must load and the two values must agree."""
    import importlib

    from tfinpaint.config import registered_paper

    paper = registered_paper(number)
    generator_class = getattr(importlib.import_module(paper.networks), paper.generator)
    assert generator_class.paper == number
    assert generator_class.size_multiple == paper.model_config.size_multiple
    assert hasattr(importlib.import_module(paper.trainer), "build_gan")
    with pytest.raises(ConfigError, match=r"paper 3 does not exist; expected one of \[1, 2\]"):
        registered_paper(3)
