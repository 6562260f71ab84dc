"""Building a paper's training model from a config."""

from __future__ import annotations

import importlib

from tfinpaint.config.papers import registered_paper


def build_gan(config, global_batch_size: int):
    """The training model (`Paper1GAN` / `Paper2GAN`) of `config`, with its averaged generator when
    `train.ema_decay` asks for one; call inside the strategy's scope.

    Then `gan.build_optimizers()`, also inside the scope.
    """
    trainer = importlib.import_module(registered_paper(config.paper).trainer)
    gan = trainer.build_gan(config, global_batch_size)
    if config.train.ema_decay:
        # A fine-tune's average starts at the trained weights it loads: no warm-up (a resumed run
        # reads the same config, so it averages the same way).
        gan.average_weights(config.train.ema_decay, warmup=not config.train.init_from)
    return gan


def init_weights_path(model: str) -> str:
    """The `.keras` generator `train.init_from` names (`default`, a file or a run directory).

    Raises:
        ConfigError: nothing loadable there, or an export (SavedModels hold no training weights).
    """
    from tfinpaint.artifacts import ModelPathError
    from tfinpaint.config import ConfigError
    from tfinpaint.inference.loading import keras_generator_path

    try:
        return keras_generator_path(model)
    except ModelPathError as error:
        raise ConfigError(f"train.init_from={model!r}: {error}") from None


def init_generator(generator, path: str) -> None:
    """Copy the weights of the generator saved at `path` into `generator` (same architecture, or
    the same plus layers that are the identity when created: noise inputs with zero scales).

    Raises:
        ConfigError: the file is no generator, or another network (paper, width or layers differ).
    """
    from tfinpaint.artifacts import ModelPathError
    from tfinpaint.config import ConfigError
    from tfinpaint.inference.loading import load_generator

    try:
        trained = load_generator(path)
    except ModelPathError as error:
        raise ConfigError(f"train.init_from: {error}") from None
    # Matched by path inside the model (not its top-level name), so `model.generator_noise` can
    # start from a generator trained without it and fill exactly as it did until training asks
    # for noise.
    found = {_inner_path(w): w for w in trained.weights}
    new = _identity_at_init_paths(generator)
    wanted = {key: w for w in generator.weights if (key := _inner_path(w)) not in new or key in found}
    if (
        type(trained) is not type(generator)
        or set(wanted) != set(found)
        or any(tuple(w.shape) != tuple(found[key].shape) for key, w in wanted.items())
    ):
        raise ConfigError(
            f"train.init_from: {path} holds a {type(trained).__name__} with {trained.count_params():,} "
            f"parameters; this run builds a {type(generator).__name__} with "
            f"{generator.count_params():,} (the paper, width or layers differ)"
        )
    for key, weight in wanted.items():
        weight.assign(found[key])


def _inner_path(weight) -> str:
    return weight.path.split("/", 1)[-1]


def _identity_at_init_paths(model) -> set[str]:
    """Inner paths (`_inner_path`) of the weights of `model`'s layers that leave their input
    unchanged when created (`NoiseInjection`, scales zero): a trained generator without them
    loses nothing."""
    from tfinpaint.layers.noise import NoiseInjection

    paths, stack = set(), [model]
    while stack:
        layer = stack.pop()
        if isinstance(layer, NoiseInjection):
            paths.update(_inner_path(w) for w in layer.weights)
        stack.extend(getattr(layer, "layers", []))
    return paths
