"""A small REST client for a tfinpaint export, served by TF Serving or by `tfinpaint serve`.

It sends PNGs to the `bytes` signature (`{"b64": …}` in, `inpainted_bytes` out): a 256x256
request is ~150 kB instead of the ~1.3 MB of JSON number lists the uint8 signature needs.
Standard library and Pillow only, so it runs where TensorFlow is not installed.
"""

from __future__ import annotations

import base64
import io
import json
import urllib.error
import urllib.request

import numpy as np


class ServingClientError(RuntimeError):
    """The server refused a request; `status` is the HTTP code, the message its `error`."""

    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


def _png(array: np.ndarray) -> dict:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return {"b64": base64.b64encode(buffer.getvalue()).decode("ascii")}


def _from_png(payload: dict) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(payload["b64"]))) as image:
        return np.asarray(image.convert("RGB"))


class InpaintClient:
    """Inpaint numpy images through TF Serving's REST API.

    Args:
        model_name: the served model's name (`saved_models/<name>`).
        url: the server's root, e.g. `http://127.0.0.1:8501`.
        timeout: seconds to wait for each answer.

    Example:
        >>> client = InpaintClient("paper2_demo")
        >>> completed = client.inpaint(image, mask)  # uint8 [H,W,3], mask [H,W] non-zero = hole
    """

    def __init__(self, model_name: str, url: str = "http://127.0.0.1:8501", timeout: float = 60):
        self.model_name = model_name
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, suffix: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(
            f"{self.url}/v1/models/{self.model_name}{suffix}",
            data=data,
            method="GET" if data is None else "POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", "replace")
            try:
                text = json.loads(text).get("error", text)
            except ValueError:
                pass
            raise ServingClientError(error.code, text) from None

    def version(self) -> int:
        """The version being served."""
        return int(self._call("")["model_version_status"][0]["version"])

    def inpaint(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Complete `image` (uint8 [H,W,3]) where `mask` ([H,W] or [H,W,1]) is non-zero.

        Returns:
            uint8 [H,W,3]; outside the hole equal to `image`.
        """
        image = np.asarray(image)
        mask = np.asarray(mask)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(f"image: expected uint8 [H, W, 3], got {image.dtype} {list(image.shape)}")
        if mask.ndim == 3 and mask.shape[-1] == 1:
            mask = mask[..., 0]
        if mask.shape != image.shape[:2]:
            raise ValueError(f"mask: expected [H, W] = {list(image.shape[:2])}, got {list(mask.shape)}")
        hole = np.where(mask != 0, 255, 0).astype(np.uint8)
        answer = self._call(
            ":predict",
            {
                "signature_name": "bytes",
                "instances": [{"image_bytes": _png(image), "mask_bytes": _png(hole)}],
            },
        )
        return _from_png(answer["predictions"][0])
