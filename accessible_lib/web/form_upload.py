"""A form with one file, read as it streams in, within a size limit: for readers' evidence and members' CSV.

Why not `request.form()`: Starlette would spool the whole file to the system's temporary directory first,
whatever its size, and only then could its size be checked. Here the body is refused before it is read
when its Content-Length is over the limit, a file stops being written the moment it passes the limit, its
first bytes are kept so its type can be judged by them, and no byte is kept before the form's CSRF token
(sent before the file by our forms) has been checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

MAX_FIELD_BYTES = 4096
MAX_FIELDS = 20
FORM_ROOM = 64 * 1024  # what the fields of the form may add to the file's limit
HEAD_BYTES = 16


class BodyTooLarge(Exception):
    """The request is larger than the file limit and the form's fields together: nothing was kept."""


class CsrfRefused(Exception):
    pass


class Malformed(Exception):
    """Not a multipart form, or one cut off or broken."""


@dataclass
class UploadedFile:
    size: int = 0
    head: bytes = b""
    too_large: bool = False
    path: Path | None = None  # written to disk (when a directory was given)
    data: bytearray | None = None  # kept in memory (otherwise)

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None
        self.data = None


@dataclass
class StreamedForm:
    fields: dict[str, str] = field(default_factory=dict)
    file: UploadedFile | None = None


@dataclass
class _Parser:
    file_field: str
    max_file_bytes: int
    csrf_field: str
    check_csrf: Callable[[str], bool]
    new_path: Callable[[], Path] | None
    form: StreamedForm = field(default_factory=StreamedForm)
    csrf_ok: bool = False
    _header_name: bytes = b""
    _header_value: bytes = b""
    _disposition: bytes = b""
    _field: str | None = None
    _field_data: bytearray = field(default_factory=bytearray)
    _receiving: bool = False
    _handle: object = None

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": lambda data, start, end: self._add_name(data[start:end]),
            "on_header_value": lambda data, start, end: self._add_value(data[start:end]),
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
        }

    def _add_name(self, data: bytes) -> None:
        self._header_name += data

    def _add_value(self, data: bytes) -> None:
        self._header_value += data

    def on_part_begin(self) -> None:
        self._disposition = b""
        self._field = None
        self._field_data = bytearray()
        self._receiving = False

    def on_header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in options:
            if len(self.form.fields) >= MAX_FIELDS:
                raise FormParserError("too many fields")
            self._field = name
            return
        if name != self.file_field or not options[b"filename"] or self.form.file is not None:
            return  # an empty file input, another file, or a second one: skipped
        if not self.csrf_ok:
            raise CsrfRefused  # our forms send the token before the file
        self.form.file = UploadedFile()
        self._receiving = True
        if self.new_path is not None:
            self.form.file.path = self.new_path()
            self._handle = self.form.file.path.open("xb")
        else:
            self.form.file.data = bytearray()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._field is not None:
            if len(self._field_data) + (end - start) > MAX_FIELD_BYTES:
                raise FormParserError("form field too long")
            self._field_data += data[start:end]
            return
        upload = self.form.file
        if not self._receiving or upload is None or upload.too_large:
            return
        chunk = data[start:end]
        upload.size += len(chunk)
        if len(upload.head) < HEAD_BYTES:
            upload.head = (upload.head + chunk)[:HEAD_BYTES]
        if upload.size > self.max_file_bytes:
            upload.too_large = True
            self._close()
            upload.discard()
            return
        if self._handle is not None:
            self._handle.write(chunk)  # type: ignore[attr-defined]
        elif upload.data is not None:
            upload.data += chunk

    def on_part_end(self) -> None:
        if self._field is not None:
            value = self._field_data.decode("utf-8", "replace")
            self.form.fields[self._field] = value
            if self._field == self.csrf_field:
                if not self.check_csrf(value):
                    raise CsrfRefused
                self.csrf_ok = True
        elif self._receiving:
            self._close()
        self._field = None
        self._receiving = False

    def _close(self) -> None:
        if self._handle is not None:
            self._handle.close()  # type: ignore[attr-defined]
            self._handle = None


def body_limit(max_file_bytes: int) -> int:
    return max_file_bytes + FORM_ROOM


async def read_form(
    request: Request,
    *,
    file_field: str,
    max_file_bytes: int,
    check_csrf: Callable[[str], bool],
    csrf_field: str = "csrf_token",
    new_path: Callable[[], Path] | None = None,
) -> StreamedForm:
    """The form's fields and its one file. The file is written to `new_path()` when given, else kept in
    memory; over `max_file_bytes` it is dropped at once and marked `too_large`. Raises BodyTooLarge,
    CsrfRefused or Malformed, with nothing kept."""
    content_type = request.headers.get("content-type", "")
    _, params = parse_options_header(content_type)
    if not content_type.startswith("multipart/form-data") or b"boundary" not in params:
        raise Malformed
    limit = body_limit(max_file_bytes)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise BodyTooLarge
    parser = _Parser(file_field, max_file_bytes, csrf_field, check_csrf, new_path)
    multipart = MultipartParser(params[b"boundary"], parser.callbacks())
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise BodyTooLarge
            multipart.write(chunk)
        multipart.finalize()
        if not parser.csrf_ok:
            raise CsrfRefused
    except FormParserError:
        _drop(parser)
        raise Malformed from None
    except BaseException:
        _drop(parser)
        raise
    return parser.form


def _drop(parser: _Parser) -> None:
    parser._close()
    if parser.form.file is not None:
        parser.form.file.discard()
