"""The pronunciation dictionary's staff pages: the list (filtered by language and book), the add and edit
forms, removal, CSV import and export, and Listen, which speaks a sample sentence with an entry at once.

The checks are accessible_lib/pronunciations.py's, shared with `accessible-lib pronounce`. Listen from the
form is a POST (the form's values, not yet saved, with its CSRF token) that answers the form again with a
player on it, its source the same values as a GET that answers the WAV: a bare WAV answer to the form
replaced the page with the browser's own untitled media document (Orca: "Finished loading", "video"), so
the form and what it was about were gone. A saved entry's Listen link is a GET that answers its WAV.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from .. import auth, pronunciations
from ..i18n import gettext
from ..ingest.errors import N_
from .helpers import db_for, not_found
from .render import render
from .staff_rights import _read_upload
from .staff_session import StaffContext, csrf_refused, staff_page, staff_stream_page

FIELDS = ("lang", "written", "reading", "kind", "whole_word", "case_sensitive", "book_id", "note")
DONE = {
    "added": N_("The entry was added."),
    "saved": N_("The entry was saved."),
    "removed": N_("The entry was removed."),
}


def _filters(request: Request) -> tuple[str, int | None]:
    lang = request.query_params.get("lang", "").strip()[:20]
    book = request.query_params.get("book", "").strip()
    return lang, int(book) if book.isdigit() and len(book) < 18 else None


def list_page(request: Request, staff: StaffContext) -> Response:
    lang, book_id = _filters(request)
    db = db_for(request)
    rows = pronunciations.entries(db, lang=lang, book_id=book_id)
    languages = [r[0] for r in db.execute("SELECT DISTINCT lang FROM pronunciations ORDER BY lang")]
    done = request.query_params.get("done", "")
    imported = request.query_params.get("imported", "")
    context = staff.page(
        entries=rows,
        languages=languages,
        lang=lang,
        book=book_id,
        query=urlencode({k: v for k, v in (("lang", lang), ("book", book_id or "")) if v}),
        done=gettext(DONE[done]) if done in DONE else "",
        imported=int(imported) if imported.isdigit() else None,
        errors=[],
        import_error="",
        columns=pronunciations.CSV_COLUMNS,
    )
    return render(request, "staff_pronunciations.html", context)


def _form_page(
    request: Request,
    staff: StaffContext,
    values: dict,
    errors: dict,
    *,
    entry_id=None,
    status=200,
    sample: dict | None = None,
):
    summary = [{"field_id": field or "written", "message": message} for field, message in errors.items()]
    context = staff.page(values=values, field_errors=errors, errors=summary, entry_id=entry_id, sample=sample)
    return render(request, "staff_pronunciation.html", context, status=status)


def _values(fields) -> dict[str, str]:
    """The entry's values from a posted form or a query string."""
    values = {name: str(fields.get(name) or "") for name in FIELDS}
    # Checkboxes send nothing when unticked: a form always carries a hidden marker that it had them.
    values["whole_word"] = "yes" if fields.get("whole_word") else "no"
    values["case_sensitive"] = "yes" if fields.get("case_sensitive") else "no"
    return values


def _posted(staff: StaffContext) -> dict[str, str]:
    assert staff.form is not None
    return _values(staff.form)


def new_page(request: Request, staff: StaffContext) -> Response:
    if request.method == "GET":
        values = {name: "" for name in FIELDS} | {"lang": "zh", "kind": "pinyin", "whole_word": "yes"}
        return _form_page(request, staff, values, {})
    values = _posted(staff)
    entry_id, errors = pronunciations.save(db_for(request), values, by=staff.user.username)
    if entry_id is None:
        return _form_page(request, staff, values, errors, status=400)
    return RedirectResponse("/staff/pronunciations?done=added", status_code=303)


def edit_page(request: Request, staff: StaffContext) -> Response:
    db = db_for(request)
    entry_id = request.path_params["entry_id"]
    row = pronunciations.get(db, entry_id)
    if row is None:
        raise not_found()
    if request.method == "GET":
        return _form_page(request, staff, pronunciations.form_values(row), {}, entry_id=entry_id)
    values = _posted(staff)
    saved, errors = pronunciations.save(db, values, by=staff.user.username, entry_id=entry_id)
    if saved is None:
        return _form_page(request, staff, values, errors, entry_id=entry_id, status=400)
    return RedirectResponse("/staff/pronunciations?done=saved", status_code=303)


def remove_page(request: Request, staff: StaffContext) -> Response:
    if not pronunciations.remove(db_for(request), request.path_params["entry_id"]):
        raise not_found()
    return RedirectResponse("/staff/pronunciations?done=removed", status_code=303)


def _wav(data: bytes) -> Response:
    return Response(data, media_type="audio/wav", headers={"Cache-Control": "no-store"})


def listen_page(request: Request, staff: StaffContext) -> Response:
    """POST: the form's values, checked but not saved, answered by the form with a player whose source is
    the GET of the same values (the errors re-render the form). GET: the WAV of those values."""
    if request.method == "GET":
        data, errors = pronunciations.listen(db_for(request), _values(request.query_params))
        if data is None:
            return PlainTextResponse("\n".join(errors.values()) + "\n", status_code=400)
        return _wav(data)
    values = _posted(staff)
    entry_id = request.query_params.get("entry", "")
    entry_id = int(entry_id) if entry_id.isdigit() else None
    entry, _book_id, _note, errors = pronunciations.check(values)
    if entry is None:
        return _form_page(request, staff, values, errors, entry_id=entry_id, status=400)
    heard = {name: value for name, value in values.items() if name != "note" and value not in ("", "no")}
    sample = {
        "text": pronunciations.sample_sentence(entry.lang, entry.written),
        "url": "/staff/pronunciations/listen?" + urlencode(heard),
    }
    return _form_page(request, staff, values, {}, entry_id=entry_id, sample=sample)


def listen_entry_page(request: Request, staff: StaffContext) -> Response:
    row = pronunciations.get(db_for(request), request.path_params["entry_id"])
    if row is None:
        raise not_found()
    data, _errors = pronunciations.listen(db_for(request), pronunciations.form_values(row))
    if data is None:
        raise not_found()
    return _wav(data)


def export_page(request: Request, staff: StaffContext) -> Response:
    lang, book_id = _filters(request)
    text = pronunciations.export_csv(db_for(request), lang=lang, book_id=book_id)
    return Response(
        text.encode("utf-8-sig"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="pronunciations.csv"'},
    )


async def import_page(request: Request, staff: StaffContext) -> Response:
    data, token = await _read_upload(request, pronunciations.MAX_CSV_BYTES)
    if not auth.csrf_matches(staff.session, token):
        raise csrf_refused()
    if data is None:
        errors = [gettext("Choose a CSV file to upload.")]
    else:
        db = db_for(request)
        count, problems = await run_in_threadpool(pronunciations.import_csv, db, data, by=staff.user.username)
        if not problems:
            return RedirectResponse(f"/staff/pronunciations?imported={count}", status_code=303)
        errors = [str(problem) for problem in problems][:100]
    db = db_for(request)
    context = staff.page(
        entries=await run_in_threadpool(pronunciations.entries, db),
        languages=[],
        lang="",
        book=None,
        query="",
        done="",
        imported=None,
        errors=[{"field_id": "csv_file", "message": message} for message in errors],
        import_error=gettext("The file has problems, so nothing was changed."),
        columns=pronunciations.CSV_COLUMNS,
    )
    return render(request, "staff_pronunciations.html", context, status=400)


staff_list_page = staff_page(list_page)
staff_new_page = staff_page(new_page)
staff_edit_page = staff_page(edit_page)
staff_remove_page = staff_page(remove_page)
staff_listen_page = staff_page(listen_page)
staff_listen_entry_page = staff_page(listen_entry_page)
staff_export_page = staff_page(export_page)
staff_import_page = staff_stream_page(import_page)
