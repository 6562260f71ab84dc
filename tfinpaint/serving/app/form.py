"""multipart/form-data bodies (what a browser's `FormData` sends), parsed without `cgi`, and the
page's fields read from them; a field that cannot be used is a `FormError` naming it.

The standard library's `cgi` module is deprecated (removed in Python 3.13) and `email`'s
parser reads binary parts line by line; a form is split on its boundary in one pass here.
"""

from __future__ import annotations

import dataclasses
import re
from email.message import Message
from email.utils import collapse_rfc2231_value

# The page's forms have eight fields; a body of a million tiny ones is refused before parsing.
MAX_FIELDS = 32
# `dilate` and `feather` beyond this many pixels are refused: the page's slider stops far below.
MAX_GROW_PIXELS = 1000
MAX_SEED = 2**31 - 1
_DIGITS = re.compile(r"^-?[0-9]{1,12}$")
_FORMATS = {"": "png", "png": "png", "jpeg": "jpeg", "jpg": "jpeg"}


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


def label(field: FormField) -> str:
    """How messages name a field: its name, and the uploaded file's name when there is one."""
    return f"{field.name} {field.filename!r}" if field.filename else field.name


def file_field(form: dict[str, FormField], name: str) -> FormField:
    """The uploaded file `name`; FormError when it is missing or empty."""
    field = form.get(name)
    if field is None or not field.data:
        raise FormError(f"form field {name!r}: missing or empty; expected an uploaded file")
    return field


def text_field(form: dict[str, FormField], name: str) -> str:
    """A text field's value, stripped; "" when the form does not have it."""
    return form[name].text if name in form else ""


def _integer(form: dict[str, FormField], name: str, low: int, high: int, expected: str) -> int | None:
    """A form field's integer in [low, high]; None when empty; FormError naming the field otherwise."""
    text = text_field(form, name)
    if not text:
        return None
    if not _DIGITS.match(text) or not low <= int(text) <= high:
        raise FormError(f"form field {name!r}: {text[:40]!r}; expected {expected}")
    return int(text)


def seed_field(form: dict[str, FormField]) -> int | None:
    """`seed`: None (the deterministic completion) or an integer from 0 to `MAX_SEED`."""
    return _integer(form, "seed", 0, MAX_SEED, f"an integer from 0 to {MAX_SEED}, or nothing")


def pixels_field(form: dict[str, FormField], name: str) -> int:
    """`dilate` or `feather`: whole pixels from 0 to `MAX_GROW_PIXELS` (empty = 0)."""
    expected = f"a whole number of pixels from 0 to {MAX_GROW_PIXELS}"
    return _integer(form, name, 0, MAX_GROW_PIXELS, expected) or 0


def format_field(form: dict[str, FormField]) -> str:
    """`format`: "png" (also when empty) or "jpeg" (also written "jpg")."""
    text = text_field(form, "format")
    fmt = _FORMATS.get(text.lower())
    if fmt is None:
        raise FormError(f"form field 'format': {text[:40]!r}; expected png or jpeg")
    return fmt
