"""The papers' networks, found through the registry of papers (`tfinpaint.config.PAPERS`).
Building a training model (`build_gan`) is `tfinpaint.training.build`; nothing here imports
`tfinpaint.training`."""

import importlib

from tfinpaint.config.papers import registered_paper


def build_generator(config):
    """The inference generator of `config.paper` (image + mask -> completed image)."""
    return importlib.import_module(registered_paper(config.paper).networks).build_generator(config)


def generator_class(paper: int) -> type:
    """The inference generator class (an `InpaintingGenerator`) of paper `paper`."""
    entry = registered_paper(paper)
    return getattr(importlib.import_module(entry.networks), entry.generator)
