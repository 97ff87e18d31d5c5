"""Giving a book without text its file: the upload on the staff edit page of a metadata-only book.

A record imported from Calibre without a file (or with one the ingest refused) is in the catalogue with no
chapters. When the librarian finds the file, it goes through the same streaming upload and the same safe
ingest as the upload page, into that book: its id stays, and so does the record they curated.
"""

from __future__ import annotations

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import auth, catalogue
from ..errors import UserError
from ..i18n import gettext
from ..importer import REBUILT, replace_file
from .helpers import db_for, not_found
from .staff_books import _edit_page, _form_values
from .staff_session import StaffContext, csrf_refused, staff_stream_page
from .staff_upload import FILE_FIELD, CsrfRefused, UploadParser, too_large

ATTACH_FIELD = FILE_FIELD  # the edit page's file input has this id, for the error summary's link


async def attach_file(request: Request, staff: StaffContext) -> Response:
    settings = request.state.settings
    db = db_for(request)
    book_id = request.path_params["book_id"]
    book = await run_in_threadpool(catalogue.get_book, db, book_id)
    if book is None:
        raise not_found()
    limit = settings.max_file_bytes + 1024 * 1024
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
        reason = None
        if len(parser.files) != 1:
            reason = gettext("Choose one EPUB or text file.")
        elif parser.files[0].refused is not None:
            msgid, values = parser.files[0].refused
            reason = gettext(msgid, **values)
        elif book.get("source_id"):  # a harvested record: the file belongs to the library that holds it
            reason = gettext("This record is another library's; it links to the book there.")
        elif parser.files[0].path is not None:
            upload = parser.files[0]
            result = await run_in_threadpool(
                replace_file, db, settings, book_id, upload.path, shown=upload.name
            )
            if result.status != REBUILT:
                reason = result.reason
    finally:
        parser.cleanup()
    if reason:
        errors = {ATTACH_FIELD: gettext("The file was not attached: %(reason)s", reason=reason)}
        return _edit_page(request, staff, book, _form_values(book), errors, status=400)
    return RedirectResponse(f"/staff/books/{book_id}/edit?attached=1", status_code=303)


attach_file_page = staff_stream_page(attach_file)
