"""A form with its files, read as it streams in, within size limits: every upload of the site goes through
here (readers' evidence, members' CSV, staff's books and a metadata-only record's file).

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


class NotMultipart(Malformed):
    """Not sent as a file form at all (no multipart body with a boundary)."""


@dataclass
class UploadedFile:
    name: str = ""  # as the sender's computer named it: untrusted, for messages only
    size: int = 0
    head: bytes = b""
    too_large: bool = False
    too_many: bool = False  # past the form's number of files: counted, never kept
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
    files: list[UploadedFile] = field(default_factory=list)

    @property
    def file(self) -> UploadedFile | None:
        """The first file: a form with one file input."""
        return self.files[0] if self.files else None


@dataclass
class _Parser:
    file_field: str
    max_file_bytes: int
    csrf_field: str
    check_csrf: Callable[[str], bool]
    new_path: Callable[[str], Path] | None
    max_files: int = 1
    form: StreamedForm = field(default_factory=StreamedForm)
    csrf_ok: bool = False
    _header_name: bytes = b""
    _header_value: bytes = b""
    _disposition: bytes = b""
    _field: str | None = None
    _field_data: bytearray = field(default_factory=bytearray)
    _current: UploadedFile | None = None
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
        self._current = None

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
        if name != self.file_field or not options[b"filename"]:
            return  # an empty file input, or a file we do not take: skipped
        if not self.csrf_ok:
            raise CsrfRefused  # our forms send the token before the files
        upload = self._current = UploadedFile(name=options[b"filename"].decode("utf-8", "replace"))
        self.form.files.append(upload)
        if len(self.form.files) > self.max_files:
            upload.too_many = True
        elif self.new_path is not None:
            upload.path = self.new_path(upload.name)
            self._handle = upload.path.open("xb")
        else:
            upload.data = bytearray()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._field is not None:
            if len(self._field_data) + (end - start) > MAX_FIELD_BYTES:
                raise FormParserError("form field too long")
            self._field_data += data[start:end]
            return
        upload = self._current
        if upload is None:
            return
        upload.size += end - start
        if upload.too_large or upload.too_many:
            return
        chunk = data[start:end]
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
        elif self._current is not None:
            self._close()
        self._field = None
        self._current = None

    def _close(self) -> None:
        if self._handle is not None:
            self._handle.close()  # type: ignore[attr-defined]
            self._handle = None


def body_limit(max_file_bytes: int, max_files: int = 1) -> int:
    """The most a whole form may send: every file at the size limit, plus room for the fields."""
    return max_files * max_file_bytes + FORM_ROOM


async def read_form(
    request: Request,
    *,
    file_field: str,
    max_file_bytes: int,
    check_csrf: Callable[[str], bool],
    csrf_field: str = "csrf_token",
    new_path: Callable[[str], Path] | None = None,
    max_files: int = 1,
) -> StreamedForm:
    """The form's fields and its files (at most `max_files` kept; more are marked `too_many`). Each file is
    written to `new_path(name the browser sent)` when given, else kept in memory; over `max_file_bytes`
    it is dropped at once and marked `too_large`. Raises BodyTooLarge, CsrfRefused or Malformed
    (NotMultipart), with nothing kept; a caller that writes to disk removes the files it was given."""
    content_type = request.headers.get("content-type", "")
    _, params = parse_options_header(content_type)
    if not content_type.startswith("multipart/form-data") or b"boundary" not in params:
        raise NotMultipart
    limit = body_limit(max_file_bytes, max_files)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise BodyTooLarge
    parser = _Parser(file_field, max_file_bytes, csrf_field, check_csrf, new_path, max_files)
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
    for upload in parser.form.files:
        upload.discard()
