"""Chinese phrases through an index of character pairs (issue 12: a Chinese phrase of common characters was
the costliest search at 150,000 books).

Why: `chapter_fts` makes each Chinese character a token of its own (search.py), so a phrase such as 取出 is
the FTS5 phrase "取 出": FTS5 reads the position lists of 取 and of 出, two of the commonest characters,
over every chapter holding both, to find the chapters where they stand side by side. That cost 10-20 ms a
pass at 150,000 books, and a search needs several passes (which books, which chapter to link to, ranking).

`chapter_pairs` indexes each run of Chinese (and Japanese kana) characters as its overlapping pairs: 红楼梦
is the two tokens 红楼 and 楼梦. A phrase of two characters is then one token, its list only the chapters
that hold the pair; a longer phrase is the FTS5 phrase of its pairs ("红楼 楼梦"), whose lists are short.
Single characters stay in `chapter_fts` (a pair index cannot find a character that ends a run), and so do
snippets (their highlighting needs the characters as tokens) and everything that is not purely Chinese.

- A run ends at anything that is not a Chinese character: punctuation, a space, a line break, a letter.
  Between runs the text holds the token `0` (BREAK), so a phrase never continues from one run into the next:
  甲乙，乙丙 does not hold the phrase 甲乙丙. (`chapter_fts` still matches a phrase across punctuation; a
  Chinese phrase found through pairs no longer does, which is what a reader means.)
- Text is folded (Traditional to Simplified) as in `chapter_fts`, so both scripts meet here too.
- Like `chapter_fts`, the table is external content over a view of `chapters` (`chapter_pairs_source`,
  through the SQL function PAIRS_FUNCTION), with the same rowids (`book_id << 20 | position`): the text is
  stored once, and forgetting a chapter reads its text back through the view.
- Records have their pairs too (`book_pairs`, migration m032_search, rowid = book id, the columns of
  `book_fts` but pinyin): finding which books' records hold a common phrase (红楼, 之为) read the positions
  of both characters over `book_fts`, 1-2 ms a pass and up to three passes a search, the largest cost
  left of a Chinese search once chapters had pairs. It keeps its own copy of the pairs,
  written beside the `book_fts` row (search.py); a record without Chinese (most harvested ones) has no row.
"""

from __future__ import annotations

import re

from sqlite_utils import Database

from . import search_chinese

PAIRS_FUNCTION = "accessible_lib_search_pairs"
TABLE = "chapter_pairs"
BOOK_TABLE = "book_pairs"
BOOK_COLUMNS = ("title", "subtitle", "authors", "subjects", "description", "publisher")  # book_fts' first six
BREAK = "0"  # between runs: only pairs are ever asked of this table, so no query meets it
_CJK = search_chinese.CJK
_RUN = re.compile(f"[{_CJK}]{{2,}}")
_NOT_LETTER = re.compile(r"[\W_]+")  # the CJK blocks hold a few punctuation marks (・): they end a run


def pairs_text(text: str | None, *, folded: bool = False) -> str | None:
    """The pairs of every run of two Chinese characters or more, runs parted by BREAK; `folded` when `text`
    already went through `search.search_text` (the importer's chapter texts: folded, with separators)."""
    if text is None:
        return None
    if text.isascii():
        return ""
    if not folded:
        text = search_chinese.fold(text)
    runs = []
    for run in _RUN.findall(text.replace("\u200b", "")):
        for part in [run] if run.isalnum() else _NOT_LETTER.split(run):
            if len(part) > 1:
                runs.append(" ".join(part[i : i + 2] for i in range(len(part) - 1)))
    return f" {BREAK} ".join(runs)


def create(db: Database, key: str) -> None:
    """The view and the table; `key` is the chapter rowid expression (search.create_search_tables)."""
    db.execute(
        f"""CREATE VIEW chapter_pairs_source AS
            SELECT {key} AS search_key, {PAIRS_FUNCTION}(title) AS title, {PAIRS_FUNCTION}(text) AS body
            FROM chapters"""
    )
    db.execute(
        f"""CREATE VIRTUAL TABLE {TABLE} USING fts5(title, body,
            content = 'chapter_pairs_source', content_rowid = 'search_key', tokenize = 'unicode61')"""
    )


def exists(db: Database) -> bool:
    """False in a catalogue migrating from before m030_zh_pairs, whose earlier steps index books."""
    return bool(db.execute(f"SELECT 1 FROM sqlite_master WHERE name = '{TABLE}'").fetchone())


def phrase(query_phrase: str) -> str | None:
    """The pairs query for one of `search.parse_query`'s phrases (`"红\u200b楼\u200b梦"` -> `"红楼 楼梦"`),
    or None unless it is two Chinese characters or more and nothing else."""
    if query_phrase.endswith(" *"):
        return None
    inner = query_phrase[1:-1].replace("\u200b", "")
    if len(inner) < 2 or not inner.isalnum() or not _RUN.fullmatch(inner):
        return None
    return '"' + " ".join(inner[i : i + 2] for i in range(len(inner) - 1)) + '"'


def create_book_table(db: Database) -> None:
    db.execute(
        f"CREATE VIRTUAL TABLE {BOOK_TABLE} USING fts5({', '.join(BOOK_COLUMNS)}, tokenize = 'unicode61')"
    )


def book_table_exists(db: Database) -> bool:
    """False in a catalogue migrating from before m032_search, whose earlier steps index books."""
    return bool(db.execute(f"SELECT 1 FROM sqlite_master WHERE name = '{BOOK_TABLE}'").fetchone())


def index_record(db: Database, book_id: int, record: list[str | None]) -> None:
    """Add one record; `record` as `book_fts` holds it (through `search.search_text`, BOOK_COLUMNS first).
    A record without two Chinese characters side by side gets no row: harvested records are mostly
    English, and each row costs the harvest an FTS5 insert."""
    index_records(db, [(book_id, record)])


def index_records(db: Database, records: list[tuple[int, list[str | None]]]) -> None:
    """Add several records at once, (book id, record as for `index_record`): one `executemany`, for the
    harvest's batches (harvest/batch.py)."""
    rows = []
    for book_id, record in records:
        pairs = [pairs_text(value, folded=True) for value in record[: len(BOOK_COLUMNS)]]
        if any(pairs):  # no Chinese phrase to find (an English record): no row, nothing to write or forget
            rows.append((book_id, *pairs))
    if rows:
        marks = ", ".join("?" * (len(BOOK_COLUMNS) + 1))
        db.conn.executemany(
            f"INSERT INTO {BOOK_TABLE} (rowid, {', '.join(BOOK_COLUMNS)}) VALUES ({marks})", rows
        )


def rebuild_records(db: Database) -> None:
    """Every record's pairs afresh, from `book_fts` (which holds them folded already)."""
    db.execute(f"DELETE FROM {BOOK_TABLE}")
    columns = ", ".join(BOOK_COLUMNS)
    for row in db.execute(f"SELECT rowid, {columns} FROM book_fts").fetchall():
        index_record(db, row[0], list(row[1:]))
