"""The papers' networks, keyed by paper number. Building a training model (`build_gan`) is
`tfinpaint.training.build`; nothing here imports `tfinpaint.training`."""

import importlib


def _module(paper: int):
    if paper not in (1, 2):
        raise ValueError(f"paper {paper!r} does not exist; expected 1 or 2")
    return importlib.import_module(f"tfinpaint.models.paper{paper}")


def build_generator(config):
    """The inference generator of `config.paper` (image + mask -> completed image)."""
    return _module(config.paper).build_generator(config)
