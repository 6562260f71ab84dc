"""The size policy's choice of scale: thin holes at full resolution, wide holes at the training
scale (`tfinpaint.inference.sizing`)."""

import numpy as np

from tfinpaint.inference.sizing import SizePolicy
from tfinpaint.inference.windows import plan_windows

POLICY = SizePolicy.for_network(multiple=4, train_size=128, max_side=1024)


def plan(hole):
    result = plan_windows(hole, POLICY)
    return result.windows.numpy().tolist(), result.targets.numpy().tolist()


def test_a_thin_stroke_is_completed_at_full_resolution():
    hole = np.zeros((256, 256), bool)
    hole[40:220, 100:112] = True  # a 12-px wide stroke
    windows, targets = plan(hole)
    assert windows == [[0, 256, 0, 256]] and targets == [[256, 256]]


def test_a_wide_hole_is_completed_at_the_training_scale():
    hole = np.zeros((256, 256), bool)
    hole[64:192, 64:192] = True  # the centre 128x128 hole: wider than half the training side
    windows, targets = plan(hole)
    assert windows == [[0, 256, 0, 256]] and targets == [[128, 128]]


def test_policy_numbers():
    assert (POLICY.window_side, POLICY.native_side, POLICY.thin_radius) == (128, 1024, 32)
    # A network with its own limit (paper 1's attention) never runs above it, thin hole or not.
    assert SizePolicy.for_network(multiple=32, network_max_side=512, train_size=256).thin_side == 512
