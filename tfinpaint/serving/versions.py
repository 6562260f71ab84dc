"""Which SavedModel version is served: discovery under a TF Serving base path, hot-swap.

A base path holds integer version folders (`saved_models/<name>/<version>/`); as for TF
Serving, the highest one holding a `saved_model.pb` is served, and a poll thread swaps in a
newer one when it appears, without a restart.

Loading a SavedModel runs its graph: serve only models you trust.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import os
import threading
import time

import tensorflow as tf

from tfinpaint.artifacts import newest_version
from tfinpaint.serving.errors import load_status

log = logging.getLogger("tfinpaint.serve")

DEFAULT_POLL_SECONDS = 1.0
# Longest wait between two tries of a version that fails to load and whose files do not change.
MAX_RETRY_SECONDS = 30.0


def _settle_garbage_collector() -> None:
    """Collect the previous version's garbage, then exempt every live object from GC scans.

    TensorFlow leaves millions of Python objects alive; every full collection walks them,
    and decoding one JSON image (hundreds of thousands of lists) triggers several: measured
    here, `json.loads` of a 256x256 uint8 request took 330 ms with TensorFlow imported and
    33 ms after `gc.freeze()`. Unfreezing first lets an unloaded version's cycles be freed.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class LoadedVersion:
    """One loaded SavedModel version: its callable signatures and their SignatureDefs.

    Args:
        path: the version folder. version: its integer version.
    """

    def __init__(self, path: str, version: int):
        from tensorflow.core.protobuf import saved_model_pb2

        self.path = path
        self.version = version
        self.module = tf.saved_model.load(path)
        self.signatures = dict(self.module.signatures)
        proto = saved_model_pb2.SavedModel()
        with open(os.path.join(path, "saved_model.pb"), "rb") as f:
            proto.ParseFromString(f.read())
        self.signature_defs = proto.meta_graphs[0].signature_def
        self.input_specs = {name: fn.structured_input_signature[1] for name, fn in self.signatures.items()}
        self.output_names = {name: sorted(fn.structured_outputs) for name, fn in self.signatures.items()}
        self._inpainter = None
        self._inpainter_lock = threading.Lock()

    def inpainter(self, name: str):
        """This version as a `SavedModelInpainter` (the browser page's path), built on first use."""
        with self._inpainter_lock:
            if self._inpainter is None:
                from tfinpaint.inference import SavedModelInpainter

                self._inpainter = SavedModelInpainter(self.path, name=name)
            return self._inpainter

    def signature_def_map(self):
        """The SignatureDefs as TF Serving's `SignatureDefMap` proto (metadata answers)."""
        from tensorflow_serving.apis import get_model_metadata_pb2

        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, value in self.signature_defs.items():
            signature_map.signature_def[key].CopyFrom(value)
        return signature_map


@dataclasses.dataclass(frozen=True)
class LoadFailure:
    """The newest version, which did not load (yet): what went wrong and when to try again.

    Attributes:
        version: its integer version. code, message: the error, as a status reports it.
        fingerprint: the folder's files when it failed (a change means a retry right away).
        attempts: loads tried so far. retry_at: `time.monotonic()` of the next try.
    """

    version: int
    code: str
    message: str
    fingerprint: tuple
    attempts: int
    retry_at: float


def _fingerprint(path: str) -> tuple:
    """Every file under a version folder with its size and modification time."""
    files = []
    for root, _, names in os.walk(path):
        for name in names:
            full = os.path.join(root, name)
            try:
                stat = os.stat(full)
            except OSError:  # removed while we looked: the next scan sees the change
                continue
            files.append((os.path.relpath(full, path), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(files))


class ModelSource:
    """The newest version under a TF Serving base path, reloaded when a newer one appears.

    Args:
        base_path: folder of integer version folders (`saved_models/<name>`).
        name: the model name clients use (default: the folder name).
        poll_seconds: how often `start_polling` rescans the folder.

    Raises:
        FileNotFoundError: no folder, or no version folder holding a `saved_model.pb`.
        RuntimeError: the newest version does not load.
    """

    def __init__(self, base_path: str, name: str | None = None, poll_seconds: float = DEFAULT_POLL_SECONDS):
        self.base_path = os.path.abspath(base_path)
        self.name = name or os.path.basename(self.base_path.rstrip(os.sep))
        self.poll_seconds = poll_seconds
        self._current: LoadedVersion | None = None
        self._failure: LoadFailure | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if not os.path.isdir(self.base_path):
            raise FileNotFoundError(f"--model-base-path {base_path}: no such folder")
        if not self.refresh():
            if self._failure is not None:
                raise RuntimeError(
                    f"--model-base-path {base_path}: version {self._failure.version} cannot be loaded: "
                    f"{self._failure.message}"
                )
            raise FileNotFoundError(
                f"--model-base-path {base_path}: no integer version folder holding a "
                "saved_model.pb; create one with `tfinpaint export`"
            )

    def current(self) -> LoadedVersion:
        with self._lock:
            return self._current

    def failure(self) -> LoadFailure | None:
        """The newest version's load failure while it is retried, else None."""
        with self._lock:
            return self._failure

    def refresh(self) -> bool:
        """Serve the newest version if it is not the one served; True when one is served.

        As TF Serving does, the newest folder on disk wins, also when it is older than the
        one served (the newer folder was removed). A version that fails to load — typically
        one still being copied in, `saved_model.pb` first and its variables after — is
        retried as soon as its files change, and otherwise after a wait that doubles up to
        `MAX_RETRY_SECONDS`, until it loads or is removed; the one being served stays.
        """
        newest = newest_version(self.base_path)
        current = self.current()
        if newest is None or (current is not None and newest[0] == current.version):
            with self._lock:
                self._failure = None
            return current is not None
        version, path = newest
        fingerprint = _fingerprint(path)
        failure = self.failure()
        if failure is not None and failure.version != version:
            failure = None
        if failure and failure.fingerprint == fingerprint and time.monotonic() < failure.retry_at:
            return current is not None
        try:
            loaded = LoadedVersion(path, version)
        except Exception as error:  # a broken export must not stop the one being served
            self._record_failure(version, path, error, fingerprint, failure, current)
            return current is not None
        with self._lock:
            self._current = loaded
            self._failure = None
        del current
        _settle_garbage_collector()
        log.info("serving %s version %d from %s", self.name, version, path)
        return True

    def _record_failure(self, version, path, error, fingerprint, previous, current) -> None:
        code, message = load_status(error)
        attempts = previous.attempts + 1 if previous else 1
        delay = min(MAX_RETRY_SECONDS, self.poll_seconds * 2 ** min(attempts - 1, 16))
        with self._lock:
            self._failure = LoadFailure(
                version, code, message, fingerprint, attempts, time.monotonic() + delay
            )
        # Said once per version and again when the error changes; the retries are quiet.
        level = logging.DEBUG if previous and previous.message == message else logging.ERROR
        log.log(
            level,
            "could not load %s (still serving %s; retrying when its files change or in %.0f s): %s",
            path,
            current.version if current else "nothing",
            delay,
            message,
        )

    def start_polling(self) -> None:
        def loop():
            while not self._stop.wait(self.poll_seconds):
                try:
                    self.refresh()
                except OSError as error:
                    log.error("cannot scan %s: %s", self.base_path, error)

        self._thread = threading.Thread(target=loop, name="tfinpaint-version-poll", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
