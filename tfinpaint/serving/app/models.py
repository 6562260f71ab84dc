"""The models the page offers: the server's own, the shipped `default`, and the classical fills.

The endpoint runs every one of them through `tfinpaint.inference.inpaint`, exactly as
`tfinpaint inpaint --model NAME` does (models in windows around the holes, blending).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Mapping

from tfinpaint.baselines import BASELINES
from tfinpaint.inference import ModelInpainter, load_model_inpainter
from tfinpaint.inpainters import Inpainter
from tfinpaint.serving import default_model

log = logging.getLogger("tfinpaint.serve.app")

DEFAULT_NAME = "default"
# Classical fills for comparison: telea, ns, biharmonic, and patchmatch when its extra is installed.
CLASSICAL_NAMES = tuple(BASELINES)


class UnknownModelError(LookupError):
    """A model name the page's endpoint does not offer; the message lists those it does."""


def _default_model_path() -> str | None:
    """The shipped default model's file, or None when this install has none."""
    path = default_model.DEFAULT_MODEL_PATH
    return path if os.path.isfile(path) else None


_default_lock = threading.Lock()
_default_loaded: dict[str, ModelInpainter] = {}


def _default_inpainter(path: str) -> ModelInpainter:
    """The default model, loaded on first use and kept (two first requests load it once)."""
    with _default_lock:
        if path not in _default_loaded:
            _default_loaded[path] = load_model_inpainter(path)
        return _default_loaded[path]


class ModelCatalog:
    """Model names -> inpainters for one server.

    Args:
        served: the server's models: name -> a callable returning the `ModelInpainter` of the
            version being served now (called on every request, so a hot-swapped version is
            used from the next request on).
    """

    def __init__(self, served: Mapping[str, Callable[[], ModelInpainter]]):
        self.served = served

    def _getters(self) -> dict[str, Callable[[], Inpainter]]:
        getters = dict(self.served)
        default_path = _default_model_path()
        if default_path and DEFAULT_NAME not in getters:
            getters[DEFAULT_NAME] = functools.partial(_default_inpainter, default_path)
        for name in CLASSICAL_NAMES:
            getters[name] = BASELINES[name]
        return getters

    def names(self) -> list[dict]:
        """[{"name", "kind" (served|default|classical), "can_sample"}, …], served models first.

        A model that fails to load is listed with `"error"` (the reason) instead of hiding it.
        """
        entries = []
        for name, get in self._getters().items():
            kind = "classical" if name in CLASSICAL_NAMES else "served" if name in self.served else "default"
            entry = {"name": name, "kind": kind, "can_sample": False}
            try:
                entry["can_sample"] = bool(get().can_sample)
            except Exception as error:  # one broken model must not hide the others
                if kind == "classical":
                    continue  # an optional extra that is not installed (patchmatch)
                log.exception("model %r cannot be loaded", name)
                entry["error"] = f"{type(error).__name__}: {error}"
            entries.append(entry)
        return entries

    def preferred(self) -> str:
        """The model the page selects first: `default` when present, else the first served."""
        getters = self._getters()
        if DEFAULT_NAME in getters:
            return DEFAULT_NAME
        return next(iter(getters))

    def inpainter(self, name: str) -> Inpainter:
        """A model inpainter or a classical baseline; `UnknownModelError` for other names."""
        getters = self._getters()
        if name not in getters:
            raise UnknownModelError(f"model {name!r} is not offered here; expected one of {sorted(getters)}")
        return getters[name]()
