"""The authors and subjects of several books at once, one statement each: the catalogue's lists, the
OAI-PMH records, the search hits and the harvest's index batches all read them this way."""

from __future__ import annotations

from sqlite_utils import Database


def authors_for(db: Database, book_ids: list[int]) -> dict[int, list[str]]:
    """Book id -> its authors' names in their order (every id given, an empty list for none)."""
    return _grouped(db, "SELECT book_id, name FROM book_authors", "position", book_ids)


def subjects_for(db: Database, book_ids: list[int]) -> dict[int, list[str]]:
    """Book id -> its subjects in alphabetical order (every id given, an empty list for none)."""
    return _grouped(db, "SELECT book_id, subject FROM book_subjects", "subject", book_ids)


def _grouped(db: Database, select: str, order: str, book_ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {book_id: [] for book_id in book_ids}
    if book_ids:
        marks = ",".join("?" * len(book_ids))
        rows = db.execute(f"{select} WHERE book_id IN ({marks}) ORDER BY book_id, {order}", book_ids)
        for book_id, value in rows:
            found[book_id].append(value)
    return found


def record_texts(
    db: Database, book_ids: list[int], authors: dict[int, list[str]] | None = None
) -> dict[int, list[str | None]]:
    """Book id -> its record as the record indexes hold it, before their transforms: title, subtitle,
    authors and subjects (each joined with "; "), description, publisher. `authors`, when the caller has
    them already. Two or three statements for all the books."""
    if not book_ids:
        return {}
    authors = authors_for(db, book_ids) if authors is None else authors
    subjects = subjects_for(db, book_ids)
    marks = ",".join("?" * len(book_ids))
    rows = db.execute(
        f"SELECT id, title, subtitle, description, publisher FROM books WHERE id IN ({marks})", book_ids
    )
    return {
        book_id: [title, subtitle, "; ".join(authors[book_id]), "; ".join(subjects[book_id]), description,
                  publisher]
        for book_id, title, subtitle, description, publisher in rows
    }  # fmt: skip
