"""multipart/form-data bodies (what a browser's `FormData` sends), parsed without `cgi`.

The standard library's `cgi` module is deprecated (removed in Python 3.13) and `email`'s
parser reads binary parts line by line; a form is split on its boundary in one pass here.
"""

from __future__ import annotations

import dataclasses
from email.message import Message
from email.utils import collapse_rfc2231_value

# The page's forms have eight fields; a body of a million tiny ones is refused before parsing.
MAX_FIELDS = 32


class FormError(ValueError):
    """A body that is not the multipart form the endpoint expects; the message says why."""


@dataclasses.dataclass
class FormField:
    """One part of a form: a text field (`filename` None) or an uploaded file.

    Attributes:
        name: the field's name. filename: the uploaded file's name, or None.
        data: the part's bytes, exactly as sent.
    """

    name: str
    filename: str | None
    data: bytes

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace").strip()


def _header_params(value: str) -> Message:
    message = Message()
    message["content-type"] = value
    return message


def _param(header_value: str, key: str) -> str | None:
    """A parameter of a header value (`name="image"`), RFC 2231 (`filename*=`) decoded."""
    value = _header_params(header_value).get_param(key, header="content-type")
    return collapse_rfc2231_value(value) if value is not None else None


def parse_form(content_type: str, body: bytes) -> dict[str, FormField]:
    """Parse a multipart/form-data body into fields by name (the last part of a name wins).

    Args:
        content_type: the request's Content-Type header (carries the boundary).
        body: the request body.

    Raises:
        FormError: another content type, no boundary, or a malformed body.
    """
    params = _header_params(content_type or "")
    if params.get_content_type() != "multipart/form-data":
        raise FormError(
            f"Content-Type {content_type or '(none)'!r}: expected multipart/form-data "
            "(an HTML form or FormData with the fields image, mask, model, blend, seed)"
        )
    boundary = params.get_param("boundary")
    if not boundary or not isinstance(boundary, str):
        raise FormError("multipart/form-data without a boundary parameter")
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    parts = body.count(delimiter) + body.startswith(delimiter[2:])
    if parts - 1 > MAX_FIELDS:
        raise FormError(f"the form has {parts - 1} parts; expected at most {MAX_FIELDS} fields")
    # Every delimiter follows a CRLF except the first: add one so a single split finds all.
    chunks = (b"\r\n" + body).split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise FormError("malformed multipart body: its closing boundary is missing")
    fields = {}
    for chunk in chunks[1:-1]:
        head, separator, data = chunk.partition(b"\r\n\r\n")
        if not separator:
            raise FormError("malformed multipart body: a part has no header/body separator")
        headers = Message()
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, colon, value = line.partition(":")
            if colon:
                headers[key.strip()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = _param(disposition, "name")
        if not name:
            raise FormError("malformed multipart body: a part has no Content-Disposition name")
        filename = _param(disposition, "filename")
        fields[name] = FormField(name=name, filename=filename, data=data)
    return fields
