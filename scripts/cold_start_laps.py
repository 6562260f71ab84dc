"""Where the default model's cold start goes: laps of one fresh process doing what
`tfinpaint inpaint photo.jpg --mask m.png` does, on `tfinpaint bench user`'s 1024x768 photo and
9-px stroke (docs/BENCHMARKS.md). Each run is a fresh process:

    python scripts/cold_start_laps.py
"""

import tempfile
import time

_start = _last = time.perf_counter()


def lap(name: str) -> None:
    global _last
    now = time.perf_counter()
    print(f"{name:38s} {now - _last:6.2f} s", flush=True)
    _last = now


import numpy  # noqa: E402, F401

lap("import numpy")
import tensorflow  # noqa: E402, F401

lap("import tensorflow")
from tfinpaint.bench.user import make_inputs  # noqa: E402
from tfinpaint.imagefiles import read_image, read_mask, write_image  # noqa: E402
from tfinpaint.inference import load_inpainter  # noqa: E402
from tfinpaint.postprocess import apply_blend  # noqa: E402

lap("import tfinpaint.inference")
inpainter = load_inpainter("default")
lap("load the shipped SavedModel")
photo_path, mask_path, _ = make_inputs(tempfile.mkdtemp(prefix="cold-start-"))
photo, hole = read_image(photo_path).rgb, read_mask(mask_path) > 0
_last = time.perf_counter()  # making the inputs is not part of a user's start
raw = inpainter.inpaint_image(photo, hole)
lap("first call (graph set-up + the network)")
inpainter.inpaint_image(photo, hole)
lap("second call (the network alone)")
blended = apply_blend(inpainter.default_blend, photo, raw, hole)
lap(f"the model's blend ({inpainter.default_blend})")
write_image(f"{photo_path}.out.jpg", blended, overwrite=True)
lap("JPEG write")
