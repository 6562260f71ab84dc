"""Inpainting with trained and exported models, for photos of any size.

- `inpaint()` (`api`): one photo in one call, what `tfinpaint inpaint` runs.
- `load_inpainter`, `load_model_inpainter`, `load_generator` (`loading`): from a `--model`
  value (a baseline name, `default`, a `.keras` file, an export, a run directory).
- `KerasInpainter`, `SavedModelInpainter` (`model_inpainters`): networks as `Inpainter`s.
- `SizePolicy` (`sizing`): the one size policy (windows around the holes, the training
  scale), in TensorFlow ops shared with every exported graph.
"""

from tfinpaint.inference.api import inpaint
from tfinpaint.inference.loading import load_generator, load_inpainter, load_model_inpainter
from tfinpaint.inference.model_inpainters import KerasInpainter, ModelInpainter, SavedModelInpainter
from tfinpaint.inference.sizing import DEFAULT_CONTEXT, DEFAULT_MAX_SIDE, SizePolicy

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
