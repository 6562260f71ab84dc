import json

import pytest

from tfinpaint.config import ConfigError, ExperimentConfig, get_config, total_steps


def test_presets_resolve_and_round_trip_through_json():
    for paper in (1, 2):
        for preset in ("demo", "paper"):
            config = get_config(paper, preset)
            assert ExperimentConfig.from_dict(json.loads(config.to_json())) == config


def test_paper2_paper_preset_is_the_papers_recipe():
    config = get_config(2, "paper")
    assert (config.data.image_size, config.train.batch_size) == (256, 32)
    assert (config.model.t1, config.model.t2, config.model.t3) == (20_000, 10_000, 70_000)
    assert total_steps(config) == 100_000
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
        ("model.optimizer=sgd", "'adam' or 'rmsprop'"),
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
