"""Persistent identifiers: one for every book and one for every edition, given once and never changed.

Why: a citation, a teacher's reading list, a catalogue record in another library or a file found on a
reader's phone must still lead to the book after the file is imported again, its chapters are rebuilt, staff
edit its title or the library moves to another server. A database id does none of that well, so each book
gets an identifier of its own: the EPUB's ISBN when it has a real one (its check digit verified: many EPUBs
carry a placeholder or a print ISBN mistyped), else the EPUB's own UUID when it parses as one, else a
`urn:uuid:` minted here once (uuid4) and stored. Identifiers are unique across the catalogue: a second file
with the ISBN of a book already here (a corrected file, another printing) gets a minted one, so that
`/id/...` always names exactly one book.

An edition's identifier is derived from its book's and its format and options, so the same edition asked
for again, or rebuilt after the book's chapters changed, keeps it. It is what the edition's own metadata
calls itself (EPUB's unique identifier, DAISY's and PEF's dc:identifier); the book's is written beside it as
the source (dc:source).

Pure functions and small queries only: converters on other machines use the naming functions without a
catalogue.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable

from sqlite_utils import Database
from stdnum import isbn as stdnum_isbn
from stdnum.exceptions import ValidationError

URN_ISBN = "urn:isbn:"
URN_UUID = "urn:uuid:"
_ISBN_PREFIXES = ("urn:isbn:", "isbn-13:", "isbn-10:", "isbn13:", "isbn10:", "isbn:", "isbn")
_EDITION_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "accessible-lib:edition")


def isbn_urn(value: str) -> str | None:
    """`urn:isbn:` and the ISBN-13 for a valid ISBN-10 or ISBN-13, written with or without hyphens and
    spaces or an "ISBN" prefix; None when the check digit is wrong or it is no ISBN at all.

    An ISBN-10 becomes its ISBN-13 (the same number for the ISBN agency), so both forms find one book."""
    text = (value or "").strip()
    lowered = text.lower()
    for prefix in _ISBN_PREFIXES:
        if lowered.startswith(prefix):
            text = text[len(prefix) :].strip()
            break
    try:
        number = stdnum_isbn.validate(text)
    except ValidationError:
        return None
    if len(number) == 10:
        number = stdnum_isbn.to_isbn13(number)
    return URN_ISBN + number


def uuid_urn(value: str) -> str | None:
    """`urn:uuid:` and the UUID in lower case, for anything Python parses as a UUID (with or without
    `urn:uuid:`, braces or hyphens); None otherwise, and for the nil and max UUIDs that placeholder
    metadata uses."""
    text = (value or "").strip()
    if text.lower().startswith(URN_UUID):
        text = text[len(URN_UUID) :]
    try:
        parsed = uuid.UUID(text)
    except (ValueError, AttributeError, TypeError):
        return None
    if parsed.int in (0, (1 << 128) - 1):
        return None
    return URN_UUID + str(parsed)


def from_source(identifiers: Iterable[tuple[str, str]]) -> str | None:
    """The identifier a file gives itself that is good enough to keep: its first valid ISBN, else its first
    valid UUID. `identifiers` are (scheme, value) as ingestion reads them (`ingest/epub.py`)."""
    pairs = [(str(scheme or "").lower(), str(value or "")) for scheme, value in identifiers]
    for scheme, value in pairs:
        if scheme == "isbn" and (found := isbn_urn(value)):
            return found
    for scheme, value in pairs:
        if scheme == "uuid" and (found := uuid_urn(value)):
            return found
    return None


def mint() -> str:
    return URN_UUID + str(uuid.uuid4())


def edition_identifier(book_identifier: str, format: str, options: dict) -> str:
    """The edition of `book_identifier` in `format` with `options` (normalised, as the edition row holds
    them): always the same for the same three, different for any other."""
    key = json.dumps(options, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return URN_UUID + str(uuid.uuid5(_EDITION_NAMESPACE, f"{book_identifier}\n{format}\n{key}"))


# --- In the catalogue ---


def is_taken(db: Database, identifier: str) -> bool:
    row = db.execute(
        "SELECT 1 FROM books WHERE identifier = ? UNION ALL SELECT 1 FROM editions WHERE identifier = ? "
        "LIMIT 1",
        [identifier, identifier],
    ).fetchone()
    return row is not None


def for_new_book(db: Database, identifiers: Iterable[tuple[str, str]]) -> str:
    """The identifier a book being added gets: the file's own when valid and free, else a minted one."""
    chosen = from_source(identifiers)
    if chosen and not is_taken(db, chosen):
        return chosen
    chosen = mint()
    while is_taken(db, chosen):  # a uuid4 collision is theoretical, but costs one query to rule out
        chosen = mint()
    return chosen


def for_new_edition(db: Database, book_id: int, format: str, options: dict) -> str | None:
    row = db.execute("SELECT identifier FROM books WHERE id = ?", [book_id]).fetchone()
    return edition_identifier(row[0], format, options) if row and row[0] else None


def assign_missing(db: Database) -> None:
    """Give every book and edition without an identifier its own (the migration for catalogues made before
    identifiers existed, book by book in id order, so a duplicate ISBN goes to the oldest book)."""
    books = db.execute("SELECT id FROM books WHERE identifier IS NULL ORDER BY id").fetchall()
    for (book_id,) in books:
        pairs = db.execute(
            "SELECT scheme, value FROM book_identifiers WHERE book_id = ? ORDER BY rowid", [book_id]
        ).fetchall()
        db.execute("UPDATE books SET identifier = ? WHERE id = ?", [for_new_book(db, pairs), book_id])
    editions = db.execute(
        "SELECT e.id, b.identifier, e.format, e.options_key FROM editions e JOIN books b ON b.id = e.book_id "
        "WHERE e.identifier IS NULL AND b.identifier IS NOT NULL ORDER BY e.id"
    ).fetchall()
    for edition_id, book_identifier, format, key in editions:
        options = json.loads(key or "{}")
        db.execute(
            "UPDATE editions SET identifier = ? WHERE id = ?",
            [edition_identifier(book_identifier, format, options), edition_id],
        )


def candidates(text: str) -> list[str]:
    """The forms an identifier typed or pasted by a person may stand for: as given, and the canonical
    `urn:isbn:` / `urn:uuid:` form of an ISBN (any form, ISBN-10 too) or a UUID (any case)."""
    text = (text or "").strip()
    found = [text] if text else []
    for canonical in (isbn_urn(text), uuid_urn(text)):
        if canonical and canonical not in found:
            found.append(canonical)
    return found


def resolve(db: Database, text: str) -> dict | None:
    """What an identifier names: {"book_id"} for a book, {"book_id", "edition_id", "status"} for an
    edition; None for an identifier this library never gave.

    A book whose own identifier is minted is still found by an ISBN or UUID its file carries, when no other
    book carries the same one."""
    forms = candidates(text)
    for form in forms:
        row = db.execute("SELECT id FROM books WHERE identifier = ?", [form]).fetchone()
        if row:
            return {"book_id": row[0]}
        row = db.execute("SELECT id, book_id, status FROM editions WHERE identifier = ?", [form]).fetchone()
        if row:
            return {"edition_id": row[0], "book_id": row[1], "status": row[2]}
    for form in forms:
        scheme, _, value = form.partition(":")[2].partition(":")
        if form.startswith(URN_ISBN):
            values = {value}
            short = stdnum_isbn.to_isbn10(value) if value.startswith("978") else None
            values |= {short} if short else set()
        elif form.startswith(URN_UUID):
            values = {value}
        else:
            continue
        marks = ",".join("?" * len(values))
        rows = db.execute(
            "SELECT DISTINCT book_id FROM book_identifiers "
            f"WHERE lower(scheme) = ? AND lower(value) IN ({marks})",
            [scheme, *sorted(v.lower() for v in values)],
        ).fetchall()
        if len(rows) == 1:
            return {"book_id": rows[0][0]}
    return None
