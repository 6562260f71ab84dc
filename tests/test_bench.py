"""`tfinpaint bench`: the figures' arithmetic, on a clock that ticks a known step so they are
exact whatever the machine's load, and what the command prints."""

import json

from helpers import TickingClock

from tfinpaint import cli
from tfinpaint.bench import data as bench_data


def test_bench_data_counts_whole_batches_in_the_time_given(monkeypatch, capsys):
    monkeypatch.setattr(bench_data, "time", TickingClock(1.0))
    argv = [
        "bench",
        "data",
        "--image-size",
        "32",
        "--batch-size",
        "4",
        "--seconds",
        "2.5",
        "--warmup-batches",
        "1",
    ]
    assert cli.main([*argv, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    # The clock reads 1 at the start, 2 and 3 (under 2.5 s: one batch each), 4 (time is up),
    # and 5 at the end: 8 images in 4 s.
    assert printed["figures"] == {"images_per_sec": 2.0, "images": 8, "seconds": 4.0}
    assert {k: printed["machine"][k] for k in ("source", "masks", "image_size", "batch_size")} == {
        "source": "demo",
        "masks": "center",
        "image_size": 32,
        "batch_size": 4,
    }
    assert cli.main([*argv[:2], "--source", "/no/such/folder", "--seconds", "0"]) == 2
    assert "/no/such/folder" in capsys.readouterr().out
