"""Building a paper's training model from a config."""

from __future__ import annotations

import importlib

TRAINERS = {1: "tfinpaint.training.wgan_gp", 2: "tfinpaint.training.wgan_clip"}


def build_gan(config, global_batch_size: int):
    """The training model (`Paper1GAN` / `Paper2GAN`) of `config`; call inside the strategy's scope.

    Then `gan.build_optimizers()`, also inside the scope.
    """
    if config.paper not in TRAINERS:
        raise ValueError(f"paper {config.paper!r} does not exist; expected one of {sorted(TRAINERS)}")
    return importlib.import_module(TRAINERS[config.paper]).build_gan(config, global_batch_size)
