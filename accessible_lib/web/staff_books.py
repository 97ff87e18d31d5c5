"""Editing a book's record and requesting its editions.

Validation follows the pattern screen reader users know from GOV.UK: the page comes back with an error
summary at the top (announced, focused, one link per problem to its field), and each field says what is wrong
with it through `aria-describedby`. A valid record is written in one transaction with its search index, so a
search never finds the old title of a book that has a new one.
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import access, catalogue, rights, search
from ..editions import formats, store
from ..errors import UserError
from ..i18n import gettext
from ..ingest.errors import N_
from .helpers import db_for, not_found
from .render import render
from .staff_jobs import describe_job
from .staff_session import StaffContext, staff_page

TEXT_LIMITS = {"title": 500, "subtitle": 500, "publisher": 300, "description": 20_000}
TOO_LONG = {
    "title": N_("The title must be at most %(limit)d characters."),
    "subtitle": N_("The subtitle must be at most %(limit)d characters."),
    "publisher": N_("The publisher must be at most %(limit)d characters."),
    "description": N_("The description must be at most %(limit)d characters."),
}
LIST_LIMITS = {"authors": (50, 200), "subjects": (50, 200)}  # (most lines, longest line)
LIST_TOO_LONG = {
    "authors": N_("Give at most %(count)d authors, each at most %(limit)d characters long."),
    "subjects": N_("Give at most %(count)d subjects, each at most %(limit)d characters long."),
}
FIELDS = (
    "title",
    "subtitle",
    "authors",
    "language",
    "subjects",
    "description",
    "publisher",
    "date",
    "rights",  # the rights status (a radio group named "rights", as before statuses had details)
    *rights.DETAILS,
)
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def field_id(name: str) -> str:
    """The id of the input the error summary links to; for the rights radio group, its first radio."""
    return "rights-public-domain" if name == "rights" else name


def _lines(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            seen.setdefault(line, None)
    return list(seen)


def _valid_date(text: str) -> bool:
    match = _DATE.match(text)
    if not match:
        return False
    year, month, day = (int(part) if part else 1 for part in match.groups())
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def validate(form: dict[str, str]) -> tuple[dict, dict[str, str]]:
    """The record as it will be stored, and an error message per field name (in FIELDS order)."""
    raw = {name: (form.get(name) or "").strip() for name in FIELDS}
    errors: dict[str, str] = {}
    if not raw["title"]:
        errors["title"] = gettext("Enter the title.")
    for name, limit in TEXT_LIMITS.items():
        if name not in errors and len(raw[name]) > limit:
            errors[name] = gettext(TOO_LONG[name], limit=limit)
    record: dict = {name: raw[name] or None for name in ("title", "subtitle", "description", "publisher")}
    for name, (most, longest) in LIST_LIMITS.items():
        record[name] = _lines(raw[name])
        if len(record[name]) > most or any(len(line) > longest for line in record[name]):
            errors[name] = gettext(LIST_TOO_LONG[name], count=most, limit=longest)
    if raw["language"] and not _LANGUAGE.match(raw["language"]):
        errors["language"] = gettext("Enter the language as a code such as en, fr or zh-Hans.")
    record["language"] = raw["language"] or None
    if raw["date"] and not _valid_date(raw["date"]):
        errors["date"] = gettext(
            "Enter the date as a year (1851), a year and month (1851-10) or a whole date (1851-10-18)."
        )
    record["date"] = raw["date"] or None
    checked, problems = rights.check({**raw, "status": raw["rights"]})
    for name, message in problems.items():
        errors["rights" if name == "status" else name] = message
    record["rights"] = checked
    ordered = {name: errors[name] for name in FIELDS if name in errors}
    return record, ordered


def save_record(db, book_id: int, record: dict) -> None:
    """Write the record and its search entry in one transaction."""
    with db.conn:
        search.unindex_book(db, book_id)  # before the change: FTS5 forgets a row by the text it indexed
        db.execute(
            "UPDATE books SET title = ?, subtitle = ?, language = ?, description = ?, publisher = ?, "
            "date = ? WHERE id = ?",
            [
                record["title"],
                record["subtitle"],
                record["language"],
                record["description"],
                record["publisher"],
                record["date"],
                book_id,
            ],
        )
        rights.set_rights(db, book_id, record["rights"])
        # An author staff keep keeps the sort name a Calibre import gave them ("Carroll, Lewis").
        sorts = dict(
            db.execute("SELECT name, sort FROM book_authors WHERE book_id = ?", [book_id]).fetchall()
        )
        db.execute("DELETE FROM book_authors WHERE book_id = ?", [book_id])
        db.conn.executemany(
            "INSERT INTO book_authors (book_id, position, name, role, sort) VALUES (?, ?, ?, 'author', ?)",
            [(book_id, i, name, sorts.get(name)) for i, name in enumerate(record["authors"])],
        )
        db.execute("DELETE FROM book_subjects WHERE book_id = ?", [book_id])
        db.conn.executemany(
            "INSERT INTO book_subjects (book_id, subject) VALUES (?, ?)",
            [(book_id, subject) for subject in record["subjects"]],
        )
        search.index_book(db, book_id)


def _form_values(book: dict) -> dict[str, str]:
    values = {name: book.get(name) or "" for name in FIELDS}
    values["authors"] = "\n".join(book["authors"])
    values["subjects"] = "\n".join(book["subjects"])
    values.update(rights.form_values(book))
    values["rights"] = values.pop("status")
    return values


def status_choices() -> list[dict]:
    """The rights statuses as the radio group offers them, each with what it means for readers."""
    meanings = {
        access.PUBLIC_DOMAIN: gettext("Public domain: anyone may read and download it"),
        access.OPEN_LICENCE: gettext("Open licence: anyone may read it under the licence named below"),
        access.ELIGIBLE_ONLY: gettext(
            "For eligible readers only: anyone sees its record; only readers confirmed as having a print "
            "disability may read, listen to or download it (the Marrakesh Treaty exception)"
        ),
        access.WITHDRAWN: gettext("Withdrawn: hidden from readers; only staff see it"),
    }
    return [{"value": status, "label": meanings[status]} for status in access.RIGHTS_STATUSES]


def format_choices() -> list[dict]:
    return [{"name": name, "label": gettext(fmt.label)} for name, fmt in sorted(formats.FORMATS.items())]


def _edit_page(
    request: Request, staff: StaffContext, book: dict, values: dict, errors: dict, *, status: int = 200
) -> Response:
    db = db_for(request)
    locale = request.scope.get("locale", "en")
    editions = [
        {
            **describe_job(edition, locale),
            "outdated": bool(edition.get("outdated_at")) and edition["status"] == store.DONE,
        }
        for edition in store.editions_for_book(db, book["id"])
    ]
    summary = [{"field_id": field_id(name), "message": message} for name, message in errors.items()]
    context = staff.page(
        book=book,
        values=values,
        errors=errors,
        summary=summary,
        saved=request.query_params.get("saved") == "1",
        attached=request.query_params.get("attached") == "1",
        field_id=field_id,
        statuses=status_choices(),
        withdrawn=access.is_hidden(book),
        formats=format_choices(),
        editions=editions,
    )
    return render(request, "staff_edit.html", context, status=status)


def edit_book(request: Request, staff: StaffContext) -> Response:
    db = db_for(request)
    book_id = request.path_params["book_id"]
    book = catalogue.get_book(db, book_id)
    if book is None:
        raise not_found()
    if request.method == "GET":
        return _edit_page(request, staff, book, _form_values(book), {})
    assert staff.form is not None
    form = {name: str(staff.form.get(name) or "") for name in FIELDS}
    record, errors = validate(form)
    if errors:
        return _edit_page(request, staff, book, form, errors, status=400)
    save_record(db, book_id, record)
    return RedirectResponse(f"/staff/books/{book_id}/edit?saved=1", status_code=303)


edit_book_page = staff_page(edit_book)


def request_edition(request: Request, staff: StaffContext) -> Response:
    """Queue an edition exactly as `accessible-lib editions request` does, then show its job page."""
    db = db_for(request)
    book_id = request.path_params["book_id"]
    book = catalogue.get_book(db, book_id)
    if book is None:
        raise not_found()
    if not book["chapters"]:  # a metadata-only record: there is nothing to make an edition of
        raise UserError(gettext("This book has no text yet: attach its file before requesting an edition."))
    assert staff.form is not None
    name = str(staff.form.get("format") or "")
    try:
        fmt = formats.get_format(name)
        options = formats.normalise_options(fmt, _rebuilt_options(db, book_id, fmt.name, staff.form))
    except KeyError:
        raise UserError(gettext("There is no edition format called “%(name)s”.", name=name)) from None
    queue = getattr(request.state, "queue", None)
    if queue is not None:
        from ..jobs.queue import request_and_enqueue

        edition_id = request_and_enqueue(
            db, queue, book_id, fmt.name, options, requested_by=staff.user.username
        )
    else:  # no queue in this app (yet): the row is made, and a worker's periodic check will find it
        edition_id, _ = store.request_edition(
            db, book_id, fmt.name, options, requested_by=staff.user.username
        )
    return RedirectResponse(f"/staff/jobs/{quote(str(edition_id))}", status_code=303)


request_edition_page = staff_page(request_edition)


def _rebuilt_options(db, book_id: int, format_name: str, form) -> dict:
    """The options of the edition the "Rebuild" button names (an outdated one), so the same edition is made
    again; none for a new request, which takes the format's defaults."""
    wanted = str(form.get("edition") or "")
    edition = store.get_edition(db, int(wanted)) if wanted.isdigit() else None
    if edition is None or edition["book_id"] != book_id or edition["format"] != format_name:
        return {}
    return dict(edition["options"])
