"""Uploading books: several EPUB or text files in one form, each imported whole or rejected with a reason.

The request body is read as it streams in by form_upload.py, the site's one streaming upload (not by
`request.form()`, which would first spool every file, whatever its size, to the system's temporary
directory): the size limit is enforced while a file arrives, a body over the limit for a whole upload is
refused before it is read, and no byte is written until the form's CSRF token has been checked. Here each
file goes to its own temporary directory under the data directory, removed afterwards whatever happens;
the importer keeps its own copy of each imported original. The metadata-only record's file
(staff_attach.py) comes in the same way.
"""

from __future__ import annotations

import shutil
import tempfile
import unicodedata
from contextlib import asynccontextmanager
from pathlib import Path

from babel.numbers import format_decimal
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .. import access, auth
from ..errors import UserError
from ..i18n import gettext
from ..importer import DUPLICATE, IMPORTED, REBUILT, REJECTED, import_file
from ..settings import Settings
from . import form_upload
from .helpers import db_for
from .render import render
from .staff_books import status_choices
from .staff_session import CSRF_FIELD, StaffContext, csrf_refused, staff_page, staff_stream_page

MAX_FILES = 20  # per upload; a bigger shelf goes through `accessible-lib import`
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


class TemporaryCopies:
    """Each received file in a temporary directory of its own under the data directory's uploads/, named
    safely; `remove` deletes them all, whatever happened (the importer keeps its own copy of an original)."""

    def __init__(self, root: Path):
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.directories: list[Path] = []

    def new_path(self, name: str) -> Path:
        directory = Path(tempfile.mkdtemp(dir=self.root, prefix="upload-"))
        self.directories.append(directory)
        return directory / safe_file_name(name)

    def remove(self) -> None:
        for directory in self.directories:
            shutil.rmtree(directory, ignore_errors=True)


@asynccontextmanager
async def received_books(request: Request, staff: StaffContext, *, max_files: int):
    """The staff form with its books (form_upload.StreamedForm), streamed to temporary copies that are
    removed when the block ends; a form that is not ours, too large or broken is a translated error page."""
    settings: Settings = request.state.settings
    copies = TemporaryCopies(settings.data_dir / "uploads")
    try:
        try:
            form = await form_upload.read_form(
                request,
                file_field=FILE_FIELD,
                max_file_bytes=settings.max_file_bytes,
                check_csrf=lambda token: auth.csrf_matches(staff.session, token),
                csrf_field=CSRF_FIELD,
                new_path=copies.new_path,
                max_files=max_files,
            )
        except form_upload.CsrfRefused:
            raise csrf_refused() from None
        except form_upload.BodyTooLarge:
            raise too_large(form_upload.body_limit(settings.max_file_bytes, max_files)) from None
        except form_upload.NotMultipart:
            raise UserError(gettext("The upload was not sent as a file form."), status=400) from None
        except form_upload.Malformed:
            message = gettext("The upload was cut off or malformed; nothing was imported.")
            raise UserError(message, status=400) from None
        yield form
    finally:
        copies.remove()


def refusal(upload: form_upload.UploadedFile, settings: Settings) -> str | None:
    """Why a file was not kept while it arrived, translated; None when it was kept whole."""
    if upload.too_many:
        return gettext(
            "Too many files in one upload: at most %(limit)d are taken at a time.", limit=MAX_FILES
        )
    if upload.too_large:
        return gettext(
            "The file is larger than %(limit)d bytes, the largest accepted.", limit=settings.max_file_bytes
        )
    return None


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
    return form_upload.body_limit(settings.max_file_bytes, MAX_FILES)


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
    async with received_books(request, staff, max_files=MAX_FILES) as form:
        rights = access.parse_status(form.fields.get("rights")) or _default_rights(request)
        if not form.files:
            errors = [{"field_id": FILE_FIELD, "message": gettext("Choose at least one EPUB or text file.")}]
            return _form_page(request, staff, errors=errors, rights=rights, status=400)
        results = await run_in_threadpool(_import_all, request, form.files, rights)
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


def _import_all(request: Request, files: list[form_upload.UploadedFile], rights: str) -> list[dict]:
    db = db_for(request)
    settings = request.state.settings
    results = []
    for received in files:
        name = safe_file_name(received.name)
        row = {"name": name, "status": REJECTED, "book_id": None, "title": None, "reason": None}
        reason = refusal(received, settings)
        if reason:
            row["reason"] = reason
        elif received.path is not None:
            result = import_file(db, settings, received.path, rights=rights)
            row.update(status=result.status, book_id=result.book_id, title=result.title, reason=result.reason)
        results.append(row)
    return results
