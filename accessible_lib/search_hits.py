"""What the results page shows of each hit of one page: title, authors, a chapter to read and a snippet.

Why it is done this way (issue 12: about half of a search's time at 150,000 books went here):

- Titles and authors of the whole page in two statements, not two per hit.
- Which chapter to link to, for a book found by its record or by words spread over its chapters: the
  first chapter holding every phrase, else the first holding any. Asking FTS5 for "every phrase, within
  this book's rowids" costs a scan to the next chapter anywhere that holds them when this book has none:
  FTS5 checks the rowid bounds only after it has found a match, so for a rare phrase of common Chinese
  characters one such lookup read hundreds of thousands of rows, 20 ms, once per hit. So the page's books
  are taken in id order and each lookup asks for the first match at or after the book: where it lands
  past a book, the books before it have none, and no stretch of the index is read twice.
- A beginning (`creat*`) costs FTS5 a merge of every word it begins, in every statement that uses it:
  one statement finds the chapters of all hits and one makes their snippets, instead of three per hit.
- `snippet()` reads the chapter through the search text function; no bm25 anywhere (its IDF costs a
  pass over every match of every phrase, per call).
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass

from markupsafe import Markup, escape
from sqlite_utils import Database

from . import search_chinese
from .book_names import authors_for, record_texts

CHAPTER_BITS = 20  # search_index.CHAPTER_BITS (search_index.py imports this module)
SEPARATOR = "\u200b"
MARK_OPEN, MARK_CLOSE = "\x02", "\x03"  # snippet markers; removed from indexed text so they stay unique
ELLIPSIS = "\x04"  # snippet() ellipsis marker: the text itself may hold "…" (Chinese uses "……")
_SPACES = re.compile(r"\s+")
_MARKERS = re.compile(f"[{MARK_OPEN}{MARK_CLOSE}{ELLIPSIS}]")
MAX_MARKED = 200  # occurrences of the phrases looked for in one chapter
PAIRS_TABLE = "chapter_pairs"  # search_pairs.TABLE (search.py imports this module)


@dataclass
class Hit:
    book_id: int
    title: str
    authors: list[str]
    language: str | None
    snippet: Markup  # escaped text with <mark> around the matches
    chapter_position: int | None  # where to read the match; None when only the metadata matched
    chapter_title: str | None


def key_range(book_id: int) -> tuple[int, int]:
    low = book_id << CHAPTER_BITS
    return low, low + (1 << CHAPTER_BITS) - 1


def describe(db: Database, query, ranked: list[tuple[int, int | None]], *, cjk: bool) -> list[Hit]:
    """The hits of one page, in `ranked` order ((book id, chapter key or None), best first). `query` is
    search_query.Query: its phrases, the FTS5 queries and the statuses whose text must not be quoted."""
    if not ranked:
        return []
    ids = [book_id for book_id, _ in ranked]
    marks = ",".join("?" * len(ids))
    rows = db.execute(f"SELECT id, title, language, rights_status FROM books WHERE id IN ({marks})", ids)
    books = {row[0]: row[1:] for row in rows}
    authors = authors_for(db, ids)
    hidden = {book_id for book_id in ids if books[book_id][2] in query.text_hidden}  # record only
    keys = {book_id: None if book_id in hidden else key for book_id, key in ranked}
    for book_id in ids:
        if keys[book_id] is None and book_id not in hidden:
            keys[book_id] = query.known_chapters.get(book_id)
    keys.update(first_chapters(db, query, [b for b in ids if keys[b] is None and b not in hidden]))
    tokens = 48 if cjk else 24  # a token is one character of Chinese but a whole English word
    markers = (MARK_OPEN, MARK_CLOSE, ELLIPSIS, tokens)
    pairs = query.chapter_table == PAIRS_TABLE  # Chinese phrases: snippets cut here, from the text
    chapter_keys = {b: k for b, k in keys.items() if k is not None}
    snippets = {} if pairs else _chapter_snippets(db, query, chapter_keys, markers)
    phrases = [phrase[1:-1].replace(SEPARATOR, "").replace('""', '"') for phrase in query.phrases]
    texts = record_texts(db, [b for b in ids if keys[b] is None], authors)  # for search_chinese.unfold
    cut = {b: _record_snippet(t, phrases, tokens + tokens // 4) for b, t in texts.items()} if pairs else {}
    records = _record_snippets(db, query, {b: t for b, t in texts.items() if cut.get(b) is None}, markers)
    titles = {} if pairs else _chapter_titles(db, list(chapter_keys.values()))
    hits = []
    for book_id in ids:
        title, language, _ = books[book_id]
        chapter_key = keys[book_id]
        chapter_position = chapter_title = None
        if chapter_key is not None:
            chapter_position = chapter_key & ((1 << CHAPTER_BITS) - 1)
            # The chapter's text only where it is used: read whole, it is most of the row (overflow pages)
            # and a string made in Python, for every English hit that needed only the title (`titles`).
            where = "WHERE book_id = ? AND position = ?"
            at = [book_id, chapter_position]
            if pairs:  # cut from the text as written: in the book's own script already
                row = db.execute(f"SELECT title, text FROM chapters {where}", at).fetchone()
                chapter_title = row[0] if row else None
                shown = phrase_snippet(row[1] if row else "", phrases, tokens + tokens // 4)
            else:
                chapter_title = titles.get(chapter_key)
                shown = snippets.get(chapter_key, "")
                if search_chinese.may_be_folded(shown):  # the index holds Simplified: show the book's script
                    text = db.execute(f"SELECT text FROM chapters {where}", at)
                    shown = search_chinese.unfold(shown, [(text.fetchone() or [None])[0]]) or shown
        else:
            shown = cut.get(book_id)
            if shown is None:
                # None when the best snippet is the pinyin column, which is no text of the book: show none.
                raw = records.get(book_id) or ""
                if search_chinese.may_be_folded(raw):
                    shown = search_chinese.unfold(raw, texts[book_id]) or ""
                else:  # nothing to put back in the book's script, so no pattern to build (0.25 ms a hit)
                    shown = raw if _of_record(raw, texts[book_id]) else ""
        snippet = snippet_markup(shown)
        hits.append(Hit(book_id, title, authors[book_id], language, snippet, chapter_position, chapter_title))
    return hits


def phrase_snippet(text: str | None, phrases: list[str], length: int) -> str:
    """About `length` characters of `text` around the first of `phrases` (folded Chinese, as the pairs index
    matches them: the characters side by side), each phrase in it marked, in the text's own script.

    For a search of Chinese phrases only (search_pairs.py), instead of FTS5's snippet(): that one reads the
    chapter through the search text function and the position lists of every character of the phrase, half
    a millisecond a hit, and would mark the characters across punctuation too, where the pairs do not match.
    """
    text = _MARKERS.sub("", text or "")
    live = [phrase for phrase in phrases if phrase]
    longest = max((len(phrase) for phrase in live), default=0)
    # Folded only as far as the snippet reaches, a piece at a time: folding a whole chapter (tens of
    # thousands of characters, a dictionary lookup each) was most of a Chinese hit's time, and the first
    # match is usually near the start. An occurrence of another phrase may start before a match found in
    # the first pieces and end past them, so the folding goes on one phrase's length further before
    # taking the first.
    folded = _fold_until(text, "", lambda done: any(phrase in done for phrase in live))
    folded = _fold_until(text, folded, lambda done: True, max(1, longest))
    starts = [at for at in (folded.find(phrase) for phrase in live) if at >= 0]
    first = min(starts) if starts else 0
    end = min(len(text), max(0, first - length // 4) + length)
    start = max(0, end - length)
    folded = _fold_until(text, folded, lambda done: len(done) >= end)
    spans = []
    for phrase in live:
        at = folded.find(phrase, start)
        while 0 <= at and at + len(phrase) <= end and len(spans) < MAX_MARKED:
            spans.append((at, at + len(phrase)))
            at = folded.find(phrase, at + len(phrase))
    spans.sort()
    parts = [ELLIPSIS] if start else []
    at = start
    for begin, finish in spans:
        if begin >= at and finish <= end:
            parts += [text[at:begin], MARK_OPEN, text[begin:finish], MARK_CLOSE]
            at = finish
    parts.append(text[at:end])
    if end < len(text):
        parts.append(ELLIPSIS)
    return "".join(parts)


FOLD_PIECE = 2048  # characters of a chapter folded at a time by `phrase_snippet`


def _fold_until(text: str, folded: str, enough, more: int = FOLD_PIECE) -> str:
    """`folded` (the folded beginning of `text`) taken on by pieces of `more` characters until `enough` of
    it, or all of `text`."""
    while len(folded) < len(text):
        folded += search_chinese.fold(text[len(folded) : len(folded) + more])
        if enough(folded):
            break
    return folded


def first_chapters(db: Database, query, book_ids: list[int]) -> dict[int, int]:
    """For each book, the key of its first chapter holding every phrase, else of its first holding any;
    books with neither are left out."""
    found: dict[int, int] = {}
    wanted = sorted(book_ids)
    table = query.chapter_table  # chapter_fts, or chapter_pairs for Chinese phrases (search_pairs.py)
    for match in dict.fromkeys(query.chapter_match[m] for m in ("all", "any")):  # one phrase: both the same
        if not wanted:
            break
        if query.prefixed:
            found.update(_first_in_one_pass(db, table, match, wanted))
        else:
            found.update(_first_in_turn(db, table, match, wanted))
        wanted = [book_id for book_id in wanted if book_id not in found]
    return found


def _first_in_turn(db: Database, table: str, match: str, book_ids: list[int]) -> dict[int, int]:
    """The first match at or after each book's first chapter, the books in id order: a match past a book
    says that every book before it holds none, so no stretch of the index is read twice."""
    found = {}
    i = 0
    while i < len(book_ids):
        row = db.execute(
            f"SELECT rowid FROM {table} WHERE {table} MATCH ? AND rowid >= ? LIMIT 1",
            [match, book_ids[i] << CHAPTER_BITS],
        ).fetchone()
        if row is None:
            break
        book_id = row[0] >> CHAPTER_BITS
        while i < len(book_ids) and book_ids[i] < book_id:
            i += 1
        if i < len(book_ids) and book_ids[i] == book_id:
            found[book_id] = row[0]
            i += 1
    return found


def _first_in_one_pass(db: Database, table: str, match: str, book_ids: list[int]) -> dict[int, int]:
    low, high = key_range(book_ids[0])[0], key_range(book_ids[-1])[1]
    wanted = set(book_ids)
    found: dict[int, int] = {}
    sql = f"SELECT rowid FROM {table} WHERE {table} MATCH ? AND rowid BETWEEN ? AND ?"
    rows = db.execute(sql, [match, low, high])
    for (key,) in rows:
        book_id = key >> CHAPTER_BITS
        if book_id in wanted and book_id not in found:
            found[book_id] = key
    return found


def _chapter_titles(db: Database, keys: list[int]) -> dict[int, str | None]:
    """Chapter key -> the chapter's title, for a page's hits in one statement rather than one each."""
    if not keys:
        return {}
    rows = db.execute(
        f"""SELECT (c.book_id << {CHAPTER_BITS}) + c.position, c.title
            FROM json_each(?) AS k JOIN chapters AS c
            ON c.book_id = k.value >> {CHAPTER_BITS} AND c.position = k.value & {(1 << CHAPTER_BITS) - 1}""",
        [json.dumps(keys)],
    )
    return dict(rows.fetchall())


def _chapter_snippets(db: Database, query, keys: dict[int, int], markers: tuple) -> dict[int, str]:
    """Chapter key -> FTS5's snippet of the chapter's text, with markers."""
    if not keys:
        return {}
    select = "SELECT rowid, snippet(chapter_fts, 1, ?, ?, ?, ?) FROM chapter_fts WHERE chapter_fts MATCH ?"
    if query.prefixed:  # one merge of the beginning's words; `+ 0` keeps SQLite from asking FTS5 per key
        wanted = sorted(keys.values())
        rows = db.execute(
            f"{select} AND rowid BETWEEN ? AND ? AND rowid + 0 IN (SELECT value FROM json_each(?))",
            [*markers, query.text_match["any"], wanted[0], wanted[-1], json.dumps(wanted)],
        )
        return dict(rows.fetchall())
    snippets = {}
    for key in keys.values():
        row = db.execute(f"{select} AND rowid = ?", [*markers, query.text_match["any"], key]).fetchone()
        snippets[key] = row[1] if row else ""
    return snippets


def _record_snippet(texts: list[str | None], phrases: list[str], length: int) -> str | None:
    """`phrase_snippet` of the first part of the record (title, subtitle, authors...) holding a phrase; None
    when none holds one as the characters side by side (then FTS5's snippet of the record is shown)."""
    for text in texts:
        if text and any(phrase and phrase in search_chinese.fold(text) for phrase in phrases):
            return phrase_snippet(text, phrases, length)
    return None


def _record_snippets(
    db: Database, query, texts: dict[int, list[str | None]], markers: tuple
) -> dict[int, str]:
    """Book id -> FTS5's snippet of its record (`book_fts`), with markers, for the hits found by their
    record only (`texts`: each one's record as written): every hit of a harvested record, which has no
    chapters. One statement a hit, the book's rowid given, is cheap for words; but for a beginning
    (`res*`) FTS5 merges every word it begins, over the whole index, in each statement: 25 ms at 170,000
    records, 35 at 300,000, so a page of twenty took most of a second. So a beginning of one word is
    asked as the words of that record it matches (`_begun`); a record where none is found (or a
    beginning of several words) is asked with the beginning itself, once for all of them."""
    if not texts:
        return {}
    select = "SELECT rowid, snippet(book_fts, -1, ?, ?, ?, ?) FROM book_fts WHERE book_fts MATCH ?"
    match = query.params["any"]
    beginnings = [p for p in query.phrases if p.endswith(" *")]
    simple = len(beginnings) == len([p for p in beginnings if _ONE_WORD.fullmatch(p[1:-3])])
    begun = _begun(texts, beginnings) if beginnings and simple else {}
    snippets: dict[int, str] = {}
    left = []
    for book_id, record in texts.items():
        asked = match
        if beginnings:
            held = _words(record)
            words = {
                phrase: [w for w in begun.get(phrase, ()) if w in held][:MAX_BEGUN] for phrase in beginnings
            }
            if not all(words.values()):
                left.append(book_id)
                continue
            for phrase, found in words.items():
                asked = asked.replace(phrase, "(" + " OR ".join(f'"{w}"' for w in found) + ")")
        row = db.execute(f"{select} AND rowid = ?", [*markers, asked, book_id]).fetchone()
        if row:
            snippets[book_id] = row[1]
    if left:  # the beginning itself, merged once for all these books
        wanted = sorted(left)
        rows = db.execute(
            f"{select} AND rowid BETWEEN ? AND ? AND rowid + 0 IN (SELECT value FROM json_each(?))",
            [*markers, match, wanted[0], wanted[-1], json.dumps(wanted)],
        )
        snippets.update(rows.fetchall())
    return snippets


_ONE_WORD = re.compile("[A-Za-z0-9]+")  # a beginning as search.parse_query writes it, of one ASCII word
_WORDS = re.compile(r"[^\W_]+")
MAX_BEGUN = 30  # words of one record asked for a beginning, at most


def _words(record: list[str | None]) -> set[str]:
    return {word.lower() for text in record for word in _WORDS.findall(text or "")}


def _begun(texts: dict[int, list[str | None]], beginnings: list[str]) -> dict[str, list[str]]:
    """Each beginning (an FTS5 phrase `"res" *`) -> the words of these records it matches, as FTS5 itself
    matches them: the porter stemmer stems the beginning too (`res*` is `re*`), so the words are put in
    a small FTS5 table of the index's own tokenizer, in memory, and the beginning asked there."""
    from .search_index import TOKENIZE  # search_index.py imports this module

    listed = sorted(set().union(*(_words(record) for record in texts.values())))
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(f"CREATE VIRTUAL TABLE w USING fts5(word, tokenize = '{TOKENIZE}')")
        conn.executemany("INSERT INTO w (rowid, word) VALUES (?, ?)", enumerate(listed))
        return {
            phrase: [listed[i] for (i,) in conn.execute("SELECT rowid FROM w WHERE w MATCH ?", [phrase])]
            for phrase in beginnings
        }
    finally:
        conn.close()


def _of_record(shown: str, record: list[str | None]) -> bool:
    """Whether a snippet with no folded character is text of the record as written, as `unfold` finds
    out: not when it came from the pinyin column."""
    plain = "".join(c for c in shown if c not in search_chinese.INVISIBLE)
    return not plain or any(plain in text for text in record if text)


def snippet_markup(raw: str | None) -> Markup:
    """FTS5's snippet as safe HTML: text escaped, markers made <mark>, CJK separators removed."""
    text = _SPACES.sub(" ", (raw or "").replace(SEPARATOR, "")).strip()
    html = str(escape(text)).replace(MARK_OPEN, "<mark>").replace(MARK_CLOSE, "</mark>")
    return Markup(html.replace(ELLIPSIS, "…"))
