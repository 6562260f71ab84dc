"""The browser page of `tfinpaint serve`: open a photo, paint the mask, get the result.

`handle(method, path, headers, body, context)` answers the page's routes and returns None for
every other path, so the server's TF Serving routes stay as they are:

- `GET  /` -> the page; `GET /app/<file>` -> its script and style (shipped in `static/`).
- `GET  /v1/app/models` -> `{"models": [{"name", "kind", "can_sample", "blend"}, …], "selected": name,
  "limits": {"max_request_bytes", "max_pixels"}}`: the served models, `default` (when this
  install ships it) and the classical fills telea, ns, biharmonic (patchmatch when installed).
- `POST /v1/app/inpaint`, multipart/form-data: `image` (any file `tfinpaint inpaint` reads),
  `mask` (white = hole, the image's size), `model` (a name from the list; default `selected`),
  `blend` (`poisson` | `patches` | `none`; empty = the model's default), `seed` (empty = the
  model's deterministic completion, an integer = that random sample, for models that can sample), `dilate` and
  `feather` (pixels, default 0: grow the hole; blend the fill in over a ring, as
  `tfinpaint inpaint --dilate/--feather`), `format` (`png`, default, or `jpeg`). Answers the
  completed image — PNG keeps the input's alpha — through `tfinpaint.inference.inpaint`, the
  code of `tfinpaint inpaint`.
- `POST /v1/app/decode`, multipart `image` -> the image as the server reads it, as PNG (for
  formats a browser cannot show, such as TIFF).

Both POSTs take a place in the server's `WorkBudget` before they decode anything (their
estimate from the pixels the files' headers declare) and stop at the next stage once the
client has gone. What the server warns about (16-bit scaled, animated, nothing changed)
comes back in the header `X-Tfinpaint-Warnings`, a JSON list of messages.

Errors answer `{"error": "…"}` with 400 (bad input, images above `max_pixels`), 404 (unknown
model or route), 405 with `Allow`, 413 (work above the budget), 503 with `Retry-After` (busy)
— a `ServingError`, as on the REST API — or 500 (a generic message that never repeats the
exception, which may name the server's paths; the details go to the server's log). The
caller enforces `max_request_bytes` (413) before it reads a body, as for its own routes.

The routes are in `routes`; the form's fields in `form`; what the page answers in `responses`.
"""

from __future__ import annotations

import logging

from tfinpaint.imagefiles import ImageError
from tfinpaint.serving.app import notes
from tfinpaint.serving.app.form import FormError
from tfinpaint.serving.app.responses import Response, json_response
from tfinpaint.serving.app.routes import answer
from tfinpaint.serving.app_context import AppContext
from tfinpaint.serving.budget import ClientGone, WorkBudget
from tfinpaint.serving.errors import ServingError

__all__ = ["AppContext", "WorkBudget", "handle", "is_page_path"]

log = logging.getLogger("tfinpaint.serve.app")


def is_page_path(path: str) -> bool:
    """Whether a request path (query string allowed) belongs to the page, not to TF Serving's API."""
    path = path.split("?", 1)[0]
    return path == "/" or path.startswith("/app/") or path.startswith("/v1/app/")


def handle(
    method: str, path: str, headers: dict, body: bytes, context: AppContext, gone=lambda: False
) -> Response | None:
    """Answer a request to the page's routes; None for any other path (not the page's).

    Args:
        method: "GET", "POST", … path: the request path (a query string is ignored).
        headers: the request headers (any case). body: the request body (the caller has
            refused bodies above `context.max_request_bytes`).
        context: the server's `AppContext`.
        gone: returns True once the client has disconnected; the work stops at its next stage.

    Returns:
        (HTTP status, response headers including Content-Type, body), or None.

    Raises:
        ClientGone: the client went away (nobody to answer).
    """
    if not is_page_path(path):
        return None
    path = path.split("?", 1)[0]
    headers = {key.lower(): value for key, value in headers.items()}
    try:
        with notes.collected():
            return answer(method, path, headers, body, context, gone)
    except ServingError as error:  # the routes' 400 / 404 / 405 / 413, the budget's 413 and 503
        return json_response(error.http_status, {"error": error.message}, error.headers())
    except ClientGone:
        raise
    except (FormError, ImageError, ValueError) as error:
        return json_response(400, {"error": str(error)})
    except Exception:  # the page shows every failure; the server keeps serving
        # The exception's text may name files or settings of the server: logged, never sent.
        log.exception("internal error on %s %s", method, path)
        return json_response(500, {"error": "internal error; the server's log has the details"})
