"""Inpainting with trained and exported models, for photos of any size.

- `Inpainter` (`inpainters`): the one interface every method has, so evaluations put them
  side by side; the classical fills behind it (`baselines`: telea, ns, biharmonic, patchmatch).
- `inpaint()` (`api`): one photo in one call, what `tfinpaint inpaint` runs for each photo;
  `file_pairs`: the (photo, mask) files of a run over many, their outputs planned and written.
- `load_inpainter`, `load_model_inpainter`, `load_generator` (`loading`): from a `--model`
  value (a baseline name, `default`, a `.keras` file, an export, a run directory).
- `KerasInpainter`, `SavedModelInpainter` (`model_inpainters`): networks as `Inpainter`s.
- `SizePolicy` (`sizing`): the one size policy (windows around the holes, the training
  scale); its TensorFlow ops (`windows`) are shared with every exported graph.

Importing this package does not load TensorFlow (a classical fill never needs it): the model
inpainters are imported on first use, and `inpaint` / `load_inpainter` load TensorFlow only
for a model.
"""

import importlib

from tfinpaint.inference.api import inpaint
from tfinpaint.inference.loading import load_generator, load_inpainter, load_model_inpainter
from tfinpaint.inference.sizing import DEFAULT_CONTEXT, DEFAULT_MAX_SIDE, SizePolicy

_MODEL_INPAINTERS = ("KerasInpainter", "ModelInpainter", "SavedModelInpainter")


def __getattr__(name: str):
    # PEP 562: `from tfinpaint.inference import KerasInpainter` imports TensorFlow then, not before.
    if name in _MODEL_INPAINTERS:
        return getattr(importlib.import_module("tfinpaint.inference.model_inpainters"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_CONTEXT",
    "DEFAULT_MAX_SIDE",
    "KerasInpainter",
    "ModelInpainter",
    "SavedModelInpainter",
    "SizePolicy",
    "inpaint",
    "load_generator",
    "load_inpainter",
    "load_model_inpainter",
]
