"""The download log: one row per personalised download, the only state such a download has.

A reader asking for a restricted book's file is given a new download id; the link they are then sent to
carries it, and every request to that link (the download, its resumptions) makes the same stamped bytes
from the row. The id is printed on the copy, so it is short, made of digits (read the same in braille, in
speech and over the telephone) and grouped in fours; it is random, and the link works only for the reader
it was given to.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from datetime import UTC, datetime

from sqlite_utils import Database

_DIGITS = 12
_ID = re.compile(r"\d{4}-\d{4}-\d{4}")


def new_id() -> str:
    digits = f"{secrets.randbelow(10**_DIGITS):0{_DIGITS}d}"
    return "-".join(digits[i : i + 4] for i in range(0, _DIGITS, 4))


def normalise_id(raw: str | None) -> str | None:
    """An id as a person may type it (spaces, no dashes, full-width digits) in its printed form; None when it
    cannot be one."""
    digits = re.sub(r"\D", "", "".join(str(int(c)) if c.isdigit() else c for c in (raw or "")))
    if len(digits) != _DIGITS:
        return None
    return "-".join(digits[i : i + 4] for i in range(0, _DIGITS, 4))


def record_download(
    db: Database, *, reader_id: int, reader_name: str, edition_id: int, file_name: str
) -> dict:
    """A new download id for this reader and file, logged; returns the row."""
    created = datetime.now(UTC).isoformat(timespec="seconds")
    for _ in range(20):
        row = {
            "id": new_id(),
            "reader_id": reader_id,
            "reader_name": reader_name,
            "edition_id": edition_id,
            "file_name": file_name,
            "created_at": created,
        }
        try:
            with db.conn:
                db.execute(
                    "INSERT INTO downloads (id, reader_id, reader_name, edition_id, file_name, created_at) "
                    "VALUES (:id, :reader_id, :reader_name, :edition_id, :file_name, :created_at)",
                    row,
                )
        except sqlite3.IntegrityError:  # the same 12 digits drawn twice: draw again
            continue
        return {**row, "sha256": None, "size": None}
    raise RuntimeError("no free download id after 20 draws")


def get_download(db: Database, download_id: str | None) -> dict | None:
    download_id = normalise_id(download_id)
    if download_id is None:
        return None
    cursor = db.execute("SELECT * FROM downloads WHERE id = ?", [download_id])
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([c[0] for c in cursor.description], row, strict=True))


def record_served(db: Database, download_id: str, sha256: str, size: int) -> None:
    """The sha256 of the stamped bytes, once known; the first one stays (the bytes never change)."""
    with db.conn:
        db.execute(
            "UPDATE downloads SET sha256 = ?, size = ? WHERE id = ? AND sha256 IS NULL",
            [sha256, size, download_id],
        )


def lookup(db: Database, download_id: str | None) -> dict | None:
    """A download with what staff need to know: the reader, the book, the edition and the file."""
    row = get_download(db, download_id)
    if row is None:
        return None
    book = db.execute(
        "SELECT b.id, b.title, b.language, e.format FROM editions e JOIN books b ON b.id = e.book_id "
        "WHERE e.id = ?",
        [row["edition_id"]],
    ).fetchone()
    if book is not None:
        row.update(book_id=book[0], book_title=book[1], book_language=book[2], format=book[3])
    return row
