"""Uploading books: several EPUB or text files in one form, each imported whole or rejected with a reason.

The request body is parsed here as it streams in, not by `request.form()`: Starlette would first spool
every file, whatever its size, to the system's temporary directory. Here each file goes to its own
temporary directory under the data directory, the size limit is enforced while it arrives (a file over it
stops being written at once), a body over the limit for a whole upload is refused before it is read, and no
byte is written until the form's CSRF token has been checked. The temporary copies are removed afterwards
whatever happens; the importer keeps its own copy of each imported original.
"""

from __future__ import annotations

import shutil
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from babel.numbers import format_decimal
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .. import access, auth
from ..errors import UserError
from ..i18n import gettext
from ..importer import DUPLICATE, IMPORTED, REBUILT, REJECTED, import_file
from ..ingest.errors import N_
from ..settings import Settings
from .helpers import db_for
from .render import render
from .staff_books import status_choices
from .staff_session import CSRF_FIELD, StaffContext, csrf_refused, staff_page, staff_stream_page

MAX_FILES = 20  # per upload; a bigger shelf goes through `accessible-lib import`
MAX_FIELD_BYTES = 4096
MAX_NAME_CHARS = 150
FILE_FIELD = "books"


def size_text(size: int, locale: str) -> str:
    """A size limit as people say it: "100 MB"."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{format_decimal(size / factor, format='#,##0.#', locale=locale)} {unit}"
    return gettext("%(number)s bytes", number=format_decimal(size, locale=locale))


def _form_page(request: Request, staff: StaffContext, *, errors: list, rights: str, status: int = 200):
    settings: Settings = request.state.settings
    limit = size_text(settings.max_file_bytes, request.scope.get("locale", "en"))
    context = staff.page(
        errors=errors, rights=rights, statuses=status_choices(), size_limit=limit, max_files=MAX_FILES
    )
    return render(request, "staff_upload.html", context, status=status)


def upload_form(request: Request, staff: StaffContext) -> Response:
    return _form_page(request, staff, errors=[], rights=_default_rights(request))


upload_form_page = staff_page(upload_form)


@dataclass
class Received:
    """One file of the upload: its name as the librarian's computer gave it, and where it was saved."""

    name: str
    path: Path | None = None
    size: int = 0
    refused: tuple[str, dict] | None = None  # (msgid, params) when refused while it arrived


@dataclass
class UploadParser:
    """python-multipart callbacks that save files as they arrive, within the limits."""

    root: Path
    max_file_bytes: int
    check_csrf: Callable[[object], bool]
    files: list[Received] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    csrf_ok: bool = False
    _directories: list[Path] = field(default_factory=list)
    _header_name: bytes = b""
    _header_value: bytes = b""
    _disposition: bytes = b""
    _field: str | None = None
    _field_data: bytearray = field(default_factory=bytearray)
    _current: Received | None = None
    _handle: object = None

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
        }

    def on_part_begin(self) -> None:
        self._disposition = b""
        self._field = None
        self._field_data = bytearray()
        self._current = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in options:
            self._field = name
            return
        filename = options[b"filename"].decode("utf-8", "replace")
        if name != FILE_FIELD or not filename:
            return  # an empty file input, or a field we do not take: skipped
        if not self.csrf_ok:
            # Our form sends the token before the files; anything else is not our form.
            raise CsrfRefused
        received = Received(safe_file_name(filename))
        self.files.append(received)
        self._current = received
        if len(self.files) > MAX_FILES:
            received.refused = (
                N_("Too many files in one upload: at most %(limit)d are taken at a time."),
                {"limit": MAX_FILES},
            )
            return
        directory = Path(tempfile.mkdtemp(dir=self.root, prefix="upload-"))
        self._directories.append(directory)
        received.path = directory / received.name
        self._handle = received.path.open("wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._field is not None:
            if len(self._field_data) + (end - start) > MAX_FIELD_BYTES:
                raise FormParserError("form field too long")
            self._field_data += data[start:end]
            return
        received = self._current
        if received is None:
            return
        received.size += end - start
        if self._handle is None:
            return
        if received.size > self.max_file_bytes:
            self._discard(received)
            received.refused = (
                N_("The file is larger than %(limit)d bytes, the largest accepted."),
                {"limit": self.max_file_bytes},
            )
            return
        self._handle.write(data[start:end])  # type: ignore[attr-defined]

    def on_part_end(self) -> None:
        if self._field is not None:
            value = self._field_data.decode("utf-8", "replace")
            self.fields[self._field] = value
            if self._field == CSRF_FIELD:
                if not self.check_csrf(value):
                    raise CsrfRefused
                self.csrf_ok = True
        elif self._handle is not None:
            self._handle.close()  # type: ignore[attr-defined]
            self._handle = None
        self._field = None
        self._current = None

    def _discard(self, received: Received) -> None:
        if self._handle is not None:
            self._handle.close()  # type: ignore[attr-defined]
            self._handle = None
        if received.path is not None:
            received.path.unlink(missing_ok=True)
            received.path = None

    def cleanup(self) -> None:
        if self._handle is not None:
            self._handle.close()  # type: ignore[attr-defined]
            self._handle = None
        for directory in self._directories:
            shutil.rmtree(directory, ignore_errors=True)


class CsrfRefused(Exception):
    pass


def safe_file_name(raw: str) -> str:
    """The last part of the name a browser sent, without control characters or a leading dot.

    Browsers send only the base name, but a hand-made request can send "../../x.epub" or "C:\\x.epub".
    """
    name = unicodedata.normalize("NFC", raw.replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().lstrip(".").strip()
    if len(name) > MAX_NAME_CHARS:
        stem, dot, extension = name.rpartition(".")
        extension = extension[:10] if dot else ""
        name = (stem if dot else name)[: MAX_NAME_CHARS - len(extension) - 1] + (
            f".{extension}" if dot else ""
        )
    return name or "upload"


def body_limit(settings: Settings) -> int:
    """The most a whole upload may send: every file at the size limit, plus room for the form itself."""
    return MAX_FILES * settings.max_file_bytes + 1024 * 1024


def too_large(limit: int) -> UserError:
    return UserError(
        gettext(
            "The upload is larger than %(limit)d bytes, the most accepted at once, so nothing was imported. "
            "Upload fewer files at a time.",
            limit=limit,
        ),
        title=gettext("The upload is too large"),
        status=413,
    )


async def receive_upload(request: Request, staff: StaffContext) -> Response:
    settings: Settings = request.state.settings
    limit = body_limit(settings)
    content_type = request.headers.get("content-type", "")
    _, params = parse_options_header(content_type)
    if not content_type.startswith("multipart/form-data") or b"boundary" not in params:
        raise UserError(gettext("The upload was not sent as a file form."), status=400)
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise too_large(limit)
    root = settings.data_dir / "uploads"
    root.mkdir(parents=True, exist_ok=True)
    parser = UploadParser(
        root, settings.max_file_bytes, lambda token: auth.csrf_matches(staff.session, token)
    )
    try:
        multipart = MultipartParser(params[b"boundary"], parser.callbacks())
        received = 0
        try:
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    raise too_large(limit)
                multipart.write(chunk)
            multipart.finalize()
        except CsrfRefused:
            raise csrf_refused() from None
        except FormParserError:
            message = gettext("The upload was cut off or malformed; nothing was imported.")
            raise UserError(message, status=400) from None
        if not parser.csrf_ok:
            raise csrf_refused()
        rights = access.parse_status(parser.fields.get("rights")) or _default_rights(request)
        if not parser.files:
            errors = [{"field_id": FILE_FIELD, "message": gettext("Choose at least one EPUB or text file.")}]
            return _form_page(request, staff, errors=errors, rights=rights, status=400)
        results = await run_in_threadpool(_import_all, request, parser.files, rights)
    finally:
        parser.cleanup()
    counts = {
        status: sum(1 for r in results if r["status"] == status) for status in (IMPORTED, DUPLICATE, REJECTED)
    }
    counts[DUPLICATE] += sum(1 for r in results if r["status"] == REBUILT)  # in the library already, too
    return render(request, "staff_upload_result.html", staff.page(results=results, counts=counts))


receive_upload_page = staff_stream_page(receive_upload)


async def upload_page(request: Request) -> Response:
    """GET shows the form; POST receives it (one address, so a refused form can be shown again in place)."""
    if request.method == "POST":
        return await receive_upload_page(request)
    return await upload_form_page(request)


def _default_rights(request: Request) -> str:
    """The status the form starts with: the default_rights setting, if it names one."""
    return access.parse_status(request.state.settings.default_rights) or access.PUBLIC_DOMAIN


def _import_all(request: Request, files: list[Received], rights: str) -> list[dict]:
    db = db_for(request)
    settings = request.state.settings
    results = []
    for received in files:
        row = {"name": received.name, "status": REJECTED, "book_id": None, "title": None, "reason": None}
        if received.refused is not None:
            msgid, params = received.refused
            row["reason"] = gettext(msgid, **params)
        elif received.path is not None:
            result = import_file(db, settings, received.path, rights=rights)
            row.update(status=result.status, book_id=result.book_id, title=result.title, reason=result.reason)
        results.append(row)
    return results
