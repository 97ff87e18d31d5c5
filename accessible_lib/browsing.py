"""Browsing the catalogue: at most three levels, the facet list -> a facet's values -> a value's books.

Each list is counted once per catalogue version (catalogue_memo) and shared by the browse pages and the
OPDS feeds; the books are the same list summaries as everywhere else (`catalogue.summaries`).
"""

from __future__ import annotations

from sqlite_utils import Database

from . import catalogue_memo
from .catalogue import (
    LOCAL_VISIBLE,
    LOCAL_VISIBLE_BOOK_ID,
    SUMMARY_COLUMNS,
    VISIBLE,
    VISIBLE_BOOK_ID,
    Page,
    book_count,
    recent_books,
    summaries,
)

FACETS = ("subjects", "authors", "languages", "formats")

_FACET_VALUES = {
    "subjects": "SELECT subject AS value, count(*) AS n FROM book_subjects WHERE {visible_book_id} "
    "GROUP BY subject",
    "authors": "SELECT name AS value, count(DISTINCT book_id) AS n FROM book_authors WHERE {visible_book_id} "
    "GROUP BY name",
    # The covering index (m028_pages) rather than the language index, which reads every wide row.
    "languages": "SELECT language AS value, count(*) AS n FROM books INDEXED BY books_visible_counts "
    "WHERE language IS NOT NULL "
    "AND {visible} GROUP BY language",
    "formats": "SELECT 'html' AS value, count(*) AS n FROM books WHERE chapter_count > 0 AND {visible} "
    "HAVING n > 0 UNION ALL "
    "SELECT format AS value, count(DISTINCT book_id) AS n FROM editions "
    "WHERE status = 'done' AND format != 'html' AND {visible_book_id} GROUP BY format",
}

_FACET_BOOKS = {
    "subjects": "id IN (SELECT book_id FROM book_subjects WHERE subject = ?)",
    "authors": "id IN (SELECT book_id FROM book_authors WHERE name = ?)",
    "languages": "language = ?",
    "formats": "(? = 'html' AND chapter_count > 0 "
    "OR id IN (SELECT book_id FROM editions WHERE status = 'done' AND format = ?))",
}


def facet_values(db: Database, facet: str, page: int, size: int, *, local: bool = False) -> Page:
    """The values of one browse facet with their book counts, most books first; `local`: of our own
    books only, without records harvested from other libraries."""
    rows = _facet_rows(db, facet, local)
    start = (page - 1) * size
    return Page([dict(row) for row in rows[start : start + size]], len(rows), page, size)


def _facet_rows(db: Database, facet: str, local: bool) -> list[dict]:
    """Every value of the facet with its count, most books first; kept per catalogue version."""
    if local:
        base = _FACET_VALUES[facet].format(visible=LOCAL_VISIBLE, visible_book_id=LOCAL_VISIBLE_BOOK_ID)
    else:
        base = _FACET_VALUES[facet].format(visible=VISIBLE, visible_book_id=VISIBLE_BOOK_ID)
    # Every value counted once per catalogue version (catalogue_memo): at 150,000 books the authors'
    # GROUP BY takes a third of a second alone, and every page of the list needs all of it to be ordered.
    return catalogue_memo.remembered(
        db,
        ("facet_values", facet, local),
        lambda: [
            {"value": r[0], "count": r[1]}
            for r in db.execute(f"SELECT value, n FROM ({base}) ORDER BY n DESC, value").fetchall()
        ],
    )


def facet_counts(db: Database, facet: str, *, local: bool = False) -> dict[str, int]:
    """Each value of a facet (subjects, authors, languages) with its number of visible books, as the
    browse list counts them: the total of a value's page of books, without counting again."""

    def counted() -> dict[str, int]:
        return {row["value"]: row["count"] for row in _facet_rows(db, facet, local)}

    return catalogue_memo.remembered(db, ("facet_counts", facet, local), counted)


def warm_reader_lists(db: Database) -> None:
    """Compute what readers' lists keep per catalogue version (catalogue_memo): the browse lists and their
    counts, the book count and new arrivals. A web process does it as it starts, so that its first readers
    do not wait for the authors' GROUP BY under load."""
    for facet in FACETS:
        facet_values(db, facet, 1, 1)
        if facet != "formats":
            facet_counts(db, facet)
    book_count(db)
    recent_books(db, limit=10)


def books_for_facet(
    db: Database, facet: str, value: str, page: int, size: int, *, local: bool = False
) -> Page:
    where = f"{_FACET_BOOKS[facet]} AND {LOCAL_VISIBLE if local else VISIBLE}"
    params = [value, value] if facet == "formats" else [value]
    if facet == "formats":  # a format's books are not quite what the list counts (books with text)
        total = catalogue_memo.remembered(
            db,
            ("books_for_facet", facet, value, local),
            lambda: db.execute(f"SELECT count(*) FROM books WHERE {where}", params).fetchone()[0],
        )
    else:  # the list's own count of the value, kept with it: no count(*) over half the catalogue per value
        total = facet_counts(db, facet, local=local).get(value, 0)
    # A subject or author of thousands of books: walk the title index (m026_scale) and stop at the page,
    # instead of fetching and sorting them all (60-100 ms a subject at 150,000 books). A value of a few
    # books is cheaper the other way round, as SQLite chooses by itself.
    order = "INDEXED BY books_title_order " if facet in ("subjects", "authors") and total > 1000 else ""
    books = summaries(
        db,
        f"SELECT {SUMMARY_COLUMNS} FROM books {order}WHERE {where} ORDER BY title COLLATE NOCASE, id "
        "LIMIT ? OFFSET ?",
        [*params, size, (page - 1) * size],
    )
    return Page(books, total, page, size)
