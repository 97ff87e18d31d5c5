"""Which words each book holds, anywhere in it: one index row per book, so that "every word somewhere in
the book" is one FTS5 query (issue 12).

Why: a book matches a search when every phrase is somewhere in it, its record or any chapter, not
necessarily in one chapter ("melville whale" finds Moby-Dick). Neither `book_fts` (records) nor
`chapter_fts` (chapters) can answer that alone, so each book found by the rarest phrase was checked for the
others by a lookup of that one book in each index: 30-70 µs a lookup, and a title of five common words
(`Strongly Perhaps During Former Years`) checked thousands of books, half a second at 150,000 books.

`book_words` holds, for each book, the words of its record (as `book_fts` indexes them, pinyin keys
included) and of every chapter, with `detail=none`: no positions and no columns, only which books hold a
word. "Every word somewhere in the book" is then FTS5's own AND over book ids, which skips through the
lists instead of looking books up one by one; a few hundred bytes a book.

- It answers words, not phrases: FTS5 keeps no positions for it, and refuses a phrase of several words
  in such a table. A phrase of several words (a quoted phrase, a run of Chinese characters) is asked as
  its words, all somewhere in the book, which every book holding the phrase passes; the phrase itself is
  then checked in `book_fts` and `chapter_fts` for those books only (search_capped.py).
- A phrase is split into the words FTS5 would make of it only where that is certain: ASCII letters and
  digits, or single Chinese and Japanese characters. Anything else is left whole, to the per-book check.
- Its content is the view `book_words_source`, which reads a book's record back from `book_fts` (pinyin
  keys are made in Python, so they cannot be recomputed in SQL) and its chapters through the search text
  function. FTS5 forgets a row by being told the text it indexed; with `detail=none` only the set of words
  matters, so the text an importer builds in Python (`words_text`) need only hold the same words.
"""

from __future__ import annotations

import re

from sqlite_utils import Database

SEARCH_TEXT_FUNCTION = "accessible_lib_search_text"  # search_index.SEARCH_TEXT_FUNCTION (which imports this)
RECORD_COLUMNS = ("title", "subtitle", "authors", "subjects", "description", "publisher", "pinyin")
_CJK_CHAR = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
_SPLIT = re.compile(r"[\s\u200b!-/:-@\[-`{-~]+")  # spaces, the CJK separator, ASCII punctuation


def create(db: Database, tokenize: str) -> None:
    record = " || ' ' || ".join(f"coalesce(f.{column}, '')" for column in RECORD_COLUMNS)
    text = SEARCH_TEXT_FUNCTION
    chapter = f"coalesce({text}(c.title), '') || ' ' || coalesce({text}(c.text), '')"
    db.execute(
        f"""CREATE VIEW book_words_source AS
            SELECT f.rowid AS id, {record} || char(10) || coalesce(
                (SELECT group_concat({chapter}, char(10)) FROM chapters AS c WHERE c.book_id = f.rowid), ''
            ) AS words
            FROM book_fts AS f"""
    )
    db.execute(
        f"""CREATE VIRTUAL TABLE book_words USING fts5(words, detail = none,
            content = 'book_words_source', content_rowid = 'id', tokenize = '{tokenize}')"""
    )


def exists(db: Database) -> bool:
    """False in a catalogue migrating from before m029_search, whose earlier steps index books."""
    return bool(db.execute("SELECT 1 FROM sqlite_master WHERE name = 'book_words'").fetchone())


def words_text(record: list[str | None], chapters: list[tuple[str | None, str | None]]) -> str:
    """The words of a book as `book_words_source` would give them: `record` as `book_fts` holds it, in
    RECORD_COLUMNS order, and each chapter's title and text already through the search text function."""
    parts = [" ".join(value or "" for value in record)]
    parts.append("\n".join(f"{title or ''} {text or ''}" for title, text in chapters))
    return "\n".join(parts)


def index(db: Database, book_id: int, words: str | None = None) -> None:
    """Add one book, after its `book_fts` row; `words` from `words_text`, or read through the view."""
    if words is None:
        db.execute(
            "INSERT INTO book_words (rowid, words) SELECT id, words FROM book_words_source WHERE id = ?",
            [book_id],
        )
    else:
        db.execute("INSERT INTO book_words (rowid, words) VALUES (?, ?)", [book_id, words])


def unindex(db: Database, book_id: int) -> None:
    """Forget one book, BEFORE its `book_fts` row or its chapters change: the view reads them back."""
    db.execute(
        """INSERT INTO book_words (book_words, rowid, words)
           SELECT 'delete', id, words FROM book_words_source
           WHERE id = ? AND EXISTS (SELECT 1 FROM book_words_docsize WHERE id = ?)""",
        [book_id, book_id],
    )


def rebuild(db: Database) -> None:
    """Index every book afresh from the view; after `book_fts` is complete. (FTS5's own 'rebuild' fails
    with "SQL logic error" on a view that reads another FTS5 table; inserting from it works.)"""
    db.execute("INSERT INTO book_words (book_words) VALUES ('delete-all')")
    db.execute("INSERT INTO book_words (rowid, words) SELECT id, words FROM book_words_source")


def phrase_words(phrase: str) -> list[str] | None:
    """The words FTS5 makes of `phrase` (as `search.parse_query` writes it: quoted, `*` after a beginning),
    as `book_words` terms; None where that is not certain, or for a beginning of several words."""
    prefix = phrase.endswith(" *")
    text = phrase[:-2] if prefix else phrase
    pieces = [p for p in _SPLIT.split(text[1:-1].replace('""', '"')) if p]
    if not pieces or not all(_one_token(piece) for piece in pieces):
        return None
    if prefix:
        return [f'"{pieces[0]}" *'] if len(pieces) == 1 and pieces[0].isascii() else None
    return [f'"{piece}"' for piece in pieces]


def _one_token(piece: str) -> bool:
    if piece.isascii():
        return piece.isalnum()
    return len(piece) == 1 and piece.isalnum() and bool(_CJK_CHAR.match(piece))


def match_all(phrases: list[str]) -> tuple[str | None, list[int]]:
    """The `book_words` query every book holding all `phrases` matches, and the indexes of the phrases
    that query does not prove (phrases of several words, phrases it cannot split); (None, all) when it can
    ask nothing."""
    terms: dict[str, None] = {}
    unproven = []
    for i, phrase in enumerate(phrases):
        words = phrase_words(phrase)
        if words is None or len(words) > 1:
            unproven.append(i)
        terms.update(dict.fromkeys(words or []))
    if not terms:
        return None, unproven
    return " AND ".join(terms), unproven
