"""Test-session set-up: quiet TensorFlow, two logical CPU devices for MirroredStrategy tests.

Logical devices must be configured before TensorFlow initialises its runtime, so this runs at
import time, before any test module touches TensorFlow.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest
import tensorflow as tf

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)


@pytest.fixture(scope="session")
def photo_paths():
    """A few real photos bundled with the package (the demo data)."""
    from tfinpaint.data import demo_data_dir

    d = demo_data_dir()
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".jpg"))
