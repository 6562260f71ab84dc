"""The warnings a page request raises (`InputWarning`: 16-bit scaled, animated GIF, nothing
changed …), collected for the answer instead of reaching only the server's terminal.

`warnings.catch_warnings` changes process-wide state and would mix up requests served at
once; a hook on `warnings.showwarning` hands each warning to the collector of the thread that
raised it, and prints the others as before.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator

from tfinpaint.convention import InputWarning

_local = threading.local()
_install_lock = threading.Lock()
_previous_showwarning = warnings.showwarning


def _show(message, category, filename, lineno, file=None, line=None):
    notes = getattr(_local, "notes", None)
    if notes is not None and issubclass(category, InputWarning):
        notes.append(str(message))
        return
    _previous_showwarning(message, category, filename, lineno, file, line)


def _install() -> None:
    """Hook `showwarning` (again, if a `catch_warnings` block replaced it since)."""
    global _previous_showwarning
    with _install_lock:
        if warnings.showwarning is not _show:
            _previous_showwarning = warnings.showwarning
            warnings.showwarning = _show
        # Every request is told, not only the first to hit a warning's line.
        warnings.filterwarnings("always", category=InputWarning)


def current() -> list[str]:
    """What this thread's `collected` block has gathered so far."""
    return list(getattr(_local, "notes", None) or [])


@contextlib.contextmanager
def collected() -> Iterator[list[str]]:
    """The `InputWarning` messages this thread raises in the `with` block, in order."""
    _install()
    _local.notes = notes = []
    try:
        yield notes
    finally:
        _local.notes = None
