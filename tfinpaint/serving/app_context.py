"""What the browser page's handler gets from the server that mounts it.

The REST transport calls `tfinpaint.serving.app.handle(method, path, headers, body, context)`
before TF Serving's routes, with an `AppContext`: the server's caps, the models it serves
and its concurrency slots. A leaf module, so the page and the server both import it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping


@dataclasses.dataclass(frozen=True)
class AppContext:
    """The server's side of the page's endpoint contract.

    Attributes:
        max_request_bytes: the body cap; the server answers 413 above it before the page's
            handler runs (the page may show it).
        max_pixels: the pixel cap; images (and masks) declaring more must get 400 before
            they are decoded.
        served: model name -> a callable returning the `ModelInpainter` of the version served
            now (built on first use, once per version).
        slots: the server's prediction slots; hold one while a model runs, so the page and
            the API together stay within `max_concurrent`.
    """

    max_request_bytes: int
    max_pixels: int
    served: Mapping[str, Callable[[], object]] = dataclasses.field(default_factory=dict)
    slots: threading.Semaphore = dataclasses.field(default_factory=lambda: threading.BoundedSemaphore(2))
