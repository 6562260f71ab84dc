"""The one place that reaches past TensorFlow's and Keras' public APIs, and its one switch.

Three speed-ups of paper 2's training step rely on TensorFlow kernels that Keras does not call
(`DilatedConv2D`, `FusedBatchNormalization`, `tfinpaint.training.optimizers.FusedAdam`), and the
PyTorch-exact RMSprop reads an optimiser's slot variables. What they need that is not public
API lives here, so a TensorFlow or Keras upgrade that moves it breaks this module only. The
environment variable `TFINPAINT_FAST_KERNELS=0` (read at import) turns the three speed-ups back
into the plain Keras computation they replace.
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf

FAST_KERNELS = os.environ.get("TFINPAINT_FAST_KERNELS", "1") != "0"


def onednn_enabled() -> bool:
    """Whether this TensorFlow build runs its CPU kernels through oneDNN (formerly MKL)."""
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        return False
    return bool(_pywrap_util_port.IsMklEnabled())


def native_dilated_conv(dtype) -> bool:
    """Whether one `Conv2D` op with `dilations` can run (and be differentiated) for `dtype`.

    GPUs (cuDNN) always can; on a CPU only oneDNN's kernels can, in float32 and bfloat16.
    """
    if not FAST_KERNELS:
        return False
    if tf.config.list_logical_devices("GPU"):
        return True
    return tf.as_dtype(dtype) in (tf.float32, tf.bfloat16) and onednn_enabled()


def optimizer_slot(optimizer, slot: str, variable):
    """The slot variable `slot` ("momentums", "velocities") a Keras 3 optimiser keeps for `variable`."""
    return getattr(optimizer, f"_{slot}")[optimizer._get_variable_index(variable)]


def resource_handle(variable):
    """The resource handle of a Keras (or tf) variable, for `tf.raw_ops` updates.

    Inside a strategy's `update()` call the handle of a mirrored variable is that of the copy
    on the device being updated.
    """
    return (variable.value if isinstance(variable, keras.Variable) else variable).handle
