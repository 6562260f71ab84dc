"""Test-session set-up: quiet TensorFlow, two logical CPU devices for MirroredStrategy tests, the
`large` tier, the dtype policy restored after every test, and the shared tiny paper-2 model.

Logical devices must be configured before TensorFlow initialises its runtime, so this runs at
import time, before any test module touches TensorFlow.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import pytest
import tensorflow as tf
from helpers import PHOTO_SIDE, centre_holes, photo_crops

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

# Worker processes (pytest-xdist, setup.cfg) share the cores: each gets its share of threads for
# an op, instead of every worker running as many threads as there are cores.
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _workers > 1:
    tf.config.threading.set_intra_op_parallelism_threads(max(1, (os.cpu_count() or 1) // _workers))

# The policy every test starts from; a test (or the training it runs) may change it.
SESSION_DTYPE_POLICY = keras.config.dtype_policy()


def pytest_addoption(parser):
    parser.addoption(
        "--run-large",
        action="store_true",
        default=False,
        help="also run the tests marked `large` (minutes each; the default run, which CI runs, skips them)",
    )


# The modules that take longest, longest first (`--durations`, 2026-12-03): with `--dist
# loadscope` (setup.cfg) a module runs whole on one worker, building its module fixtures once, and
# starting the long ones first keeps a worker from ending the run alone with one of them.
LONGEST_MODULES = (
    "test_training_run.py",
    "test_paper2_training.py",
    "test_export.py",
    "test_paper1_training.py",
    "test_serving_process.py",
    "test_inference.py",
    "test_app_browser.py",
)


def _start_rank(item):
    name = item.path.name
    return LONGEST_MODULES.index(name) if name in LONGEST_MODULES else len(LONGEST_MODULES)


def pytest_collection_modifyitems(config, items):
    items.sort(key=_start_rank)  # stable: the order inside a module is kept
    if config.getoption("--run-large"):
        return
    skip = pytest.mark.skip(reason="large: run with --run-large")
    for item in items:
        if "large" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def restore_dtype_policy():
    """Put the session's dtype policy back after every test, whatever the test set or trained in.

    Keras 3 has one global policy: `keras.mixed_precision.set_global_policy` sets the same one.
    """
    yield
    keras.config.set_dtype_policy(SESSION_DTYPE_POLICY)


@pytest.fixture(scope="session")
def photo_paths():
    """A few real photos bundled with the package (the demo data)."""
    from tfinpaint.data import demo_data_dir

    d = demo_data_dir()
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".jpg"))


@pytest.fixture(scope="session")
def paper2_generator(photo_paths):
    """The tiny paper-2 generator many modules serve, export and evaluate: the demo preset at
    width 8 (64-pixel training side), untrained, its BatchNorm statistics set from photos.

    Shared by the whole session: a test may run, save and export it, never train or change it;
    a test that needs weights of its own builds its own. With the initial BatchNorm statistics
    (mean 0, variance 1) the hole comes out a near-constant grey and a parity test against a
    constant proves nothing; one training-mode pass at momentum 0 over photos sets each
    BatchNorm's moving statistics to the photos' batch statistics, so the hole depends on the
    image.
    """
    from tfinpaint.config import get_config
    from tfinpaint.models import build_generator

    keras.utils.set_random_seed(0)
    generator = build_generator(get_config(2, "demo", ["model.generator_width=8"]))
    norms = [
        layer for layer in generator._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert norms, "paper 2's generator is expected to use BatchNorm"
    photos = photo_crops(photo_paths)
    for norm in norms:
        norm.momentum = 0.0
    generator(
        {
            "image": tf.constant(photos, tf.float32) / 255.0,
            "mask": tf.constant(centre_holes(len(photos), PHOTO_SIDE, PHOTO_SIDE, 1), tf.float32),
        },
        training=True,
    )
    for norm in norms:
        norm.momentum = 0.99
    return generator


@pytest.fixture(scope="session")
def paper2_saved_model(paper2_generator, tmp_path_factory):
    """`paper2_generator` exported once (SavedModel, no TFLite): the version folder
    `<tmp>/paper2_tiny/1`. Read it or serve it; a test that adds versions copies it first."""
    from tfinpaint.export import export_saved_model

    return export_saved_model(paper2_generator, str(tmp_path_factory.mktemp("shared") / "paper2_tiny"))
