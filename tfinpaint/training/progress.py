"""What a run shows while it trains: a progress bar or log lines, and a clean stop on a signal."""

from __future__ import annotations

import signal
import sys
import time


class StopSignal:
    """SIGTERM / SIGINT request a checkpoint and a clean stop after the current step."""

    def __init__(self):
        self.requested = False
        self._previous = {}
        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            self._previous = {}

    def _handle(self, signum, frame):
        if self.requested:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.requested = True

    def restore(self):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class Progress:
    """A tqdm bar with step, phase, losses, images/s and ETA; plain log lines when not a TTY."""

    def __init__(self, total, start, global_batch, enabled=None, log=print):
        self.log = log
        self.total, self.global_batch = total, global_batch
        self.started, self.start_step = time.time(), start
        enabled = sys.stderr.isatty() if enabled is None else enabled
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=start, unit="step", dynamic_ncols=True)
        self.last_line = time.time()

    def update(self, step, phase, logs):
        short = {k: f"{v:.4g}" for k, v in logs.items()}
        rate = (step - self.start_step) / max(time.time() - self.started, 1e-9)
        images_per_sec = f"{rate * self.global_batch:.1f}"
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            self.bar.set_postfix(phase=phase, img_s=images_per_sec, **short, refresh=False)
        elif time.time() - self.last_line > 10 or step == self.total:
            eta = (self.total - step) / max(rate, 1e-9)
            self.log(
                f"step {step}/{self.total} [{phase}] "
                + " ".join(f"{k}={v}" for k, v in short.items())
                + f" {images_per_sec} images/s ETA {eta:.0f}s"
            )
            self.last_line = time.time()

    def close(self):
        if self.bar is not None:
            self.bar.close()
