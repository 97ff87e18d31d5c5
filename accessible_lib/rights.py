"""Rights per book: checking a status and its details, writing them, and changing many books from a CSV.

Who may read what is decided in `access.py`; this module is how staff (the edit page, the CSV page and
`accessible-lib rights`) change it. Every way in goes through `check` and `set_rights`, so a licence URL is
checked the same everywhere and `books.rights` (the old two-valued column) never disagrees with the status.

A CSV changes all of its books or none: every row is checked first and the errors come back numbered by
row, so a librarian fixing a spreadsheet of 2,000 books sees every problem at once, not one per upload.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlite_utils import Database

from . import access
from .csv_upload import RowError, read_rows
from .i18n import gettext

LIMITS = {"licence_name": 200, "licence_url": 2000, "rights_holder": 300, "rights_note": 2000}
DETAILS = tuple(LIMITS)
CSV_COLUMNS = ("book_id", "status", "licence_name", "licence_url", "rights_holder", "rights_note")
MAX_CSV_BYTES = 2 * 1024 * 1024
MAX_CSV_ROWS = 20_000


@dataclass(frozen=True)
class Rights:
    status: str
    licence_name: str | None = None
    licence_url: str | None = None
    rights_holder: str | None = None
    rights_note: str | None = None


def _too_long(name: str, limit: int) -> str:
    messages = {
        "licence_name": gettext("The licence name must be at most %(limit)d characters.", limit=limit),
        "licence_url": gettext("The licence web address must be at most %(limit)d characters.", limit=limit),
        "rights_holder": gettext("The rights holder must be at most %(limit)d characters.", limit=limit),
        "rights_note": gettext("The note must be at most %(limit)d characters.", limit=limit),
    }
    return messages[name]


def check(values: dict[str, str | None]) -> tuple[Rights | None, dict[str, str]]:
    """The rights as they will be stored, and an error message per field name ("status" and DETAILS)."""
    errors: dict[str, str] = {}
    raw_status = (values.get("status") or "").strip()
    status = access.parse_status(raw_status)
    if status is None:
        errors["status"] = gettext(
            "Choose a rights status: public domain, open licence, eligible readers only or withdrawn."
        )
    details: dict[str, str | None] = {}
    for name, limit in LIMITS.items():
        raw = values.get(name) or ""
        # One-line fields lose stray spaces and line breaks; the note keeps its lines.
        text = raw.strip() if name == "rights_note" else " ".join(raw.split())
        if len(text) > limit:
            errors[name] = _too_long(name, limit)
        details[name] = text or None
    url = details["licence_url"]
    if url and "licence_url" not in errors:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
            errors["licence_url"] = gettext(
                "Enter the licence’s web address starting with https:// or http://."
            )
    if status == access.OPEN_LICENCE and not details["licence_name"] and "licence_name" not in errors:
        errors["licence_name"] = gettext("Enter the name of the licence, such as CC BY 4.0.")
    if errors:
        return None, errors
    assert status is not None
    return Rights(status, **details), {}


def set_rights(db: Database, book_id: int, rights: Rights) -> bool:
    """Write one book's rights inside the caller's transaction; False when there is no such book."""
    cursor = db.execute(
        "UPDATE books SET rights_status = ?, rights = ?, licence_name = ?, licence_url = ?, "
        "rights_holder = ?, rights_note = ? WHERE id = ?",
        [
            rights.status,
            access.legacy_rights(rights.status),
            rights.licence_name,
            rights.licence_url,
            rights.rights_holder,
            rights.rights_note,
            book_id,
        ],
    )
    return cursor.rowcount == 1


def form_values(book: dict) -> dict[str, str]:
    """A book's rights as form fields show them."""
    values = {name: book.get(name) or "" for name in DETAILS}
    values["status"] = access.rights_status(book)
    return values


def read_csv(data: bytes, db: Database) -> tuple[list[tuple[int, Rights]], list[RowError]]:
    """Every row of a rights CSV checked against the catalogue: (book id, rights) for each, or the errors.

    The first line must name the columns (CSV_COLUMNS, in any order; only book_id and status are
    required). A spreadsheet's UTF-8 byte order mark is allowed.
    """
    rows, errors = read_rows(
        data,
        columns=CSV_COLUMNS,
        required=("book_id", "status"),
        max_bytes=MAX_CSV_BYTES,
        max_rows=MAX_CSV_ROWS,
        columns_message=gettext(
            "The first line must name the columns %(columns)s (book_id and status are required).",
            columns=", ".join(CSV_COLUMNS),
        ),
        too_many_message=gettext("Change at most %(limit)d books at once.", limit=MAX_CSV_ROWS),
    )
    changes: list[tuple[int, Rights]] = []
    seen: dict[int, int] = {}
    for number, values in rows:
        if isinstance(values, RowError):
            errors.append(values)
            continue
        raw_id = values["book_id"].strip()
        if not raw_id.isdigit() or not 0 < int(raw_id) < 2**62:
            errors.append(RowError(number, gettext("The book id must be a number.")))
            continue
        book_id = int(raw_id)
        if db.execute("SELECT 1 FROM books WHERE id = ?", [book_id]).fetchone() is None:
            errors.append(RowError(number, gettext("There is no book %(id)d.", id=book_id)))
            continue
        if book_id in seen:
            errors.append(
                RowError(
                    number, gettext("Book %(id)d is already on row %(row)d.", id=book_id, row=seen[book_id])
                )
            )
            continue
        seen[book_id] = number
        rights, problems = check(values)
        errors.extend(RowError(number, message) for message in problems.values())
        if rights is not None:
            changes.append((book_id, rights))
    if not changes and not errors:
        errors.append(RowError(0, gettext("The file lists no books.")))
    return changes, errors


def apply(db: Database, changes: list[tuple[int, Rights]]) -> int:
    """Write checked changes in one transaction: all of them or, on any failure, none."""
    with db.conn:
        for book_id, rights in changes:
            set_rights(db, book_id, rights)
    return len(changes)


def import_csv(db: Database, data: bytes) -> tuple[int, list[RowError]]:
    """Check a whole CSV, then change every book it lists, or nothing when any row is wrong."""
    changes, errors = read_csv(data, db)
    if errors:
        return 0, errors
    return apply(db, changes), []
