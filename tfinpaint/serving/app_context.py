"""What the browser page's handler gets from the server that mounts it.

The REST transport calls `tfinpaint.serving.app.handle(method, path, headers, body, context)`
before TF Serving's routes, with an `AppContext`: the server's caps, the models it serves
and its `WorkBudget`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from tfinpaint.serving.budget import WorkBudget


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
        budget: the server's `WorkBudget`; hold a place in it from before decoding until
            the answer is encoded, so the page and the API together stay within it.
    """

    max_request_bytes: int
    max_pixels: int
    served: Mapping[str, Callable[[], object]] = dataclasses.field(default_factory=dict)
    budget: WorkBudget = dataclasses.field(default_factory=WorkBudget.default)
