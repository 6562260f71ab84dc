"""`tfinpaint bench`: the figures' arithmetic, on a clock that ticks a known step so they are
exact whatever the machine's load, and what the command prints."""

import json

from helpers import PHOTO_SIDE, TickingClock

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


def test_bench_infer_times_every_way_to_run_the_model_in_turn(paper2_generator, monkeypatch):
    """Every way is exported, started and called for real (a call that fails fails the test);
    only the clock is fake. The shared tiny generator: the export `measure` makes is the cost."""
    from tfinpaint.bench import infer

    monkeypatch.setattr(infer, "time", TickingClock(1.0))
    image, mask = infer.bench_photo(32)
    figures = infer.measure(paper2_generator, image, mask, runs=3, warmup=1, variants=("fp32",), threads=2)
    ways = ("keras", "saved_model", "tflite_fp32", "server_rest_bytes", "server_rest_json", "server_grpc")
    # Each timed call lies between two readings of the clock: one tick, 1000 ms, in every round.
    assert {k: v for k, v in figures.items() if k.endswith("_ms_per_image")} == {
        f"{way}_ms_per_image": 1000.0 for way in ways
    }
    assert figures["server_overhead_pct"] == 0.0
    # The phone file runs at its own fixed side, the generator's training side here.
    assert figures["tflite_size"] == PHOTO_SIDE and figures["tflite_fp32_mb"] > 0
