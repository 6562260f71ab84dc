"""Experiment configuration: frozen dataclasses, one preset registry per paper.

A config is an `ExperimentConfig`: `paper` and `preset`, then three sections: `data`, `model`
(the paper's own dataclass: networks, losses, the optimisers and, for paper 2, the phase
schedule) and `train` (batch, steps, seed, cadences, precision, run-time switches). Presets are built by
`get_config(paper, preset)`; `--set section.key=value` overrides go through
`apply_overrides`, which rejects unknown keys and values of the wrong type before any
model is built.
"""

from tfinpaint.config.errors import ConfigError
from tfinpaint.config.experiment import (
    DATASETS_ENV,
    DEFAULT_DATA_ROOT,
    DEFAULT_MASKS,
    DEFAULT_TRAIN_LIST,
    LEGACY_KEYS,
    PRESETS,
    DataConfig,
    ExperimentConfig,
    TrainConfig,
    data_name,
    resolve_data_root,
    validate,
)
from tfinpaint.config.overrides import apply_overrides, get_config
from tfinpaint.config.papers import (
    ADV_WEIGHTINGS,
    CRITIC_DEPTHS,
    CRITIC_REGULARIZERS,
    CRITIC_ROLES,
    PAPER2_CRITICS,
    PAPER2_GAN_LOSSES,
    PAPERS,
    Paper,
    Paper1Config,
    Paper2Config,
    registered_paper,
)

__all__ = [
    "ADV_WEIGHTINGS",
    "CRITIC_DEPTHS",
    "CRITIC_REGULARIZERS",
    "CRITIC_ROLES",
    "DATASETS_ENV",
    "DEFAULT_DATA_ROOT",
    "DEFAULT_MASKS",
    "DEFAULT_TRAIN_LIST",
    "LEGACY_KEYS",
    "PAPER2_CRITICS",
    "PAPER2_GAN_LOSSES",
    "PAPERS",
    "PRESETS",
    "ConfigError",
    "DataConfig",
    "ExperimentConfig",
    "Paper",
    "Paper1Config",
    "Paper2Config",
    "TrainConfig",
    "apply_overrides",
    "data_name",
    "get_config",
    "registered_paper",
    "resolve_data_root",
    "validate",
]
