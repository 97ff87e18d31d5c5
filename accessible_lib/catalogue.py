"""Reading and writing books in the catalogue.

Writes happen in one short transaction per book, so an import either lands whole or not at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlite_utils import Database

from . import access, catalogue_memo, identifiers, search
from .book_names import authors_for as _authors_for
from .ingest import INGEST_VERSION
from .ingest.model import IngestedBook

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
_WORD = re.compile(r"[^\W\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def count_words(text: str) -> int:
    """Words as readers count them: each Han character is one word, as in Chinese word counts."""
    return len(_HAN.findall(text)) + len(_WORD.findall(text))


class DuplicateBook(Exception):
    def __init__(self, book_id: int):
        super().__init__(f"already in the catalogue as book {book_id}")
        self.book_id = book_id


def find_by_checksum(db: Database, checksum: str) -> int | None:
    row = db.execute("SELECT id FROM books WHERE checksum = ?", [checksum]).fetchone()
    return row[0] if row else None


def add_book(db: Database, book: IngestedBook, *, source_path: str | None = None) -> int:
    """Store a whole ingested book and index it for search; return its id."""
    with db.conn:  # one transaction: all of the book or none of it
        return insert_book(db, book, source_path=source_path)


def insert_book(
    db: Database, book: IngestedBook, *, source_path: str | None = None, index: bool = True
) -> int:
    """`add_book` inside the caller's transaction (never commits), for importers that commit many books at
    once; `index=False` when the caller indexes the book itself once its record is complete."""
    status = access.parse_status(book.rights)
    if status is None:
        raise ValueError(f"not a rights status: {book.rights!r}")
    existing = find_by_checksum(db, book.checksum)
    if existing is not None:
        raise DuplicateBook(existing)
    words = _chapter_words(book)
    cursor = db.execute(
        """INSERT INTO books (title, subtitle, language, description, publisher, date, rights,
               rights_status, rights_statement, source_format, source_name, source_path, checksum,
               added_at, chapter_count, word_count, char_count, ingest_version, identifier)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            book.title,
            book.subtitle,
            book.language,
            book.description,
            book.publisher,
            book.date,
            access.legacy_rights(status),
            status,
            book.rights_statement,
            book.source_format,
            book.source_name,
            source_path,
            book.checksum,
            datetime.now(UTC).isoformat(timespec="seconds"),
            *_counts(book, words),
            INGEST_VERSION,
            identifiers.for_new_book(db, book.identifiers),
        ],
    )
    book_id = cursor.lastrowid
    db.conn.executemany(
        "INSERT INTO book_authors (book_id, position, name, role) VALUES (?, ?, ?, ?)",
        [(book_id, i, name, "author") for i, name in enumerate(_unique(book.authors))],
    )
    db.conn.executemany(
        "INSERT INTO book_subjects (book_id, subject) VALUES (?, ?)",
        [(book_id, subject) for subject in _unique(book.subjects)],
    )
    db.conn.executemany(
        "INSERT OR IGNORE INTO book_identifiers (book_id, scheme, value) VALUES (?, ?, ?)",
        [(book_id, scheme, value) for scheme, value in book.identifiers],
    )
    _insert_contents(db, book_id, book, words)
    if index:
        search.index_book(db, book_id, new=True)
    return book_id


def _counts(book: IngestedBook, words: list[int]) -> tuple[int, int, int]:
    """Chapters (real ones: back matter is not counted), words and characters, as the site shows them;
    `words` is each chapter's count (`_chapter_words`), which the chapters' rows also need."""
    chapters = sum(1 for chapter in book.chapters if chapter.kind != "back")
    return chapters, sum(words), sum(len(chapter.text) for chapter in book.chapters)


def _chapter_words(book: IngestedBook) -> list[int]:
    """Each chapter's word count: a pass over all the text, so made once per book."""
    return [count_words(chapter.text) for chapter in book.chapters]


def _insert_contents(db: Database, book_id: int, book: IngestedBook, words: list[int]) -> None:
    """Chapters, table of contents and images: what ingestion makes of the file, as opposed to the record
    (title, authors, subjects) that staff may have edited since."""
    db.conn.executemany(
        """INSERT INTO chapters (book_id, position, level, title, lang, html, text, word_count,
               char_count, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            (
                book_id,
                i + 1,
                chapter.level,
                chapter.title,
                chapter.lang,
                chapter.html,
                chapter.text,
                count,
                len(chapter.text),
                chapter.kind,
            )
            for i, (chapter, count) in enumerate(zip(book.chapters, words, strict=True))
        ],
    )
    db.conn.executemany(
        """INSERT INTO toc_entries (book_id, position, level, title, chapter_position, fragment)
           VALUES (?, ?, ?, ?, ?, ?)""",
        [(book_id, i + 1, e.level, e.title, e.chapter_index + 1, e.fragment) for i, e in enumerate(book.toc)],
    )
    db.conn.executemany(
        "INSERT OR IGNORE INTO resources (book_id, name, media_type, data) VALUES (?, ?, ?, ?)",
        [(book_id, r.name, r.media_type, r.data) for r in book.resources],
    )


def rebuild_contents(db: Database, book_id: int, book: IngestedBook) -> int:
    """Replace a book's chapters, contents and images with a new ingestion of its file, keeping its id and
    record, and mark its editions outdated when their chapters changed (a plain-text book's do not).
    Returns how many editions were marked."""
    with db.conn:
        before = db.execute(
            "SELECT title, level, html, kind FROM chapters WHERE book_id = ? ORDER BY position", [book_id]
        ).fetchall()
        changed = before != [(c.title, c.level, c.html, c.kind) for c in book.chapters]
        search.unindex_book(db, book_id)  # before the chapters change: FTS5 forgets rows by their text
        for table in ("chapters", "toc_entries", "resources"):
            db.execute(f"DELETE FROM {table} WHERE book_id = ?", [book_id])
        words = _chapter_words(book)
        _insert_contents(db, book_id, book, words)
        db.execute(
            "UPDATE books SET chapter_count = ?, word_count = ?, char_count = ?, ingest_version = ? "
            "WHERE id = ?",
            [*_counts(book, words), INGEST_VERSION, book_id],
        )
        marked = 0
        if changed:
            marked = db.execute(
                "UPDATE editions SET outdated_at = ? WHERE book_id = ? AND outdated_at IS NULL",
                [datetime.now(UTC).isoformat(timespec="seconds"), book_id],
            ).rowcount
        search.index_book(db, book_id)
    return marked


def needs_rebuild(db: Database, book_id: int) -> bool:
    """Whether an older version of the ingester made this book's chapters."""
    row = db.execute("SELECT ingest_version FROM books WHERE id = ?", [book_id]).fetchone()
    return row is not None and (row[0] or 0) < INGEST_VERSION


def books_to_rebuild(db: Database) -> list[int]:
    """Books whose chapters an older version of the ingester made."""
    return [
        r[0]
        for r in db.execute("SELECT id FROM books WHERE ingest_version < ? ORDER BY id", [INGEST_VERSION])
    ]


def _unique(values: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        value = value.strip()
        if value:
            seen.setdefault(value, None)
    return list(seen)


@dataclass
class Page:
    """One page of a paginated list; `total` lets the page say "21-40 of 135"."""

    items: list
    total: int
    number: int
    size: int

    @property
    def count(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.size + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.total, self.number * self.size)


# --- Reading ---


SUMMARY_COLUMNS = (
    "id, title, subtitle, language, chapter_count, word_count, added_at, source_format, source_id"
)


def summaries(db: Database, sql: str, params: list) -> list[dict]:
    """The books `sql` selects (its columns SUMMARY_COLUMNS) as every list shows them: with their authors
    and, for a harvested record, the library that holds it; two queries for the page, not two a book."""
    cursor = db.execute(sql, params)
    columns = [c[0] for c in cursor.description]
    books = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    authors = _authors_for(db, [b["id"] for b in books])
    holders = holders_for(db, [b["source_id"] for b in books if b.get("source_id")])
    for book in books:
        book["authors"] = authors.get(book["id"], [])
        book["held_by"] = holders.get(book.get("source_id"))
    return books


def holders_for(db: Database, source_ids: list[int]) -> dict[int, dict]:
    """The libraries that hold harvested records (issue 12, part 5), by source id: name and home page."""
    source_ids = sorted(set(source_ids))
    if not source_ids:
        return {}
    marks = ",".join("?" * len(source_ids))
    rows = db.execute(f"SELECT id, name, home_url FROM harvest_sources WHERE id IN ({marks})", source_ids)
    return {r[0]: {"name": r[1], "home_url": r[2]} for r in rows}


# Readers' lists never show a withdrawn book (access.HIDDEN_STATUSES); staff's lists pass `staff=True`.
# The statuses are the module's own constants, so they are written into the SQL, not bound.
VISIBLE = "rights_status NOT IN ({})".format(", ".join(f"'{s}'" for s in access.HIDDEN_STATUSES))
VISIBLE_BOOK_ID = f"book_id IN (SELECT id FROM books WHERE {VISIBLE})"
# Our own books, not records harvested from other libraries: what new arrivals and the book count are
# about, and all that our own OPDS and OAI-PMH feeds may list (`local=True`), so that two libraries that
# harvest each other do not send each other's records back and forth.
LOCAL = "source_id IS NULL"
LOCAL_VISIBLE = f"{VISIBLE} AND {LOCAL}"
LOCAL_VISIBLE_BOOK_ID = f"book_id IN (SELECT id FROM books WHERE {LOCAL_VISIBLE})"


def recent_books(db: Database, limit: int = 10, *, staff: bool = False) -> list[dict]:
    """The newest books; the readers' list (the home page's) kept per catalogue version (catalogue_memo)."""
    where = LOCAL if staff else LOCAL_VISIBLE
    sql = f"SELECT {SUMMARY_COLUMNS} FROM books WHERE {where} ORDER BY added_at DESC, id DESC LIMIT ?"
    if staff:
        return summaries(db, sql, [limit])
    kept = catalogue_memo.remembered(db, ("recent_books", limit), lambda: summaries(db, sql, [limit]))
    return [dict(book) for book in kept]  # a caller may add to its copy; the kept one stays as it was


def recent_page(db: Database, page: int, size: int) -> Page:
    """New arrivals a page at a time, newest first: the home page's list for feeds that page through it."""
    books = summaries(
        db,
        f"SELECT {SUMMARY_COLUMNS} FROM books WHERE {LOCAL_VISIBLE} "
        "ORDER BY added_at DESC, id DESC LIMIT ? OFFSET ?",
        [size, (page - 1) * size],
    )
    return Page(books, book_count(db), page, size)


def summaries_for(db: Database, book_ids: list[int]) -> list[dict]:
    """The list summaries of these books, in the order given (a search ranks its hits)."""
    if not book_ids:
        return []
    marks = ",".join("?" * len(book_ids))
    found = {
        b["id"]: b
        for b in summaries(db, f"SELECT {SUMMARY_COLUMNS} FROM books WHERE id IN ({marks})", book_ids)
    }
    return [found[i] for i in book_ids if i in found]


def book_count(db: Database, *, staff: bool = False) -> int:
    """Our own books (harvested records are counted on /staff/sources)."""
    where = LOCAL if staff else LOCAL_VISIBLE
    count = f"SELECT count(*) FROM books WHERE {where}"
    return catalogue_memo.remembered(db, ("book_count", staff), lambda: db.execute(count).fetchone()[0])


def get_book(db: Database, book_id: int) -> dict | None:
    """A book with everything its page shows: authors, subjects, identifiers, chapters and contents."""
    book = _book_row(db, book_id)
    if book is None:
        return None
    book["authors"] = _authors_for(db, [book_id])[book_id]
    book["subjects"] = [
        r[0]
        for r in db.execute("SELECT subject FROM book_subjects WHERE book_id = ? ORDER BY subject", [book_id])
    ]
    book["identifiers"] = [
        {"scheme": r[0], "value": r[1]}
        for r in db.execute(
            "SELECT scheme, value FROM book_identifiers WHERE book_id = ? ORDER BY scheme, value",
            [book_id],
        )
    ]
    book["chapters"] = _chapter_list(db, book_id)
    book["toc"] = [
        {"level": r[0], "title": r[1], "chapter_position": r[2], "fragment": r[3]}
        for r in db.execute(
            "SELECT level, title, chapter_position, fragment FROM toc_entries WHERE book_id = ? "
            "ORDER BY position",
            [book_id],
        )
    ]
    book["formats"] = book_formats(db, book_id)
    return book


def get_reading_book(db: Database, book_id: int) -> dict | None:
    """A book as its chapter pages need it: its row (title, language, rights) and its chapter list, without
    the authors, subjects, identifiers, contents and formats that only its book page shows.

    Why: the chapter page is the one page no cache serves (one per chapter), and under load each query
    costs more than its SQLite time: the thread gives up the GIL for it and waits to take it back behind
    the other requests' threads. The five queries skipped here were a third of the page's time at 50
    clients (docs/scaling.md).
    """
    book = _book_row(db, book_id)
    if book is not None:
        book["chapters"] = _chapter_list(db, book_id)
    return book


def _book_row(db: Database, book_id: int) -> dict | None:
    cursor = db.execute("SELECT * FROM books WHERE id = ?", [book_id])
    row = cursor.fetchone()
    return None if row is None else dict(zip([c[0] for c in cursor.description], row, strict=True))


def _chapter_list(db: Database, book_id: int) -> list[dict]:
    return [
        {"position": r[0], "level": r[1], "title": r[2], "word_count": r[3], "kind": r[4]}
        for r in db.execute(
            "SELECT position, level, title, word_count, kind FROM chapters WHERE book_id = ? "
            "ORDER BY position",
            [book_id],
        )
    ]


def book_formats(db: Database, book_id: int) -> list[str]:
    """Every book with text can be read online ("html"); finished editions add their formats. A metadata-only
    book (from Calibre, without a file) has none."""
    done = [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT format FROM editions WHERE book_id = ? AND status = 'done' ORDER BY format",
            [book_id],
        )
    ]
    has_text = db.execute("SELECT chapter_count > 0 FROM books WHERE id = ?", [book_id]).fetchone()
    return (["html"] if has_text and has_text[0] else []) + [f for f in done if f != "html"]


def get_chapter(db: Database, book_id: int, position: int) -> dict | None:
    cursor = db.execute(
        "SELECT position, level, title, lang, html, word_count, kind FROM chapters "
        "WHERE book_id = ? AND position = ?",
        [book_id, position],
    )
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([c[0] for c in cursor.description], row, strict=True))


def get_resource(db: Database, book_id: int, name: str) -> tuple[str, bytes] | None:
    row = db.execute(
        "SELECT media_type, data FROM resources WHERE book_id = ? AND name = ?", [book_id, name]
    ).fetchone()
    return (row[0], row[1]) if row else None
