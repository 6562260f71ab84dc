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

from tfinpaint import artifacts
from tfinpaint.inference import ModelInpainter, load_model_inpainter
from tfinpaint.inference.baselines import BASELINES
from tfinpaint.inference.inpainters import Inpainter

log = logging.getLogger("tfinpaint.serve.app")

DEFAULT_NAME = artifacts.DEFAULT_MODEL_NAME
# Classical fills for comparison: telea, ns, biharmonic, and patchmatch when its extra is installed.
CLASSICAL_NAMES = tuple(BASELINES)


class UnknownModelError(LookupError):
    """A model name the page's endpoint does not offer; the message lists those it does."""


_default_lock = threading.Lock()
_default_loaded: dict[str, ModelInpainter] = {}


def _default_inpainter(path: str) -> ModelInpainter:
    """The shipped model (`path`: its file), loaded on first use and kept; two first requests
    load it once."""
    with _default_lock:
        if path not in _default_loaded:
            _default_loaded[path] = load_model_inpainter(DEFAULT_NAME)
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
        default_path = artifacts.DEFAULT_MODEL_PATH
        if DEFAULT_NAME not in getters and os.path.isfile(default_path):
            getters[DEFAULT_NAME] = functools.partial(_default_inpainter, default_path)
        for name in CLASSICAL_NAMES:
            getters[name] = BASELINES[name]
        return getters

    def names(self) -> list[dict]:
        """[{"name", "kind" (served|default|classical), "can_sample", "blend"}, …], served first.

        `blend` is what `inpaint` does for the model when not told (`default_blend`: the model's
        own, "patches" for the shipped default; else "poisson" for paper 2's models, "none"
        otherwise). A model that fails to load is listed with `"error"` (the
        reason) instead of being hidden.
        """
        entries = []
        for name, get in self._getters().items():
            kind = "classical" if name in CLASSICAL_NAMES else "served" if name in self.served else "default"
            entry = {"name": name, "kind": kind, "can_sample": False, "blend": "none"}
            try:
                inpainter = get()
                entry.update(can_sample=bool(inpainter.can_sample), blend=inpainter.default_blend)
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

    def check_offered(self, name: str) -> None:
        """`UnknownModelError` naming the models offered, for a name that is not one of them."""
        getters = self._getters()
        if name not in getters:
            raise UnknownModelError(
                f"model {name[:100]!r} is not offered here; expected one of {sorted(getters)}"
            )

    def inpainter(self, name: str) -> Inpainter:
        """A model inpainter or a classical baseline; `UnknownModelError` for other names."""
        self.check_offered(name)
        return self._getters()[name]()
