"""Which SavedModel version is served: discovery under a TF Serving base path, hot-swap.

A base path holds integer version folders (`saved_models/<name>/<version>/`); as for TF
Serving, the highest one holding a `saved_model.pb` is served, and a poll thread swaps in a
newer one when it appears, without a restart.

Loading a SavedModel runs its graph: serve only models you trust.
"""

from __future__ import annotations

import gc
import logging
import os
import threading

import tensorflow as tf

from tfinpaint.inference import newest_version

log = logging.getLogger("tfinpaint.serve")

DEFAULT_POLL_SECONDS = 1.0


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

    def signature_def_map(self):
        """The SignatureDefs as TF Serving's `SignatureDefMap` proto (metadata answers)."""
        from tensorflow_serving.apis import get_model_metadata_pb2

        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, value in self.signature_defs.items():
            signature_map.signature_def[key].CopyFrom(value)
        return signature_map


class ModelSource:
    """The newest version under a TF Serving base path, reloaded when a newer one appears.

    Args:
        base_path: folder of integer version folders (`saved_models/<name>`).
        name: the model name clients use (default: the folder name).
        poll_seconds: how often `start_polling` rescans the folder.
    """

    def __init__(self, base_path: str, name: str | None = None, poll_seconds: float = DEFAULT_POLL_SECONDS):
        self.base_path = os.path.abspath(base_path)
        self.name = name or os.path.basename(self.base_path.rstrip(os.sep))
        self.poll_seconds = poll_seconds
        self._current: LoadedVersion | None = None
        self._failed: dict = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if not os.path.isdir(self.base_path):
            raise FileNotFoundError(f"--model-base-path {base_path}: no such folder")
        if not self.refresh():
            raise FileNotFoundError(
                f"--model-base-path {base_path}: no integer version folder holding a loadable "
                "saved_model.pb; create one with `tfinpaint export`"
            )

    def current(self) -> LoadedVersion:
        with self._lock:
            return self._current

    def refresh(self) -> bool:
        """Serve the newest version if it is not the one served; True when one is served.

        As TF Serving does, the newest folder on disk wins, also when it is older than the
        one served (the newer folder was removed). A version that fails to load is not
        retried until its `saved_model.pb` changes; the one being served stays.
        """
        newest = newest_version(self.base_path)
        current = self.current()
        if newest is None or (current is not None and newest[0] == current.version):
            return current is not None
        version, path = newest
        stamp = os.path.getmtime(os.path.join(path, "saved_model.pb"))
        if self._failed.get(version) == stamp:
            return current is not None
        try:
            loaded = LoadedVersion(path, version)
        except Exception as error:  # a broken export must not stop the one being served
            self._failed[version] = stamp
            log.error(
                "could not load %s (still serving %s): %s",
                path,
                current.version if current else "nothing",
                error,
            )
            return current is not None
        with self._lock:
            self._current = loaded
        del current
        _settle_garbage_collector()
        log.info("serving %s version %d from %s", self.name, version, path)
        return True

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
