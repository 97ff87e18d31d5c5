"""Indexing: the text as the indexes hold it, the full-text tables, and (re)indexing books.

Why the index looks the way it does is told in search.py's docstring; this module keeps it so.
"""

from __future__ import annotations

import logging
import re
import sqlite3

from sqlite_utils import Database

from . import search_chinese, search_hits, search_pairs, search_presence

log = logging.getLogger(__name__)

RECORD_INDEXES = ("book_fts", "book_words", search_pairs.BOOK_TABLE)  # what a harvest writes

TOKENIZE = "porter unicode61 remove_diacritics 2"
SEARCH_TEXT_FUNCTION = "accessible_lib_search_text"
CHAPTER_BITS = 20  # chapter positions up to 1,048,575 fit beside the book id in a chapter's rowid
BOOK_COLUMNS = search_presence.RECORD_COLUMNS  # book_words reads them back in this order

CJK = search_chinese.CJK
CJK_BOUNDARY = re.compile(rf"(?<=[{CJK}])(?=\w)|(?<=\w)(?=[{CJK}])")
_CJK_RUN = re.compile(f"[{CJK}]+")
_SEPARATOR = search_hits.SEPARATOR
_MARKERS = re.compile("[\x02\x03\x04]")  # search_hits' snippet markers: removed from indexed text
SUGGEST_WORD = re.compile(rf"[^\W\d_{CJK}]{{4,}}")  # title and author words a typing error is corrected to


def search_text(text: str | None) -> str | None:
    """Text as it is indexed: each CJK character a token of its own, Traditional folded to Simplified."""
    if text is None:
        return None
    if "\x02" in text or "\x03" in text or "\x04" in text:
        text = _MARKERS.sub("", text)
    if text.isascii():  # O(1) in CPython: no Chinese to separate or fold in English text
        return text
    if not _CJK_RUN.search(text):  # English with a curly quote or a dash: folding, a dictionary lookup a
        return text  # character, changes only CJK characters (tests/test_search_chinese.py checks the table)
    # Folded first, on the shorter text: folding maps a Han character to a Han character, so it moves no
    # separator (tests/test_search.py checks the table); snippets call this on every chapter they show.
    folded = search_chinese.fold(text)
    return _CJK_RUN.sub(lambda run: _separated(folded, run), folded)


def _separated(text: str, match: re.Match) -> str:
    """One run of CJK characters as `CJK_BOUNDARY` separates it: between its characters, and from a word
    character on either side. A run at a time, because the boundary pattern tried at every position of a
    chapter cost most of a Chinese snippet's time (0.8 ms for 1,500 characters; this, half of it)."""
    run = match.group()
    inner = _SEPARATOR.join(run) if run.isalnum() else CJK_BOUNDARY.sub(_SEPARATOR, run)
    start, end = match.span()
    if start and (text[start - 1].isalnum() or text[start - 1] == "_"):  # what `\w` matches
        inner = _SEPARATOR + inner
    if end < len(text) and (text[end].isalnum() or text[end] == "_"):
        inner += _SEPARATOR
    return inner


def register_functions(conn: sqlite3.Connection) -> None:
    """Make the chapter index usable on `conn`. `db.open_database` calls it once for every catalogue
    connection, so searching and indexing need not; migrations still call it, because `migrations.apply`
    can be handed a connection that did not come from there (tests build old catalogues that way).

    SQLite refuses to define a function again while a statement is still open on the connection (a cursor
    not read to its end, as a search may leave one): "Error creating function". Defined already, as
    `db.open_database` does for every connection, it serves as it is; only a connection that never had it
    gets the error."""
    for name, function in (
        (SEARCH_TEXT_FUNCTION, search_text),
        (search_pairs.PAIRS_FUNCTION, search_pairs.pairs_text),
    ):
        try:
            conn.create_function(name, 1, function, deterministic=True)
        except sqlite3.OperationalError:
            defined = "SELECT 1 FROM pragma_function_list WHERE name = ? AND narg = 1"
            if conn.execute(defined, [name.lower()]).fetchone() is None:
                raise


def create_search_tables(db: Database) -> None:
    """The FTS tables, the view and the expression index; used by the migration."""
    create_book_index(db)
    key = f"((book_id << {CHAPTER_BITS}) + position)"
    for statement in (
        f"CREATE INDEX chapters_search_key ON chapters({key})",
        f"""CREATE VIEW chapter_search_source AS
            SELECT {key} AS search_key, {SEARCH_TEXT_FUNCTION}(title) AS title,
                   {SEARCH_TEXT_FUNCTION}(text) AS body
            FROM chapters""",
        f"""CREATE VIRTUAL TABLE chapter_fts USING fts5(title, body,
                content = 'chapter_search_source', content_rowid = 'search_key',
                tokenize = '{TOKENIZE}')""",
    ):
        db.execute(statement)


def create_book_index(db: Database) -> None:
    """The metadata index and the words of titles and authors that typing errors are corrected to.

    `search_words` only grows (a word left by a deleted book costs nothing: a suggestion is offered only
    when searching for it finds books); `rebuild_index` starts it afresh.
    """
    book_columns = ", ".join(BOOK_COLUMNS)
    db.execute(f"CREATE VIRTUAL TABLE book_fts USING fts5({book_columns}, tokenize = '{TOKENIZE}')")
    db.execute("CREATE TABLE search_words (word TEXT PRIMARY KEY) WITHOUT ROWID")


def recreate_book_index(db: Database) -> None:
    """Drop the metadata index and rebuild every index; for a migration that changes what is indexed."""
    db.execute("DROP TABLE IF EXISTS book_fts")
    db.execute("DROP TABLE IF EXISTS search_words")
    create_book_index(db)
    rebuild_index(db)


# -- indexing ---------------------------------------------------------------------------------------


def index_book(
    db: Database,
    book_id: int,
    *,
    new: bool = False,
    chapter_texts: list[tuple[str | None, str]] | None = None,
) -> None:
    """(Re)index one book inside the caller's transaction: never commits. `new` when the caller has just
    inserted the book, so nothing of it can be indexed yet and there is nothing to forget first.

    `chapter_texts`, for a new book only: each chapter's title and text already through `search_text`, in
    position order, as the view would compute them; an importer makes them in the process that reads the
    files, not in the one that writes the catalogue."""
    if not new:
        unindex_book(db, book_id)
    record = _index_book_metadata(db, book_id)
    if record is None:
        return
    base = book_id << CHAPTER_BITS
    if new and chapter_texts is not None:
        keyed = [(base + position, title, body) for position, (title, body) in enumerate(chapter_texts, 1)]
    else:  # the text as the view computes it, once for both indexes
        keyed = [
            (base + position, search_text(title), search_text(text))
            for position, title, text in db.execute(
                "SELECT position, title, text FROM chapters WHERE book_id = ? ORDER BY position", [book_id]
            )
        ]
    db.conn.executemany("INSERT INTO chapter_fts (rowid, title, body) VALUES (?, ?, ?)", keyed)
    if search_pairs.exists(db):
        pairs = search_pairs.pairs_text
        db.conn.executemany(
            f"INSERT INTO {search_pairs.TABLE} (rowid, title, body) VALUES (?, ?, ?)",
            [(key, pairs(title, folded=True), pairs(body, folded=True)) for key, title, body in keyed],
        )
    if search_presence.exists(db):
        words = search_presence.words_text(record, [(title, body) for _, title, body in keyed])
        search_presence.index(db, book_id, words)


def unindex_book(db: Database, book_id: int) -> None:
    """Remove a book from the index; call it BEFORE deleting or changing the book's chapters.

    An external-content FTS5 table can only forget a row by being told the text it indexed; that is read
    back from `chapters`. Which chapters are indexed is read from FTS5's `docsize` table, because asking
    `chapter_fts` itself would list the chapters in `chapters`, indexed or not.
    """
    if search_presence.exists(db):
        search_presence.unindex(db, book_id)  # first: its view reads the record back from book_fts
    db.execute("DELETE FROM book_fts WHERE rowid = ?", [book_id])
    if search_pairs.book_table_exists(db):
        db.execute(f"DELETE FROM {search_pairs.BOOK_TABLE} WHERE rowid = ?", [book_id])
    db.execute(
        f"""INSERT INTO chapter_fts (chapter_fts, rowid, title, body)
            SELECT 'delete', d.id, {SEARCH_TEXT_FUNCTION}(c.title), {SEARCH_TEXT_FUNCTION}(c.text)
            FROM chapters AS c
            JOIN chapter_fts_docsize AS d ON d.id = (c.book_id << {CHAPTER_BITS}) + c.position
            WHERE c.book_id = ?""",
        [book_id],
    )
    if search_pairs.exists(db):
        pairs = search_pairs.PAIRS_FUNCTION
        db.execute(
            f"""INSERT INTO {search_pairs.TABLE} ({search_pairs.TABLE}, rowid, title, body)
                SELECT 'delete', d.id, {pairs}(c.title), {pairs}(c.text)
                FROM chapters AS c
                JOIN {search_pairs.TABLE}_docsize AS d ON d.id = (c.book_id << {CHAPTER_BITS}) + c.position
                WHERE c.book_id = ?""",
            [book_id],
        )


def rebuild_index(db: Database) -> None:
    """Index every book from scratch, inside the caller's transaction (migrations use this)."""
    register_functions(db.conn)
    db.execute("DELETE FROM book_fts")
    db.execute("DELETE FROM search_words")
    if search_pairs.book_table_exists(db):
        db.execute(f"DELETE FROM {search_pairs.BOOK_TABLE}")
    for (book_id,) in db.execute("SELECT id FROM books").fetchall():
        _index_book_metadata(db, book_id)
    db.execute("INSERT INTO chapter_fts (chapter_fts) VALUES ('rebuild')")
    if search_pairs.exists(db):
        db.execute(f"INSERT INTO {search_pairs.TABLE} ({search_pairs.TABLE}) VALUES ('rebuild')")
    if search_presence.exists(db):
        search_presence.rebuild(db)


def _index_book_metadata(db: Database, book_id: int) -> list[str | None] | None:
    """Index the record; returns its columns as indexed (BOOK_COLUMNS order), None for no such book."""
    authors = "; ".join(
        r[0]
        for r in db.execute("SELECT name FROM book_authors WHERE book_id = ? ORDER BY position", [book_id])
    )
    subjects = "; ".join(
        r[0]
        for r in db.execute("SELECT subject FROM book_subjects WHERE book_id = ? ORDER BY subject", [book_id])
    )
    row = db.execute(
        "SELECT title, subtitle, description, publisher FROM books WHERE id = ?", [book_id]
    ).fetchone()
    if row is None:
        return None
    title, subtitle, description, publisher = row
    values = [title, subtitle, authors, subjects, description, publisher]
    record = [*(search_text(v) for v in values), search_chinese.pinyin_keys([title, authors])]
    marks = ", ".join("?" * (len(BOOK_COLUMNS) + 1))
    columns = ", ".join(BOOK_COLUMNS)
    db.execute(f"INSERT INTO book_fts (rowid, {columns}) VALUES ({marks})", [book_id, *record])
    if search_pairs.book_table_exists(db):
        search_pairs.index_record(db, book_id, record)
    words = {w.lower() for w in SUGGEST_WORD.findall(f"{title} {authors}")}
    db.conn.executemany("INSERT OR IGNORE INTO search_words (word) VALUES (?)", [(w,) for w in words])
    return record


def optimize_indexes(db: Database) -> None:
    """Merge each full-text index into one segment (FTS5's 'optimize'), inside the caller's transaction.

    Books added one transaction at a time leave an FTS5 index in many segments (18 in the 150,000-book
    bench catalogue's chapter_fts), and every term a search looks up is looked up in each: after this, a
    chapter lookup took 0.04 ms instead of 0.14 and the mix's search CPU fell by 30%. New books add segments
    again (FTS5 merges them in the background, up to a bound), so it is worth running again after a large
    import; 40 s of CPU at 150,000 books."""
    _optimize(db, (*RECORD_INDEXES, search_pairs.TABLE, "chapter_fts"))


def merge_after(db: Database, changed: int, threshold: int, *, records_only: bool = False) -> bool:
    """After a command that changed `changed` books (an import, a Calibre import, a harvest), the indexes
    merged into one segment each when that is at least `threshold` (the index_merge_records setting):
    every batch of books added segments, and each segment costs every word a search asks one more lookup.
    `records_only`: a harvest writes no chapters. In a transaction of its own, after the books are
    committed: they stand whatever happens here, and FTS5's own background merging keeps searches right,
    only slower. True when merged."""
    if changed < max(1, threshold):
        return False
    try:
        with db.conn:
            (optimize_record_indexes if records_only else optimize_indexes)(db)
    except sqlite3.Error:
        log.exception("could not merge the search indexes")
        return False
    return True


def optimize_record_indexes(db: Database) -> None:
    """`optimize_indexes` for the records' indexes only, which is all a harvest writes: after 1.5 million
    harvested records book_fts was in 15 segments; merged (17 s of CPU for the three), the union bench's
    search mix went from 212 to 261 searches a second (docs/scaling.md)."""
    _optimize(db, RECORD_INDEXES)


def _optimize(db: Database, tables: tuple[str, ...]) -> None:
    for table in tables:
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", [table]).fetchone():
            db.execute(f"INSERT INTO {table} ({table}) VALUES ('optimize')")


def reindex_all(db: Database) -> None:
    """Rebuild the whole index in one transaction: the repair for any drift between text and index."""
    with db.conn:
        rebuild_index(db)


# -- queries ----------------------------------------------------------------------------------------
