"""`tfinpaint bench user`: the user-facing timings of issue 20, as a Markdown table.

Each figure is the median wall time of `--runs` fresh processes, as a user would run them:
`tfinpaint inpaint` on one 1024×768 photo with a thin stroke (`telea`, then the default model,
cold), the same TELEA fill as a 3-line OpenCV script, a folder of 10 such photos (per photo
after the first: (folder of 10 - one photo) / 9), and `tfinpaint serve` on a fresh cache
until `GET /v1/models/default` answers. The photos are demo crops resized to 1024×768.
The first line says the date, the load average and how busy the CPUs were just before.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

SIZE = (1024, 768)
FOLDER_PHOTOS = 10
OPENCV_SCRIPT = (
    "import cv2, sys\n"
    "img, m = cv2.imread(sys.argv[1]), cv2.imread(sys.argv[2], 0)\n"
    "cv2.imwrite(sys.argv[3], cv2.inpaint(img, m, 3, cv2.INPAINT_TELEA))\n"
)


EXAMPLES = (
    "tfinpaint bench user                  # medians of 3 fresh processes per figure",
    "tfinpaint bench user --runs 1 --serve-timeout 60",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per figure (default: 3)")
    parser.add_argument(
        "--serve-timeout", type=float, default=120.0, help="give up on the server after this (default: 120 s)"
    )


def make_inputs(root: str) -> tuple[str, str, str]:
    """(photo, mask, folder of FOLDER_PHOTOS photos): demo crops resized to 1024×768, and a
    9-pixel polyline as the hole (a thin stroke, as a user removes a wire or a scratch)."""
    import cv2

    from tfinpaint.data import demo_data_dir

    demo = demo_data_dir()
    names = sorted(f for f in os.listdir(demo) if f.lower().endswith(".jpg"))[:FOLDER_PHOTOS]
    folder = os.path.join(root, "photos")
    os.makedirs(folder)
    for k, name in enumerate(names):
        photo = cv2.resize(cv2.imread(os.path.join(demo, name)), SIZE, interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(os.path.join(folder, f"p{k}.jpg"), photo, [cv2.IMWRITE_JPEG_QUALITY, 95])
    mask = np.zeros(SIZE[::-1], np.uint8)
    stroke = np.array([[100, 100], [400, 300], [700, 250], [900, 600]], np.int32)
    cv2.polylines(mask, [stroke], False, 255, 9)
    mask_path = os.path.join(root, "m.png")
    cv2.imwrite(mask_path, mask)
    photo_path = os.path.join(root, "photo.jpg")
    shutil.copy(os.path.join(folder, "p0.jpg"), photo_path)
    return photo_path, mask_path, folder


def tfinpaint_command(*args: str) -> list[str]:
    """The console script beside this Python (what a user types), else `python -m tfinpaint.cli`."""
    script = os.path.join(os.path.dirname(sys.executable), "tfinpaint")
    return [script, *args] if os.path.isfile(script) else [sys.executable, "-m", "tfinpaint.cli", *args]


def timed(command: list[str], before=None) -> float:
    """Wall seconds of one run of `command` (which must succeed); `before()` runs untimed first."""
    if before is not None:
        before()
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_first_answer(timeout: float) -> float:
    """Seconds from starting `tfinpaint serve` on a fresh cache to its first 200 for the model."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="tfinpaint-bench-cache-") as cache:
        command = tfinpaint_command("serve", "--port", str(port), "--grpc-port", "-1", "--cache-dir", cache)
        start = time.perf_counter()
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while time.perf_counter() - start < timeout:
                if server.poll() is not None:
                    raise RuntimeError(f"{' '.join(command)} exited with {server.returncode}")
                try:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    connection.request("GET", "/v1/models/default")
                    if connection.getresponse().status == 200:
                        return time.perf_counter() - start
                except OSError:
                    pass
                time.sleep(0.05)
            raise RuntimeError(f"the server did not answer within {timeout} s")
        finally:
            server.terminate()
            server.wait(timeout=60)


def cpu_busy(seconds: float = 1.0) -> float:
    """How many cores' worth of CPU the machine used over `seconds` (from /proc/stat)."""

    def sample():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        return sum(values), values[3] + values[4]  # total, idle + iowait

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return (os.cpu_count() or 1) * (1 - (idle1 - idle0) / max(1, total1 - total0))


def measure(runs: int, serve_timeout: float):
    """Yields (what, command, median seconds) rows as they are measured."""
    with tempfile.TemporaryDirectory(prefix="tfinpaint-bench-user-") as root:
        photo, mask, folder = make_inputs(root)
        out = os.path.join(root, "out")

        def clear():
            shutil.rmtree(out, ignore_errors=True)

        def median(command, before=clear):
            return statistics.median(timed(command, before) for _ in range(runs))

        opencv = [sys.executable, "-c", OPENCV_SCRIPT, photo, mask, os.path.join(root, "cv.png")]
        one = ["inpaint", photo, "--mask", mask, "-o", os.path.join(out, "photo.png")]
        many = ["inpaint", folder, "--mask", mask, "-o", out]
        yield (
            "3-line OpenCV TELEA script",
            "python -c '<cv2.imread, cv2.inpaint, cv2.imwrite>'",
            median(opencv),
        )
        for model in ("telea", "default"):
            command = [*one, "--model", model]
            seconds = median(tfinpaint_command(*command))
            yield f"one photo, {model}", "tfinpaint " + " ".join(_shown(command, root)), seconds
            folder_seconds = median(tfinpaint_command(*many, "--model", model))
            shown = "tfinpaint " + " ".join(_shown([*many, "--model", model], root))
            yield f"folder of {FOLDER_PHOTOS}, {model}: total", shown, folder_seconds
            per_photo = (folder_seconds - seconds) / (FOLDER_PHOTOS - 1)
            yield f"folder of {FOLDER_PHOTOS}, {model}: per photo after the first", "", per_photo
    serve = statistics.median(serve_first_answer(serve_timeout) for _ in range(runs))
    yield ("serve, fresh cache, until GET /v1/models/default answers", "tfinpaint serve", serve)


def _shown(command: list[str], root: str) -> list[str]:
    return [part.replace(root + os.sep, "") for part in command]


def run(args) -> int:
    print(
        f"# {datetime.datetime.now().isoformat(timespec='minutes')} cores={os.cpu_count()} "
        f"busy_cores_before={cpu_busy():.2f} load_before={os.getloadavg()[0]:.2f} runs={args.runs} (median)"
    )
    print("| what | command | seconds |\n|---|---|---:|", flush=True)
    for what, command, seconds in measure(args.runs, args.serve_timeout):
        shown = f"`{command}`" if command else ""
        print(f"| {what} | {shown} | {seconds:.2f} |", flush=True)
    print(f"# load_after={os.getloadavg()[0]:.2f}")
    return 0
