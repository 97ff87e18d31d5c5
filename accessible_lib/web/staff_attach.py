"""Giving a book without text its file: the upload on the staff edit page of a metadata-only book.

A record imported from Calibre without a file (or with one the ingest refused) is in the catalogue with no
chapters. When the librarian finds the file, it goes through the same streaming upload and the same safe
ingest as the upload page, into that book: its id stays, and so does the record they curated.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import catalogue
from ..i18n import gettext
from ..importer import REBUILT, replace_file
from .helpers import db_for, not_found
from .staff_books import _edit_page, _form_values
from .staff_session import StaffContext, staff_stream_page
from .staff_upload import FILE_FIELD, received_books, refusal

ATTACH_FIELD = FILE_FIELD  # the edit page's file input has this id, for the error summary's link


async def attach_file(request: Request, staff: StaffContext) -> Response:
    settings = request.state.settings
    db = db_for(request)
    book_id = request.path_params["book_id"]
    book = await run_in_threadpool(catalogue.get_book, db, book_id)
    if book is None:
        raise not_found()
    async with received_books(request, staff, max_files=1) as form:
        reason = None
        if len(form.files) != 1:
            reason = gettext("Choose one EPUB or text file.")
        elif refusal(form.files[0], settings):
            reason = refusal(form.files[0], settings)
        elif book.get("source_id"):  # a harvested record: the file belongs to the library that holds it
            reason = gettext("This record is another library's; it links to the book there.")
        elif form.files[0].path is not None:
            upload = form.files[0]
            result = await run_in_threadpool(
                replace_file, db, settings, book_id, upload.path, shown=upload.path.name
            )
            if result.status != REBUILT:
                reason = result.reason
    if reason:
        errors = {ATTACH_FIELD: gettext("The file was not attached: %(reason)s", reason=reason)}
        return _edit_page(request, staff, book, _form_values(book), errors, status=400)
    return RedirectResponse(f"/staff/books/{book_id}/edit?attached=1", status_code=303)


attach_file_page = staff_stream_page(attach_file)
