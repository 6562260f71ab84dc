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


def load_generator(path):
    """Load a generator saved as `.keras`.

    `safe_mode=True` refuses arbitrary code (lambdas) in the file, but a model file is still
    code: load only files you trust. Both papers' classes are imported first so their
    registered names resolve. The generator's `train_size` (the image side it was trained at,
    which inference runs it at) is in its saved config; files saved before it was, read it from
    the run directory they sit in.
    """
    import keras

    from tfinpaint.inference import run_config

    for paper in (1, 2):
        _module(paper)
    generator = keras.saving.load_model(path, safe_mode=True, compile=False)
    if generator.train_size is None:
        config = run_config(path)
        generator.train_size = int(config["data"]["image_size"]) if config else None
    return generator
